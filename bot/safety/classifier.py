"""The learned crisis layer: nearest labelled examples in the sentence encoder's space.

A message is read as units: each sentence (a run-on sentence in overlapping word windows),
each clause of a sentence (split at commas and "and", "but", "because"...), and the whole
message when it is short. The encoder runs once per sentence, so a sentence reads the same
alone and inside a long story; a clause is pooled from its sentence's token states. A unit's
score is how much closer it is to the disclosures than to the hard negatives (the mean cosine
similarity of its three nearest disclosures minus that of its three nearest hard negatives),
plus a fifth of a small network's probability that it is a disclosure (one hidden layer of 256,
fitted on the same vectors) and a fifth of the surface-word model's (bot/safety/lexical.py).
The message's score is its highest unit's. The kinds are voted by that unit's five nearest
disclosures, about whom and whether a child is at risk by its three nearest.

Chosen over a logistic regression alone, word and character n-grams and a small network on the
encoder's token states by family-grouped cross-validation, as were the shares
(docs/crisis-detection.md). The labelled vectors, the network and the thresholds are in
`models/crisis_classifier.npz`, built by `python -m bot.safety.train`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from bot.encoder import WIDTH, SentenceEncoder, TokenStates, get_encoder, pool
from bot.paths import REPO_ROOT
from bot.safety.lexical import LexicalModel
from bot.safety.recent import Recent

CLASSIFIER_FILE = REPO_ROOT / "models" / "crisis_classifier.npz"
KINDS = ("suicide", "self_harm", "abuse", "sexual_violence", "immediate_danger", "harm_to_others")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
CLAUSE_BREAK = re.compile(r"\s*[,;:()]\s*|\s+[-–]\s+|\b(?:and|but|because|cause|cuz|coz|bc|then|or|when|while|after|since)\b", re.I)
WINDOW_WORDS = 40
WINDOW_STEP = 30
WHOLE_MESSAGE_SENTENCES = 3  # the whole message is a unit of its own up to this many sentences
WHOLE = -1  # the chunk index of the whole-message unit: it is the message's own vector
WHOLE_CHUNK_WORDS = 100  # the message's own vector is pooled from passes of up to this many words
# Above this many words the message's own vector is pooled from its sentence passes instead of
# passes of its own: those would double the word pieces to encode, and a 5,000-character message
# of 2,500 one-letter words took 1.1 s (docs/crisis-detection.md, "Cost"). No training or test
# message is this long (the longest has 134 words).
WHOLE_PASSES_UP_TO_WORDS = 300
MAX_UNITS = 240
FEW_UNITS = 8  # up to this many units, similarities are worked out one unit at a time (_similarities)
NEIGHBOURS = 3
KIND_VOTERS = 5  # the best unit's nearest disclosures that vote its kind (CV: right kind 92.7% against 91.0% with 3)
# The small network's probability, weighted, is added to the neighbours' score. Round 9: a
# logistic regression's tenth dropped and the network's share doubled (CV corpus recall 70.4% -> 72.1%).
NETWORK_SHARE = 0.2
LEXICAL_SHARE = 0.2  # and so is the surface-word model's (bot/safety/lexical.py)
REMEMBERED = 64  # messages whose encoding is kept
# How a message is split and pooled. Vectors kept between runs (the training cache, Rasa's
# training cache through the NLU featurizer) are keyed on it: change it when the reading changes.
READING_VERSION = "sentence-passes-3"


def _sentences(text: str) -> list[str]:
    sentences = []
    for sentence in SENTENCE_END.split(text):
        words = sentence.split()
        if len(words) <= WINDOW_WORDS:
            sentences.append(" ".join(words))
            continue
        for start in range(0, len(words) - WINDOW_WORDS + WINDOW_STEP, WINDOW_STEP):
            sentences.append(" ".join(words[start : start + WINDOW_WORDS]))
    return [s for s in sentences if s]


def _without_full_stop(sentence: str) -> str:
    """A sentence as its own pass reads it: without a closing full stop or ellipsis, which people
    leave off as often as not (a disclosure set in a story with its full stop read lower than
    the same words alone: 6% of one-sentence disclosures in cross-validation fell below `refer`)."""
    return sentence.rstrip(" .…") or sentence


def whole_chunks(sentences: list[str]) -> list[str]:
    """Runs of whole sentences of up to WHOLE_CHUNK_WORDS words: the passes the message's own
    vector (the NLU's feature) is pooled from. One sentence is its own chunk."""
    chunks: list[list[str]] = []
    for sentence in sentences:
        if chunks and sum(len(s.split()) for s in chunks[-1]) + len(sentence.split()) <= WHOLE_CHUNK_WORDS:
            chunks[-1].append(sentence)
        else:
            chunks.append([sentence])
    return [" ".join(group) for group in chunks]


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence of two words or more (none when it has only one)."""
    parts = [part.strip() for part in CLAUSE_BREAK.split(sentence)]
    parts = [part for part in parts if len(part.split()) >= 2]
    return parts if len(parts) > 1 else []


@dataclass(frozen=True)
class Unit:
    """A part of a message the learned layer reads: a character span of one chunk."""

    text: str
    chunk: int
    start: int
    end: int

    def is_whole_chunk(self, chunks: list[str]) -> bool:
        """A sentence (or word window) as a whole, not one of its clauses."""
        return self.chunk != WHOLE and (self.start, self.end) == (0, len(chunks[self.chunk]))

    def pooled_pieces(self, chunks: list[str], offsets: list[tuple[int, int]]) -> np.ndarray:
        """Which word pieces of its chunk's pass the unit is pooled from: every one for a whole
        sentence, [CLS] and [SEP] included (so it reads exactly as the sentence alone), and its
        own word pieces for a clause."""
        if self.is_whole_chunk(chunks):
            return np.ones(len(offsets), bool)
        return np.array([end > start and start >= self.start and end <= self.end for start, end in offsets], bool)


def split_message(text: str) -> tuple[list[str], list[Unit], list[str]]:
    """The chunks a message is encoded in (each sentence, or word window of a run-on sentence,
    is one encoder pass of its own, so a sentence reads the same alone and inside a long story),
    the units read from them (every sentence, every clause pooled from its sentence's pass and,
    for a message of two or three sentences, the message as a whole), and the passes the
    message's own vector is pooled from (EncodedMessage.sentence_vector: runs of its sentences as
    written, full stops kept; none for one sentence, or a message of more than
    WHOLE_PASSES_UP_TO_WORDS words, whose sentence passes serve)."""
    written = _sentences(text)
    sentences = [_without_full_stop(sentence) for sentence in written]
    units: list[Unit] = []
    read: set[str] = set()
    for index, sentence in enumerate(sentences):
        if sentence in read:  # a repeated sentence reads as it did the first time
            continue
        read.add(sentence)
        units.append(Unit(sentence, index, 0, len(sentence)))
        position = 0
        for clause in clauses(sentence):
            start = sentence.index(clause, position)
            position = start + len(clause)
            units.append(Unit(clause, index, start, position))
    if 1 < len(sentences) <= WHOLE_MESSAGE_SENTENCES:
        units.append(Unit(" ".join(written), WHOLE, 0, 0))
    unique = list({(u.chunk, u.start, u.end): u for u in units}.values())
    own_passes = len(sentences) > 1 and len(text.split()) <= WHOLE_PASSES_UP_TO_WORDS
    return sentences, _bounded(unique, sentences), whole_chunks(written) if own_passes else []


def _bounded(units: list[Unit], sentences: list[str]) -> list[Unit]:
    """At most MAX_UNITS units, in order: clauses are left out before sentences, and when the
    sentences alone are too many (hundreds of one-word sentences), the middle ones, since a
    disclosure in such a message comes first or last more often than not."""
    if len(units) <= MAX_UNITS:
        return units
    whole = {u for u in units if u.chunk == WHOLE or u.is_whole_chunk(sentences)}
    if len(whole) >= MAX_UNITS:
        ordered = [u for u in units if u in whole]
        head = MAX_UNITS // 2
        return ordered[:head] + ordered[len(ordered) - (MAX_UNITS - head) :]
    kept = whole | set([u for u in units if u not in whole][: MAX_UNITS - len(whole)])
    return [u for u in units if u in kept]


def message_units(text: str) -> list[str]:
    """The texts of the units the learned layer reads of a message."""
    return [unit.text for unit in split_message(text)[1]]


@dataclass(frozen=True)
class EncodedMessage:
    """A message's encoder passes, read two ways: one pass per sentence for the crisis layer's
    unit vectors, and passes over runs of whole sentences for the message's own vector (the
    NLU's dense feature, bot/nlu/components.py, and the crisis layer's whole-message unit). A
    one-sentence message has a single pass serving both."""

    chunks: list[str]
    units: list[Unit]
    passes: list[TokenStates]
    whole_passes: list[TokenStates]

    def unit_vectors(self) -> np.ndarray:
        """One vector per unit: a sentence is its pass's vector, [CLS] and [SEP] included (so
        it reads exactly as `encoder.encode` reads it alone); a clause is the mean of its own
        word pieces' states in its sentence's pass; the whole message its own vector.
        Worked out once: the crisis layer and the intent classifier both read them."""
        return self._unit_vectors

    @cached_property
    def _unit_vectors(self) -> np.ndarray:
        vectors = []
        for unit in self.units:
            if unit.chunk == WHOLE:
                vectors.append(self.sentence_vector())
                continue
            states = self.passes[unit.chunk]
            pieces = unit.pooled_pieces(self.chunks, states.offsets)
            vectors.append(pool(states.states[pieces]) if pieces.any() else np.zeros(WIDTH, np.float32))
        return np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, WIDTH), dtype=np.float32)

    def question_vector(self) -> np.ndarray | None:
        """The vector of the message's last question (a sentence or clause ending in "?"), when
        the message is more than that question; None otherwise."""

        def is_whole(unit: Unit) -> bool:
            return unit.chunk == WHOLE or (len(self.chunks) == 1 and unit.end - unit.start == len(self.chunks[0]))

        asked = [i for i, unit in enumerate(self.units) if unit.text.rstrip().endswith("?") and not is_whole(unit)]
        return self.unit_vectors()[asked[-1]] if asked else None

    def sentence_vector(self) -> np.ndarray:
        """The whole message's vector: the mean of the token states of its runs of sentences,
        L2-normalised (for a message of up to WHOLE_CHUNK_WORDS words exactly `encoder.encode`'s
        vector; for one sentence, of its words without a closing full stop). In the NLU's
        cross-validation this read multi-sentence messages better than the mean over the
        sentences' own passes (0.745 accuracy against 0.714)."""
        if not self.whole_passes:
            return np.zeros(WIDTH, dtype=np.float32)
        return pool(np.concatenate([p.states for p in self.whole_passes])).astype(np.float32)


