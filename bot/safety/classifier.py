"""The learned crisis layer: logistic regressions on the sentence encoder's vectors.

A message is read as units: each sentence (a run-on sentence in overlapping word windows) and
the message as a whole. Each unit gets a crisis probability; the message's score is the
highest. Kind, about whom and whether a child is at risk are read from the unit that scored
highest. The weights are plain numpy arrays (`models/crisis_classifier.npz`), trained by
`python -m bot.safety.train` from the corpus (bot/safety/corpus.py); thresholds come from
family-grouped cross-validation and are stored beside the weights.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.encoder import SentenceEncoder, get_encoder
from bot.paths import REPO_ROOT

CLASSIFIER_FILE = REPO_ROOT / "models" / "crisis_classifier.npz"
KINDS = ("suicide", "self_harm", "abuse", "sexual_violence", "immediate_danger", "harm_to_others")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
WINDOW_WORDS = 40
WINDOW_STEP = 30
MAX_UNITS = 160


def message_units(text: str) -> list[str]:
    """The sentences of a message (long ones as overlapping word windows), then the whole
    message when it has more than one unit."""
    units: list[str] = []
    for sentence in SENTENCE_END.split(text):
        words = sentence.split()
        if not words:
            continue
        if len(words) <= WINDOW_WORDS:
            units.append(" ".join(words))
            continue
        for start in range(0, len(words) - WINDOW_WORDS + WINDOW_STEP, WINDOW_STEP):
            units.append(" ".join(words[start : start + WINDOW_WORDS]))
    units = list(dict.fromkeys(units))[:MAX_UNITS]
    whole = " ".join(text.split())
    if whole and (len(units) != 1 or units[0] != whole):
        units.append(whole)
    return units


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class ClassifierReading:
    """What the learned layer read in one message."""

    score: float  # the highest unit's crisis probability
    kinds: tuple[str, ...]  # most likely first; empty when score is 0
    about_other: bool
    involves_child: bool


@dataclass
class CrisisClassifier:
    """Weights and thresholds of the learned layer."""

    crisis_w: np.ndarray
    crisis_b: float
    kind_w: np.ndarray  # (dimension, len(KINDS))
    kind_b: np.ndarray
    other_w: np.ndarray
    other_b: float
    child_w: np.ndarray
    child_b: float
    refer_threshold: float
    check_in_threshold: float
    kind_share: float = 0.35  # a second kind is kept when its probability is at least this

    def crisis_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return _sigmoid(vectors @ self.crisis_w + self.crisis_b)

    def read(self, vectors: np.ndarray) -> ClassifierReading:
        """Reads the unit vectors of one message."""
        if len(vectors) == 0:
            return ClassifierReading(0.0, (), False, False)
        scores = self.crisis_probabilities(vectors)
        best = int(np.argmax(scores))
        vector = vectors[best]
        kind_p = _softmax(vector @ self.kind_w + self.kind_b)
        order = np.argsort(-kind_p)
        kinds = tuple(KINDS[i] for i in order if i == order[0] or kind_p[i] >= self.kind_share)
        return ClassifierReading(
            score=float(scores[best]),
            kinds=kinds,
            about_other=bool(_sigmoid(vector @ self.other_w + self.other_b) >= 0.5),
            involves_child=bool(_sigmoid(vector @ self.child_w + self.child_b) >= 0.5),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        thresholds = {"refer": self.refer_threshold, "check_in": self.check_in_threshold, "kind_share": self.kind_share}
        np.savez(
            path,
            crisis_w=self.crisis_w, crisis_b=np.float32(self.crisis_b),
            kind_w=self.kind_w, kind_b=self.kind_b,
            other_w=self.other_w, other_b=np.float32(self.other_b),
            child_w=self.child_w, child_b=np.float32(self.child_b),
            thresholds=np.array(json.dumps(thresholds)),
        )

    @classmethod
    def load(cls, path: Path = CLASSIFIER_FILE) -> "CrisisClassifier":
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: train it with `make setup` (python -m bot.safety.train).")
        data = np.load(path)
        thresholds = json.loads(str(data["thresholds"]))
        return cls(
            crisis_w=data["crisis_w"], crisis_b=float(data["crisis_b"]),
            kind_w=data["kind_w"], kind_b=data["kind_b"],
            other_w=data["other_w"], other_b=float(data["other_b"]),
            child_w=data["child_w"], child_b=float(data["child_b"]),
            refer_threshold=thresholds["refer"], check_in_threshold=thresholds["check_in"],
            kind_share=thresholds["kind_share"],
        )


class LearnedLayer:
    """The encoder and the classifier together: text in, reading out."""

    def __init__(self, encoder: SentenceEncoder, classifier: CrisisClassifier) -> None:
        self.encoder = encoder
        self.classifier = classifier

    def read(self, text: str) -> ClassifierReading:
        return self.classifier.read(self.encoder.encode(message_units(text)))


@lru_cache(maxsize=1)
def get_learned_layer() -> LearnedLayer:
    return LearnedLayer(get_encoder(), CrisisClassifier.load())
