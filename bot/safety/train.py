"""Trains the learned crisis layer from the corpus: `python -m bot.safety.train` (run by make).

Thresholds come from family-grouped 5-fold cross-validation on the training families (the frozen
split is never read here): `refer` is the lowest score at which at most 1% of the hard negatives
are referred by the learned layer, `check_in` the lowest at which at most 3% are.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from bot.encoder import get_encoder
from bot.paths import REPO_ROOT
from bot.safety.classifier import CLASSIFIER_FILE, KINDS, READING_VERSION, CrisisClassifier, UnitNetwork, encode_messages, message_units
from bot.safety.corpus import Example, build_corpus, frame_sentences
from bot.safety.lexical import LexicalModel

CACHE_FILE = REPO_ROOT / ".cache" / "crisis_embeddings.npz"
# Cache keys name how a vector was read: a new way of reading a message gets new keys.
WHOLE_KEY = f"whole:{READING_VERSION}"
UNITS_KEY = f"units:{READING_VERSION}"
FILL_BATCH = 256  # texts encoded together when the cache is filled
FOLDS = 5
REFER_FALSE_ALARMS = 0.01
CHECK_IN_FALSE_ALARMS = 0.03
SAME_NEGATIVE = 0.99  # negatives at least this similar to one kept already are left out (distinct_rows)


class EmbeddingCache:
    """Vectors by text, kept on disk between training runs (a cache, never data): a text's
    sentence vector, and the vectors of its units as the running assistant reads them."""

    def __init__(self, path: Path = CACHE_FILE) -> None:
        self.path = path
        self.arrays: dict[str, np.ndarray] = {}
        if path.is_file():
            data = np.load(path)
            bounds, vectors = data["bounds"], data["vectors"]  # each read of an npz entry loads it anew
            self.arrays = {str(key): vectors[bounds[i] : bounds[i + 1]] for i, key in enumerate(data["keys"])}
        self.changed = False

    @staticmethod
    def _key(kind: str, text: str) -> str:
        return hashlib.sha256(f"{kind}:{text}".encode()).hexdigest()

    def fill(self, texts: list[str]) -> None:
        """Reads every text not kept yet, in batches: one encoding gives both its whole-message
        vector and its units' vectors."""
        missing = list(
            dict.fromkeys(t for t in texts if self._key(UNITS_KEY, t) not in self.arrays or self._key(WHOLE_KEY, t) not in self.arrays)
        )
        for start in range(0, len(missing), FILL_BATCH):
            batch = missing[start : start + FILL_BATCH]
            for text, encoded in zip(batch, encode_messages(get_encoder(), batch)):
                self.arrays[self._key(WHOLE_KEY, text)] = encoded.sentence_vector()[None, :]
                self.arrays[self._key(UNITS_KEY, text)] = encoded.unit_vectors()
            self.changed = True

    def encode(self, texts: list[str]) -> np.ndarray:
        """Whole-message vectors as the running assistant reads them, one row per text."""
        self.fill(texts)
        return np.vstack([self.arrays[self._key(WHOLE_KEY, t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def units(self, text: str) -> np.ndarray:
        """The vectors of a message's units (bot/safety/classifier.py: EncodedMessage.unit_vectors)."""
        self.fill([text])
        return self.arrays[self._key(UNITS_KEY, text)]

    def save(self) -> None:
        if self.changed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self.arrays)
            sizes = [len(self.arrays[k]) for k in keys]
            np.savez(
                self.path,
                keys=np.array(keys),
                bounds=np.concatenate([[0], np.cumsum(sizes)]),
                vectors=np.vstack([self.arrays[k] for k in keys]).astype(np.float32),
            )


def distinct_rows(vectors: np.ndarray, same: float = SAME_NEGATIVE, block: int = 1024) -> np.ndarray:
    """Each vector once, near-copies dropped (a one-sentence text's unit is also its whole, a
    clause that is nearly its whole sentence reads the same): a repeated negative would count
    twice among a unit's nearest, and every row costs reading time per message. Greedy, in
    order: a row is kept unless a kept row is at least `same` similar to it."""
    kept: list[np.ndarray] = []
    for start in range(0, len(vectors), block):
        rows = vectors[start : start + block]
        if kept:
            rows = rows[(rows @ np.vstack(kept).T).max(axis=1) < same]
        inside = rows @ rows.T
        chosen: list[int] = []
        for index in range(len(rows)):
            if not chosen or inside[index, chosen].max() < same:
                chosen.append(index)
        kept.append(rows[chosen])
    return np.vstack(kept) if kept else vectors[:0]


NETWORK_HIDDEN = 256
NETWORK_ALPHA = 0.01  # L2 penalty
NETWORK_EPOCHS = 60  # a fixed number of passes, as in the cross-validation that chose them


def fit_network(disclosures: np.ndarray, negatives: np.ndarray) -> UnitNetwork:
    """A one-hidden-layer network of disclosure against negative vectors (the disclosures
    repeated to balance the classes; seeded, so a training run is repeatable)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    repeats = max(1, round(len(negatives) / max(len(disclosures), 1)))
    features = np.vstack([negatives] + [disclosures] * repeats)
    labels = np.r_[np.zeros(len(negatives)), np.ones(len(disclosures) * repeats)]
    model = MLPClassifier(hidden_layer_sizes=(NETWORK_HIDDEN,), alpha=NETWORK_ALPHA, max_iter=NETWORK_EPOCHS, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # stopping after NETWORK_EPOCHS is the choice
        model.fit(features, labels)
    (hidden, output), (hidden_bias, output_bias) = model.coefs_, model.intercepts_
    return UnitNetwork(hidden.astype(np.float32), hidden_bias.astype(np.float32), output[:, 0].astype(np.float32), float(output_bias[0]))


def classifier_from(
    examples: list[Example], extra_negatives: list[str], cache: EmbeddingCache, refer: float = 0.0, check_in: float = 0.0
) -> CrisisClassifier:
    """The labelled vectors: every disclosure as a whole (a one-sentence one reads the same
    inside a story, each sentence being encoded alone); every unit of every hard negative and of
    every story frame, and each of them as a whole. A disclosure's own clauses are not
    labelled: some of them are ordinary. A small network is fitted on the same vectors, and the
    surface-word model (bot/safety/lexical.py) on the same units' texts."""
    disclosures = [e for e in examples if e.is_crisis and not e.long]
    negative_texts = list(dict.fromkeys([e.text for e in examples if not e.is_crisis] + extra_negatives))
    cache.fill(negative_texts + [e.text for e in disclosures])
    negatives = distinct_rows(np.vstack([cache.units(t) for t in negative_texts] + [cache.encode(negative_texts)]))
    vectors = cache.encode([e.text for e in disclosures])
    negative_units = list(dict.fromkeys(negative_texts + [unit for t in negative_texts for unit in message_units(t)]))
    lexical = LexicalModel.fit([e.text for e in disclosures], negative_units)
    return CrisisClassifier(
        disclosures=vectors,
        disclosure_kinds=np.array([[kind in e.kinds for kind in KINDS] for e in disclosures]),
        disclosure_other=np.array([e.about == "other" for e in disclosures]),
        disclosure_child=np.array([e.child for e in disclosures]),
        negatives=negatives,
        network=fit_network(vectors, negatives),
        lexical=lexical,
        refer_threshold=refer,
        check_in_threshold=check_in,
    )


def read_examples(classifier: CrisisClassifier, examples: list[Example], cache: EmbeddingCache) -> list:
    """The classifier's reading of each example, as the running assistant reads a message."""
    cache.fill([e.text for e in examples])
    return [classifier.read(cache.units(e.text), message_units(e.text)) for e in examples]


def fold_of(family: str) -> int:
    return int(hashlib.sha256(("fold:" + family).encode()).hexdigest(), 16) % FOLDS


def cross_validated_readings(examples: list[Example], extra_negatives: list[str], cache: EmbeddingCache) -> list:
    """Family-grouped 5-fold readings: each example read by a model that never saw its family."""
    readings: list = [None] * len(examples)
    for fold in range(FOLDS):
        train = [e for e in examples if fold_of(e.family) != fold]
        test_index = [i for i, e in enumerate(examples) if fold_of(e.family) == fold]
        model = classifier_from(train, extra_negatives, cache)
        for i, reading in zip(test_index, read_examples(model, [examples[i] for i in test_index], cache)):
            readings[i] = reading
    return readings


def threshold_for(negative_scores: np.ndarray, allowed_share: float) -> float:
    """The lowest threshold (to 0.005) at which at most `allowed_share` of negatives reach it."""
    for threshold in np.arange(-0.2, 0.5, 0.005):
        if np.mean(negative_scores >= threshold) <= allowed_share:
            return round(float(threshold), 3)
    return 0.5


def train(out: Path = CLASSIFIER_FILE) -> CrisisClassifier:
    corpus = build_corpus()
    cache = EmbeddingCache()
    extra = frame_sentences(corpus.training_frames)
    readings = cross_validated_readings(corpus.training, extra, cache)
    negatives = np.array([r.score for r, e in zip(readings, corpus.training) if not e.is_crisis])
    refer = threshold_for(negatives, REFER_FALSE_ALARMS)
    check_in = min(refer, threshold_for(negatives, CHECK_IN_FALSE_ALARMS))
    classifier = classifier_from(corpus.training, extra, cache, refer, check_in)
    classifier.save(out)
    cache.save()
    print(
        f"crisis classifier: {len(classifier.disclosures)} disclosures, {len(classifier.negatives)} negative units; "
        f"refer >= {refer}, check in >= {check_in} -> {out}"
    )
    return classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CLASSIFIER_FILE)
    train(parser.parse_args().out)


if __name__ == "__main__":
    main()