NOT_READ = TokenStates(np.zeros((0, WIDTH), np.float32), [])  # a chunk no unit reads is not encoded


def _chunks_to_encode(chunks: list[str], units: list[Unit], whole: list[str]) -> list[int]:
    """For each chunk, the chunk whose pass it takes: its own when a unit reads it, the first
    with the same text when it repeats one (so the message's own vector, pooled from every
    chunk of a very long message, counts it as often as it is written), -1 when it is not read."""
    read = {unit.chunk for unit in units if unit.chunk != WHOLE}
    if not whole and any(unit.chunk == WHOLE for unit in units):
        read = set(range(len(chunks)))  # the whole-message unit is pooled from every chunk
    first: dict[str, int] = {}
    for index in sorted(read):
        first.setdefault(chunks[index], index)
    return [index if index in read else first.get(chunk, -1) for index, chunk in enumerate(chunks)]


def encode_messages(encoder: SentenceEncoder, texts: list[str]) -> list[EncodedMessage]:
    """Encodes several messages, every pass of every message batched together; a chunk that
    repeats one or that no unit reads is not encoded again (_chunks_to_encode)."""
    split = [split_message(text) for text in texts]
    sources = [_chunks_to_encode(chunks, units, whole) for chunks, units, whole in split]
    own_texts = [chunks[i] for (chunks, _, _), source in zip(split, sources) for i, s in enumerate(source) if s == i]
    every_text = own_texts + [chunk for _, _, whole in split for chunk in whole]
    passes = encoder.token_states(every_text) if every_text else []
    encoded, position, whole_position = [], 0, len(own_texts)
    for (chunks, units, whole), source in zip(split, sources):
        own: list[TokenStates] = []
        for index, taken in enumerate(source):
            if taken == index:
                own.append(passes[position])
                position += 1
            else:
                own.append(own[taken] if taken >= 0 else NOT_READ)
        encoded.append(EncodedMessage(chunks, units, own, passes[whole_position : whole_position + len(whole)] if whole else own))
        whole_position += len(whole)
    return encoded


