"""One decision per message from both crisis layers (plain Python, no Rasa needed).

The patterns (bot/safety/detector.py) are the high-precision layer; the learned layer
(bot/safety/classifier.py) reads what nobody wrote a pattern for. A message is a disclosure when
either says so: the patterns' kinds win when they matched; otherwise the learned layer refers
at or above its `refer` threshold, and asks a check-in question between `check_in` and `refer`.
A pattern that only names the subject (a mention: "suicide", "domestic violence") refers when
the learned layer reads at least `check_in`, and asks the check-in question otherwise.

`assess(text)` remembers its last few answers, so a message read by a channel (to decide
whether the limits may hold it back) and then by the NLU pipeline runs the encoder once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.safety.classifier import ClassifierReading, get_learned_layer
from bot.safety.detector import KIND_ORDER, CrisisDetection, get_detector
from bot.safety.recent import Recent

REMEMBERED = 64


@dataclass(frozen=True)
class Assessment:
    """What to do about one message."""

    refer: bool = False
    check_in: bool = False
    kinds: tuple[str, ...] = ()
    about: str | None = None  # "self", "other" or "both" when refer or check_in
    involves_child: bool = False
    source: str = ""  # "patterns", "mention" (a mention and the learned layer) or "classifier"
    score: float = 0.0


NOTHING = Assessment()


def decide(detection: CrisisDetection, reading: ClassifierReading | None, refer: float, check_in: float) -> Assessment:
    """Combines the two layers' findings into one decision."""
    score = reading.score if reading else 0.0
    if detection.is_crisis:
        return Assessment(True, False, detection.kinds, detection.about, detection.involves_child, "patterns", score)
    if detection.mentions:
        # The subject named: referred when the learned layer is at least unsure, asked about otherwise.
        confirmed = reading if reading is not None and score >= check_in else None
        named = set(detection.mentions) | set(confirmed.kinds if confirmed else ())
        return Assessment(
            refer=confirmed is not None,
            check_in=confirmed is None,
            kinds=tuple(k for k in KIND_ORDER if k in named) if confirmed else detection.mentions[:1],
            about=detection.about,
            involves_child=detection.involves_child or bool(confirmed and confirmed.involves_child),
            source="mention",
            score=score,
        )
    if reading is None or score < check_in:
        return Assessment(score=score)
    # A referral lists the kinds most urgent first; a check-in asks about the most likely one.
    kinds = tuple(k for k in KIND_ORDER if k in reading.kinds) if score >= refer else reading.kinds[:1]
    return Assessment(
        refer=score >= refer,
        check_in=score < refer,
        kinds=kinds,
        about="other" if reading.about_other else "self",
        involves_child=reading.involves_child,
        source="classifier",
        score=score,
    )


class Assessor:
    """Both layers, with a small memory of recent messages."""

    def __init__(self) -> None:
        self.detector = get_detector()
        self.learned = get_learned_layer()
        self._recent: Recent[Assessment] = Recent(REMEMBERED)

    def __call__(self, text: str) -> Assessment:
        if not text or not text.strip():
            return NOTHING
        return self._recent.get(text, lambda: self._assess(text))

    def _assess(self, text: str) -> Assessment:
        classifier = self.learned.classifier
        return decide(self.detector.detect(text), self.learned.read(text), classifier.refer_threshold, classifier.check_in_threshold)


@lru_cache(maxsize=1)
def get_assessor() -> Assessor:
    """The shared assessor, built once per process."""
    return Assessor()


def assess(text: str) -> Assessment:
    return get_assessor()(text)
