"""Crisis-language detector: plain Python and spaCy, no Rasa needed.

`get_detector().detect(text)` normalises the message (bot/safety/normalise.py), lemmatises it
with the project's spaCy pipeline and matches the patterns in bot/safety/patterns.yml with
spaCy's `Matcher`. Negation never cancels a match; figures of speech listed in the data do.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import spacy
import srsly
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc

from bot.paths import SAFETY_DIR, SPACY_MODEL_DIR
from bot.safety.normalise import Normaliser
from bot.yaml_data import load_yaml

PATTERNS_FILE = SAFETY_DIR / "patterns.yml"

# Most urgent first: the referral is ordered by this.
KIND_ORDER = ("immediate_danger", "suicide", "self_harm", "sexual_violence", "abuse", "harm_to_others")
IMMINENT_WORDS = {"tonight", "now"}
SELF_OBJECTS = {"me", "myself", "us"}
REFLEXIVE_OTHER = {"himself", "herself", "themselves", "themself"}
OTHER_OBJECTS = {"him", "her", "them", "his", "their"}
ABOUT_TAGS = {">self": "self", ">other": "other"}


@dataclass(frozen=True)
class CrisisDetection:
    """What the detector found in one message."""

    kinds: tuple[str, ...] = ()
    about_self: bool = False
    about_other: bool = False
    involves_child: bool = False

    @property
    def is_crisis(self) -> bool:
        return bool(self.kinds)

    @property
    def about(self) -> str | None:
        """"self", "other" or "both"; None when nothing was found."""
        if not self.kinds:
            return None
        if self.about_self and self.about_other:
            return "both"
        return "other" if self.about_other else "self"


@dataclass
class PatternCompiler:
    """Compiles the pattern language described in patterns.yml into spaCy token patterns."""

    nlp: Language
    macros: dict[str, list[str]]
    forms: set[str] = field(default_factory=set)

    def _lemma(self, word: str) -> str:
        doc = self.nlp(word.lower())
        return doc[0].lemma_ if len(doc) == 1 else word.lower()

    def _alternatives(self, spec: str) -> list[str]:
        words: list[str] = []
        for part in spec.split("|"):
            if part.startswith("@"):
                words.extend(str(w) for w in self.macros[part[1:]])
            else:
                words.append(part)
        return words

    def _position(self, spec: str) -> list[dict[str, Any]]:
        """Token dicts for one position; two when exact forms and lemmas are mixed."""
        if spec == "?":
            return [{"OP": "?"}]
        optional = spec.endswith("~")
        words = self._alternatives(spec.rstrip("~"))
        exact = sorted({w[1:].lower() for w in words if w.startswith("=")})
        lemmas = sorted({self._lemma(w) for w in words if not w.startswith("=")})
        self.forms.update(exact)
        self.forms.update(w.lower() for w in words if not w.startswith("="))
        tokens = []
        if exact:
            tokens.append({"LOWER": {"IN": exact}})
        if lemmas:
            tokens.append({"LEMMA": {"IN": lemmas}})
        if optional:
            for token in tokens:
                token["OP"] = "?"
        return tokens

    def compile(self, pattern: str) -> list[list[dict[str, Any]]]:
        positions: list[list[dict[str, Any]]] = []
        # A leading or trailing "any word or none" never changes whether a pattern matches.
        specs = pattern.split()
        while specs and specs[0] in ("?", "*"):
            specs.pop(0)
        while specs and specs[-1] in ("?", "*"):
            specs.pop()
        for spec in specs:
            if spec == "*":
                positions.extend([[{"OP": "?"}]] * 3)
            else:
                positions.append(self._position(spec))
        return [list(combo) for combo in itertools.product(*positions)]


class CrisisDetector:
    """Finds crisis disclosures in messages."""

    def __init__(self, nlp: Language, patterns: dict[str, Any]):
        self.nlp = nlp
        compiler = PatternCompiler(nlp, patterns.get("macros", {}))
        self.matcher = Matcher(nlp.vocab)
        self.kind_of: dict[int, str] = {}
        self.fixed_about: dict[int, str] = {}
        for kind, kind_patterns in patterns["kinds"].items():
            if kind not in KIND_ORDER:
                raise ValueError(f"unknown crisis kind in patterns: {kind}")
            for index, pattern in enumerate(kind_patterns):
                key = f"{kind}:{index}"
                words = pattern.split()
                if words[-1] in ABOUT_TAGS:
                    self.fixed_about[nlp.vocab.strings.add(key)] = ABOUT_TAGS[words.pop()]
                self.matcher.add(key, compiler.compile(" ".join(words)))
                self.kind_of[nlp.vocab.strings[key]] = kind
        self.exclusions = Matcher(nlp.vocab)
        for index, pattern in enumerate(patterns.get("figures_of_speech", [])):
            self.exclusions.add(f"figure:{index}", compiler.compile(pattern))
        self.child_matcher = Matcher(nlp.vocab)
        for index, pattern in enumerate(patterns.get("child_patterns", [])):
            self.child_matcher.add(f"child:{index}", compiler.compile(pattern))
        about = patterns["about"]
        self.self_words = set(about["self_words"])
        self.other_words = set(about["other_words"])
        self.window = int(about["window"])
        norm = patterns["normalisation"]
        known = english_words() | {"i", "a"}
        self.normalise = Normaliser(
            slang={str(k): str(v) for k, v in norm["slang"].items()},
            misspellings={str(k): str(v) for k, v in norm["misspellings"].items()},
            spellcheck=[str(w) for w in norm["spellcheck"]],
            known_words=known | compiler.forms,
        )
        self._lock = threading.Lock()

    def _about(self, kind: str, doc: Doc, start: int, end: int) -> str:
        """Whether the person at risk is the speaker ("self") or someone else ("other")."""
        if kind != "harm_to_others":
            span = [t.lower_ for t in doc[start:end]]
            rest = set(span[1:])
            if rest & REFLEXIVE_OTHER:
                return "other"
            if rest & SELF_OBJECTS:
                return "self"
            if rest & OTHER_OBJECTS:
                return "other"
            if "my" in rest:
                return "self"
        # Otherwise the nearest subject before the match decides.
        for token in reversed(doc[max(0, start - self.window) : start + 1]):
            if token.lower_ in self.self_words:
                return "self"
            if token.lower_ in self.other_words:
                return "other"
        return "self"

    def detect(self, text: str) -> CrisisDetection:
        """Detect crisis language in one message."""
        if not text or not text.strip():
            return CrisisDetection()
        doc = self.nlp(self.normalise(text))
        # spaCy's Matcher keeps per-call state; one thread at a time.
        with self._lock:
            matches = self.matcher(doc)
            if not matches:
                return CrisisDetection()
            figures = [(s, e) for _, s, e in self.exclusions(doc)]
            child = bool(self.child_matcher(doc))
        kinds: set[str] = set()
        about: set[str] = set()
        for match_id, start, end in matches:
            if any(s < end and start < e for s, e in figures):
                continue
            kind = self.kind_of[match_id]
            kinds.add(kind)
            about.add(self.fixed_about.get(match_id) or self._about(kind, doc, start, end))
        if not kinds:
            return CrisisDetection()
        if "suicide" in kinds and IMMINENT_WORDS & {t.lower_ for t in doc}:
            kinds.add("immediate_danger")
        return CrisisDetection(
            kinds=tuple(k for k in KIND_ORDER if k in kinds),
            about_self="self" in about,
            about_other="other" in about,
            involves_child=child,
        )


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Every English word form spacy-lookups-data knows (its lemma table, keys and values).

    Words in this set are never "corrected", so "willing" does not become "killing".
    """
    import spacy_lookups_data

    table_file = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    table = srsly.read_gzip_json(table_file)
    return frozenset(w.lower() for pair in table.items() for w in pair if w.isalpha())


def load_pipeline(model_dir: Path = SPACY_MODEL_DIR) -> Language:
    """The project's spaCy pipeline without its entity ruler (only tokens and lemmas matter)."""
    if (model_dir / "config.cfg").exists():
        return spacy.load(model_dir, exclude=["entity_ruler"])
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


@lru_cache(maxsize=1)
def get_detector() -> CrisisDetector:
    """The shared detector, built once per process."""
    return CrisisDetector(load_pipeline(), load_yaml(PATTERNS_FILE))