def _similarities(vectors: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """vectors @ labelled.T. For a few vectors (a chat message's units), one matrix-vector
    product each: OpenBLAS's matrix product copies the whole labelled matrix first, which for
    the 14,600 negatives took 3.2 ms for three units against 0.6 ms this way (docs/crisis-detection.md)."""
    if len(vectors) <= FEW_UNITS:
        return np.stack([labelled @ vector for vector in vectors]) if len(vectors) else np.zeros((0, len(labelled)), np.float32)
    return vectors @ labelled.T


def _top_mean(similarities: np.ndarray, k: int) -> np.ndarray:
    k = min(k, similarities.shape[1])
    return np.partition(similarities, -k, axis=1)[:, -k:].mean(axis=1)


@dataclass(frozen=True)
class UnitNetwork:
    """A network of one hidden layer (ReLU) giving the probability that a unit vector is a
    disclosure, fitted by sklearn's MLPClassifier (bot/safety/train.py: fit_network)."""

    hidden_weights: np.ndarray  # (dimension, hidden)
    hidden_bias: np.ndarray  # (hidden,)
    output_weights: np.ndarray  # (hidden,)
    output_bias: float

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        hidden = np.maximum(vectors @ self.hidden_weights + self.hidden_bias, 0.0)
        return 1.0 / (1.0 + np.exp(-(hidden @ self.output_weights + self.output_bias)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "network_hidden_weights": self.hidden_weights.astype(np.float32),
            "network_hidden_bias": self.hidden_bias.astype(np.float32),
            "network_output_weights": self.output_weights.astype(np.float32),
            "network_output_bias": np.array(self.output_bias, dtype=np.float32),
        }

    @classmethod
    def from_arrays(cls, data) -> "UnitNetwork":
        return cls(
            data["network_hidden_weights"],
            data["network_hidden_bias"],
            data["network_output_weights"],
            float(data["network_output_bias"]),
        )


@dataclass(frozen=True)
class ClassifierReading:
    """What the learned layer read in one message."""

    score: float  # the highest unit's score, about -1 to 1
    kinds: tuple[str, ...]  # most likely first
    about_other: bool
    involves_child: bool


@dataclass
class CrisisClassifier:
    """Labelled unit vectors and thresholds of the learned layer."""

    disclosures: np.ndarray  # (n, dimension), L2-normalised
    disclosure_kinds: np.ndarray  # (n, len(KINDS)) booleans
    disclosure_other: np.ndarray  # (n,) booleans
    disclosure_child: np.ndarray  # (n,) booleans
    negatives: np.ndarray  # (m, dimension), L2-normalised
    network: UnitNetwork  # a small network on the same vectors
    lexical: LexicalModel  # the same units, read by their words and letters
    refer_threshold: float = 0.0
    check_in_threshold: float = 0.0

    def unit_scores(self, vectors: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each unit's score (from its vector and its text) and its similarities to every disclosure."""
        to_disclosures = _similarities(vectors, self.disclosures)
        score = _top_mean(to_disclosures, NEIGHBOURS) - _top_mean(_similarities(vectors, self.negatives), NEIGHBOURS)
        score = score + NETWORK_SHARE * self.network.probabilities(vectors)
        return score + LEXICAL_SHARE * self.lexical.probabilities(texts), to_disclosures

    def read(self, vectors: np.ndarray, texts: list[str]) -> ClassifierReading:
        """Reads one message's units: their vectors and their texts, in the same order."""
        if len(vectors) == 0:
            return ClassifierReading(-1.0, (), False, False)
        scores, to_disclosures = self.unit_scores(vectors, texts)
        best = int(np.argmax(scores))
        ranked = np.argsort(-to_disclosures[best])
        nearest, voters = ranked[:NEIGHBOURS], ranked[:KIND_VOTERS]
        votes = self.disclosure_kinds[voters].sum(axis=0)
        kinds = tuple(KINDS[i] for i in np.argsort(-votes, kind="stable") if votes[i] * 2 > len(voters))
        kinds = kinds or (KINDS[int(np.argmax(votes))],)
        return ClassifierReading(
            score=float(scores[best]),
            kinds=kinds,
            about_other=bool(self.disclosure_other[nearest].sum() * 2 > len(nearest)),
            involves_child=bool(self.disclosure_child[nearest].sum() * 2 > len(nearest)),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        thresholds = {"refer": self.refer_threshold, "check_in": self.check_in_threshold}
        np.savez(
            path,
            disclosures=self.disclosures.astype(np.float32),
            disclosure_kinds=self.disclosure_kinds,
            disclosure_other=self.disclosure_other,
            disclosure_child=self.disclosure_child,
            negatives=self.negatives.astype(np.float32),
            thresholds=np.array(json.dumps(thresholds)),
            **self.network.arrays(),
            **self.lexical.arrays(),
        )

    @classmethod
    def load(cls, path: Path = CLASSIFIER_FILE) -> "CrisisClassifier":
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: build it with `make setup` (python -m bot.safety.train).")
        data = np.load(path)
        thresholds = json.loads(str(data["thresholds"]))
        return cls(
            disclosures=data["disclosures"],
            disclosure_kinds=data["disclosure_kinds"],
            disclosure_other=data["disclosure_other"],
            disclosure_child=data["disclosure_child"],
            negatives=data["negatives"],
            network=UnitNetwork.from_arrays(data),
            lexical=LexicalModel.from_arrays(data),
            refer_threshold=thresholds["refer"],
            check_in_threshold=thresholds["check_in"],
        )


class LearnedLayer:
    """The encoder and the classifier together: text in, reading out. It remembers the
    encoding of its last few messages, so the NLU's featurizer and the crisis layer (and a
    channel that reads a message before the pipeline does) run the encoder once a message."""

    def __init__(self, encoder: SentenceEncoder, classifier: CrisisClassifier) -> None:
        self.encoder = encoder
        self.classifier = classifier
        self._recent: Recent[EncodedMessage] = Recent(REMEMBERED)

    def encoded(self, text: str) -> EncodedMessage:
        return self._recent.get(text, lambda: encode_messages(self.encoder, [text])[0])

    def read(self, text: str) -> ClassifierReading:
        encoded = self.encoded(text)
        return self.classifier.read(encoded.unit_vectors(), [unit.text for unit in encoded.units])


@lru_cache(maxsize=1)
def get_learned_layer() -> LearnedLayer:
    return LearnedLayer(get_encoder(), CrisisClassifier.load())
