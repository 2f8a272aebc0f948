"""The crisis corpus: families of disclosures and hard negatives, and the long stories built
from them (plain Python, no Rasa needed).

- `bot/safety/corpus/*.yml` hold families: one situation and its rewordings, with the kinds it
  discloses (none for a hard negative), about whom, and whether a child is at risk.
- `frames.yml` holds ordinary trust stories; each family text is also set inside one of them,
  so a disclosure (or a hard negative) is one clause of a long message.
- The frozen test split is a fixed fifth of the families (and a fifth of the frames), chosen
  by a hash of the family id: nothing is trained, tuned or thresholded on it.
- `tests/data/crisis_cases.yml` (the pattern layer's cases, one family each) and the ordinary
  NLU examples of `data/nlu` (hard negatives) are training data only.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from bot.paths import REPO_ROOT, SAFETY_DIR
from bot.yaml_data import load_yaml

CORPUS_DIR = SAFETY_DIR / "corpus"
FRAMES_FILE = CORPUS_DIR / "frames.yml"
CASES_FILE = REPO_ROOT / "tests" / "data" / "crisis_cases.yml"
NLU_DIR = REPO_ROOT / "data" / "nlu"
FROZEN_SHARE = 5  # one family in five is frozen
ABOUT = ("self", "other")


@dataclass(frozen=True)
class Example:
    """One message: its text, what it discloses and where it comes from."""

    text: str
    kinds: tuple[str, ...]
    about: str
    child: bool
    family: str
    long: bool = False

    @property
    def is_crisis(self) -> bool:
        return bool(self.kinds)

    @property
    def is_written(self) -> bool:
        """From the corpus written for the learned layer, not the pattern layer's cases or the
        NLU's ordinary messages."""
        return self.family.split("-")[0] not in ("case", "nlu")


@dataclass(frozen=True)
class Family:
    id: str
    kinds: tuple[str, ...]
    about: str
    child: bool
    texts: tuple[str, ...]


# The split's salt. The first draw ("v1") was read once during development, before any tuning,
# and then replaced by this one, whose messages nobody has read results for.
FROZEN_SALT = "frozen-v2:"


def is_frozen(key: str) -> bool:
    """Whether a family (or a frame, by its text) belongs to the frozen test split."""
    return int(hashlib.sha256((FROZEN_SALT + key).encode()).hexdigest(), 16) % FROZEN_SHARE == 0


def load_families(directory: Path = CORPUS_DIR) -> list[Family]:
    families = []
    for path in sorted(directory.glob("*.yml")):
        if path == FRAMES_FILE:
            continue
        for family_id, entry in load_yaml(path)["families"].items():
            families.append(
                Family(
                    id=family_id,
                    kinds=tuple(entry["kinds"]),
                    about=entry.get("about", "self"),
                    child=bool(entry.get("child", False)),
                    texts=tuple(str(text) for text in entry["texts"]),
                )
            )
    return families


def load_frames() -> list[tuple[str, str]]:
    return [(str(f.get("before", "")), str(f.get("after", ""))) for f in load_yaml(FRAMES_FILE)["frames"]]


def frame_sentences(frames: list[tuple[str, str]]) -> list[str]:
    return [part for frame in frames for part in frame if part]


def split_frames() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(training frames, frozen frames)."""
    frames = load_frames()
    frozen = [frame for frame in frames if is_frozen(frame[0] + frame[1])]
    training = [frame for frame in frames if not is_frozen(frame[0] + frame[1])]
    return training, frozen


def set_in_story(text: str, frame: tuple[str, str]) -> str:
    before, after = frame
    return " ".join(part for part in (before, text if text[-1:] in ".!?" else text + ".", after) if part)


def family_examples(family: Family, frames: list[tuple[str, str]], seed: int = 0) -> list[Example]:
    """Each text as it is and set inside a story (a frame picked by a seeded draw)."""
    draw = random.Random(f"{family.id}:{seed}")
    examples = []
    for text in family.texts:
        common = dict(kinds=family.kinds, about=family.about, child=family.child, family=family.id)
        examples.append(Example(text=text, **common))
        examples.append(Example(text=set_in_story(text, draw.choice(frames)), long=True, **common))
    return examples


def case_file_families() -> list[Family]:
    """The pattern layer's labelled cases, one family each (training only)."""
    cases = load_yaml(CASES_FILE)
    families = []
    for kind, abouts in cases["disclosures"].items():
        for about, texts in abouts.items():
            for index, text in enumerate(texts):
                families.append(Family(f"case-{kind}-{about}-{index}", (kind,), about, False, (str(text),)))
    for group, texts in cases["negatives"].items():
        for index, text in enumerate(texts):
            families.append(Family(f"case-neg-{group}-{index}", (), "self", False, (str(text),)))
    return families


NOT_NEGATIVE_INTENTS = frozenset({"concern_controlling"})


def nlu_negative_families() -> list[Family]:
    """Ordinary messages from the NLU data, five to a family: every intent but the crisis ones
    and controlling behaviour, which may be abuse and is not a negative for the crisis layer."""
    families = []
    for path in sorted(NLU_DIR.glob("*.yml")):
        for block in load_yaml(path).get("nlu", []):
            intent = block.get("intent")
            if not intent or intent.startswith("crisis") or intent in NOT_NEGATIVE_INTENTS or "examples" not in block:
                continue
            texts = [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
            texts = [t for t in texts if "[" not in t]  # annotated entity examples are repeats in other words
            for start in range(0, len(texts), 5):
                families.append(Family(f"nlu-{intent}-{start}", (), "self", False, tuple(texts[start : start + 5])))
    return families


@dataclass(frozen=True)
class Corpus:
    training: list[Example]
    frozen: list[Example]
    training_frames: list[tuple[str, str]]


def build_corpus() -> Corpus:
    """The whole corpus, split: training (corpus families not frozen, the case file, NLU
    negatives) and frozen (a fifth of the corpus families, set in frozen frames only)."""
    training_frames, frozen_frames = split_frames()
    training: list[Example] = []
    frozen: list[Example] = []
    for family in load_families():
        if is_frozen(family.id):
            frozen += family_examples(family, frozen_frames)
        else:
            training += family_examples(family, training_frames)
    for family in case_file_families() + nlu_negative_families():
        training += family_examples(family, training_frames)
    return Corpus(training, frozen, training_frames)
