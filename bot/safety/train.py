"""Trains the learned crisis layer from the corpus: `python -m bot.safety.train` (run by make).

Training units: every example as a whole (labelled), the sentences of every hard negative and
every story frame (not a crisis). A single-sentence disclosure is its own unit; a longer one is
labelled only as a whole, because its other sentences may be ordinary.

Thresholds come from family-grouped 5-fold cross-validation on the training families (the frozen
split is never read here): `refer` is the lowest threshold at which at most 1% of hard negatives
score above it, `check_in` the lowest at which at most 4% do. Each is rounded to 0.01.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.encoder import get_encoder
from bot.paths import REPO_ROOT
from bot.safety.classifier import CLASSIFIER_FILE, KINDS, CrisisClassifier, message_units
from bot.safety.corpus import Example, build_corpus, frame_sentences

CACHE_FILE = REPO_ROOT / ".cache" / "crisis_embeddings.npz"
FOLDS = 5
REFER_FALSE_ALARMS = 0.01
CHECK_IN_FALSE_ALARMS = 0.04
REGULARISATION_C = 4.0


class EmbeddingCache:
    """Sentence vectors by text, kept on disk between training runs (a cache, never data)."""

    def __init__(self, path: Path = CACHE_FILE) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.is_file():
            data = np.load(path)
            self.vectors = dict(zip((str(k) for k in data["keys"]), data["vectors"]))
        self.changed = False

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if self._key(t) not in self.vectors))
        if missing:
            for text, vector in zip(missing, get_encoder().encode(missing)):
                self.vectors[self._key(text)] = vector
            self.changed = True
        return np.stack([self.vectors[self._key(t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        if self.changed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self.vectors)
            np.savez(self.path, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))


@dataclass
class Units:
    texts: list[str]
    crisis: np.ndarray
    kinds: list[tuple[str, ...]]
    other: np.ndarray
    child: np.ndarray


def training_units(examples: list[Example], extra_negatives: list[str]) -> Units:
    texts: list[str] = []
    labels: list[tuple[bool, tuple[str, ...], bool, bool]] = []
    for example in examples:
        whole = " ".join(example.text.split())
        texts.append(whole)
        labels.append((example.is_crisis, example.kinds, example.about == "other", example.child))
        if not example.is_crisis and not example.long:
            for unit in message_units(example.text)[:-1]:
                texts.append(unit)
                labels.append((False, (), False, False))
    for sentence in extra_negatives:
        texts.append(" ".join(sentence.split()))
        labels.append((False, (), False, False))
    return Units(
        texts=texts,
        crisis=np.array([label[0] for label in labels]),
        kinds=[label[1] for label in labels],
        other=np.array([label[2] for label in labels]),
        child=np.array([label[3] for label in labels]),
    )


def _binary(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    if y.all() or not y.any():
        return np.zeros(x.shape[1], np.float32), (10.0 if y.all() else -10.0)
    model = LogisticRegression(C=REGULARISATION_C, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def fit(units: Units, vectors: np.ndarray, refer: float = 0.5, check_in: float = 0.3) -> CrisisClassifier:
    from sklearn.linear_model import LogisticRegression

    crisis_w, crisis_b = _binary(vectors, units.crisis)
    positive = np.flatnonzero(units.crisis)
    # A unit with several kinds counts once for each.
    rows = [i for i in positive for _ in units.kinds[i]]
    targets = [KINDS.index(kind) for i in positive for kind in units.kinds[i]]
    kind_model = LogisticRegression(C=REGULARISATION_C, class_weight="balanced", max_iter=2000)
    kind_model.fit(vectors[rows], targets)
    kind_w = np.zeros((vectors.shape[1], len(KINDS)), np.float32)
    kind_b = np.full(len(KINDS), -30.0, np.float32)
    for column, kind_index in enumerate(kind_model.classes_):
        kind_w[:, kind_index] = kind_model.coef_[column]
        kind_b[kind_index] = kind_model.intercept_[column]
    other_w, other_b = _binary(vectors[positive], units.other[positive])
    child_w, child_b = _binary(vectors[positive], units.child[positive])
    return CrisisClassifier(crisis_w, crisis_b, kind_w, kind_b, other_w, other_b, child_w, child_b, refer, check_in)


def read_examples(classifier: CrisisClassifier, examples: list[Example], cache: EmbeddingCache) -> list:
    """The classifier's reading of each example, as the running assistant reads a message."""
    unit_lists = [message_units(e.text) for e in examples]
    flat = [u for units in unit_lists for u in units]
    vectors = cache.encode(flat)
    readings, start = [], 0
    for units in unit_lists:
        readings.append(classifier.read(vectors[start : start + len(units)]))
        start += len(units)
    return readings


def fold_of(family: str) -> int:
    return int(hashlib.sha256(("fold:" + family).encode()).hexdigest(), 16) % FOLDS


def cross_validated_readings(examples: list[Example], extra_negatives: list[str], cache: EmbeddingCache) -> list:
    """Family-grouped 5-fold readings: each example read by a model that never saw its family."""
    readings: list = [None] * len(examples)
    for fold in range(FOLDS):
        train = [e for e in examples if fold_of(e.family) != fold]
        test_index = [i for i, e in enumerate(examples) if fold_of(e.family) == fold]
        units = training_units(train, extra_negatives)
        model = fit(units, cache.encode(units.texts))
        for i, reading in zip(test_index, read_examples(model, [examples[i] for i in test_index], cache)):
            readings[i] = reading
    return readings


def threshold_for(negative_scores: np.ndarray, allowed_share: float) -> float:
    """The lowest threshold (to 0.01) at which at most `allowed_share` of negatives reach it."""
    for threshold in np.arange(0.01, 1.0, 0.01):
        if np.mean(negative_scores >= threshold) <= allowed_share:
            return round(float(threshold), 2)
    return 0.99


def train(out: Path = CLASSIFIER_FILE) -> CrisisClassifier:
    corpus = build_corpus()
    cache = EmbeddingCache()
    extra = frame_sentences(corpus.training_frames)
    readings = cross_validated_readings(corpus.training, extra, cache)
    negatives = np.array([r.score for r, e in zip(readings, corpus.training) if not e.is_crisis])
    refer = threshold_for(negatives, REFER_FALSE_ALARMS)
    check_in = min(refer, threshold_for(negatives, CHECK_IN_FALSE_ALARMS))
    units = training_units(corpus.training, extra)
    classifier = fit(units, cache.encode(units.texts), refer, check_in)
    classifier.save(out)
    cache.save()
    print(f"crisis classifier: {len(units.texts)} training units, refer >= {refer}, check in >= {check_in} -> {out}")
    return classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CLASSIFIER_FILE)
    train(parser.parse_args().out)


if __name__ == "__main__":
    main()
