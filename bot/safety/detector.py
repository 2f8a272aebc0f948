"""Crisis-language detector: plain Python and spaCy, no Rasa needed.

`get_detector().detect(text)` normalises the message (bot/safety/normalise.py), lemmatises it
with the project's spaCy pipeline and matches the patterns in bot/safety/patterns.yml: fixed
phrases with spaCy's `PhraseMatcher` on lemmas, the others with its `Matcher`. Negation never
cancels a match; figures of speech listed in the data do.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import spacy
import srsly
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span

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
    mentions: tuple[str, ...] = ()  # kinds only named (patterns.yml `mentions`), when none is disclosed

    @property
    def is_crisis(self) -> bool:
        return bool(self.kinds)

    @property
    def about(self) -> str | None:
        """ "self", "other" or "both"; None when nothing was found."""
        if not self.kinds and not self.mentions:
            return None
        if self.about_self and self.about_other:
            return "both"
        return "other" if self.about_other else "self"


PLAIN_WORD = re.compile(r"^[a-z0-9]+$")
LONG_CHUNK = 60
NOT_A_WORD_CHARACTER = re.compile(r"[^\w\s]+")


def break_long_chunks(text: str) -> str:
    """Spaces for the symbols inside any run of over 60 characters without a space: spaCy's
    tokenizer takes time quadratic in such a run (5,000 emoji took seconds), and no pattern
    word hides in one ("i.want.to.die.i.want..." still reads as words)."""
    if len(text) <= LONG_CHUNK or max((len(chunk) for chunk in text.split()), default=0) <= LONG_CHUNK:
        return text
    return " ".join(NOT_A_WORD_CHARACTER.sub(" ", chunk) if len(chunk) > LONG_CHUNK else chunk for chunk in text.split())


@dataclass(frozen=True)
class CompiledPattern:
    """One data-file pattern as spaCy token patterns, plus the words it cannot match without.

    `required` holds one set per non-optional position: "l:<lemma>" or "w:<exact form>". A doc
    lacking every word of some set cannot match, so the Matcher is not even run on it.
    """

    token_patterns: list[list[dict[str, Any]]]
    required: tuple[frozenset[str], ...]
    phrase: str | None = None
    required_at: tuple[int, ...] = ()  # the token position of each `required` set


@dataclass
class PatternCompiler:
    """Compiles the pattern language described in patterns.yml into spaCy patterns."""

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

    def _position(self, spec: str) -> tuple[list[dict[str, Any]], frozenset[str] | None]:
        """Token dicts for one position (two when exact forms and lemmas are mixed) and the
        words it requires (None when the position is optional)."""
        if spec == "?":
            return [{"OP": "?"}], None
        optional = spec.endswith("~")
        words = self._alternatives(spec.rstrip("~"))
        exact = sorted({w[1:].lower() for w in words if w.startswith("=")})
        lemmas = sorted({self._lemma(w) for w in words if not w.startswith("=")})
        self.forms.update(exact)
        self.forms.update(w.lower() for w in words if not w.startswith("="))
        tokens = []
        # A single word is a plain value: spaCy checks those in C, sets in Python.
        if exact:
            tokens.append({"LOWER": exact[0] if len(exact) == 1 else {"IN": exact}})
        if lemmas:
            tokens.append({"LEMMA": lemmas[0] if len(lemmas) == 1 else {"IN": lemmas}})
        if optional:
            for token in tokens:
                token["OP"] = "?"
            return tokens, None
        return tokens, frozenset([f"w:{w}" for w in exact] + [f"l:{w}" for w in lemmas])

    def compile(self, pattern: str) -> CompiledPattern:
        positions: list[list[dict[str, Any]]] = []
        required: list[frozenset[str]] = []
        required_at: list[int] = []
        # A leading or trailing "any word or none" never changes whether a pattern matches.
        specs = pattern.split()
        while specs and specs[0] in ("?", "*"):
            specs.pop(0)
        while specs and specs[-1] in ("?", "*"):
            specs.pop()
        for spec in specs:
            if spec == "*":
                positions.extend([[{"OP": "?"}]] * 3)
                continue
            tokens, words = self._position(spec)
            if words is not None:
                required.append(words)
                required_at.append(len(positions))
            positions.append(tokens)
        plain = all(PLAIN_WORD.match(spec) for spec in specs)
        if plain:
            self.forms.update(specs)
        return CompiledPattern(
            token_patterns=[list(combo) for combo in itertools.product(*positions)],
            required=tuple(required),
            phrase=" ".join(specs) if plain else None,
            required_at=tuple(required_at),
        )


@dataclass(frozen=True)
class _KeyedPattern:
    required: tuple[frozenset[str], ...]
    before: int  # the most tokens a match can have before its anchor word
    after: int  # and after it
    matcher: Matcher


class PatternSet:
    """Named patterns matched on a doc: fixed phrases with one `PhraseMatcher` on lemmas, the
    rest with a `Matcher` per pattern.

    A pattern's Matcher runs only when the doc holds every word the pattern requires, and only
    on the tokens a match could span around its least common required word (its anchor:
    every match has one at the anchor's place in the pattern). One Matcher over all
    patterns and all tokens cost several milliseconds on a 100-word message, nearly all of it
    on patterns that could not match there.
    """

    def __init__(self, nlp: Language, compiler: PatternCompiler, patterns: dict[str, str]):
        self.phrases = PhraseMatcher(nlp.vocab, attr="LEMMA")
        compiled_patterns: list[tuple[str, CompiledPattern]] = []
        for key, pattern in patterns.items():
            compiled = compiler.compile(pattern)
            if compiled.phrase is not None:
                self.phrases.add(key, [nlp(compiled.phrase)])
            elif not compiled.required:
                raise ValueError(f"pattern needs at least one required word: {pattern}")
            else:
                compiled_patterns.append((key, compiled))
        # "me" is required by many patterns, "strangle" by few: anchor on the rarest.
        spread = Counter(word for _, c in compiled_patterns for words in c.required for word in words)
        self.keyed: list[_KeyedPattern] = []
        self.by_word: dict[str, list[int]] = {}
        for key, compiled in compiled_patterns:
            matcher = Matcher(nlp.vocab)
            matcher.add(key, compiled.token_patterns)
            place = min(range(len(compiled.required)), key=lambda i: sum(spread[w] for w in compiled.required[i]))
            at = compiled.required_at[place]
            length = max(len(p) for p in compiled.token_patterns)
            for word in compiled.required[place]:
                self.by_word.setdefault(word, []).append(len(self.keyed))
            self.keyed.append(_KeyedPattern(compiled.required, at, length - at - 1, matcher))

    def __call__(
        self, doc: Doc, features: list[tuple[str, str]] | None = None, present: set[str] | None = None
    ) -> list[tuple[int, int, int]]:
        """(match id, start, end) of every match; `features` is `doc_features(doc)` and
        `present` the set of its words, if known."""
        if features is None:
            features = doc_features(doc)
        if present is None:
            present = {word for pair in features for word in pair}
        anchors: dict[int, list[int]] = {}
        for position, pair in enumerate(features):
            for word in pair:
                for index in self.by_word.get(word, ()):
                    anchors.setdefault(index, []).append(position)
        matches = list(self.phrases(doc))
        windows: dict[tuple[int, int], tuple[set[str], Span]] = {}
        for index, positions in sorted(anchors.items()):
            pattern = self.keyed[index]
            if not all(not words.isdisjoint(present) for words in pattern.required):
                continue
            for start, end in _windows(positions, pattern.before, pattern.after, len(doc)):
                # The same test on just the window: most windows of a long message fail it,
                # and a set test costs far less than running the Matcher.
                window = windows.get((start, end))
                if window is None:
                    near = {word for pair in features[start:end] for word in pair}
                    window = windows[(start, end)] = (near, doc[start:end])
                if all(not words.isdisjoint(window[0]) for words in pattern.required):
                    matches.extend((key, start + s, start + e) for key, s, e in pattern.matcher(window[1]))
        return sorted(set(matches), key=lambda m: (m[1], m[2]))


def word_features(lemma: str, lower: str) -> tuple[str, str]:
    """The words a token offers the patterns: "l:<lemma>" and "w:<lower-case form>"."""
    return f"l:{lemma}", f"w:{lower}"


def doc_features(doc: Doc) -> list[tuple[str, str]]:
    """`word_features` of every token."""
    return [word_features(t.lemma_, t.lower_) for t in doc]


class LookupLemmatiser:
    """What the pipeline's lookup lemmatizer does (lemma = the table's entry for the token's
    text, else the text), remembering each word's lemma and `doc_features` entry: spaCy's
    component looks every token up again, a third of the detector's time on long messages."""

    MAX_WORDS = 50_000

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        self._words: dict[int, tuple[int, tuple[str, str]]] = {}

    @staticmethod
    def applies_to(nlp: Language) -> bool:
        return nlp.pipe_names == ["lemmatizer"] and nlp.get_pipe("lemmatizer").mode == "lookup"

    def __call__(self, text: str) -> tuple[Doc, list[tuple[str, str]]]:
        doc = self.nlp.make_doc(text)
        strings = doc.vocab.strings
        features = []
        for token in doc:
            word = self._words.get(token.orth)
            if word is None:
                lemma = self.table.get(token.text, token.text)
                lemma = lemma if isinstance(lemma, str) else lemma[0]
                word = (strings.add(lemma), word_features(lemma, token.lower_))
                if len(self._words) < self.MAX_WORDS:
                    self._words[token.orth] = word
            token.lemma = word[0]
            features.append(word[1])
        return doc, features


def _windows(positions: list[int], before: int, after: int, size: int) -> list[tuple[int, int]]:
    """Merged token ranges holding every match with at most `before` tokens before one of
    the positions and `after` after it."""
    windows: list[tuple[int, int]] = []
    for position in sorted(set(positions)):
        start, end = max(0, position - before), min(size, position + after + 1)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


class CrisisDetector:
    """Finds crisis disclosures in messages."""

    def __init__(self, nlp: Language, patterns: dict[str, Any]):
        self.nlp = nlp
        compiler = PatternCompiler(nlp, patterns.get("macros", {}))
        self.kind_of: dict[int, str] = {}
        self.fixed_about: dict[int, str] = {}
        kind_patterns: dict[str, str] = {}
        child_patterns = [str(p) for p in patterns.get("child_patterns", [])]
        # A kind pattern that is also a child pattern flags the child by matching: the
        # separate child pass holds only the child patterns no kind has.
        self.child_keys: set[int] = set()
        self.mention_keys: set[int] = set()
        for section in ("kinds", "mentions"):
            for kind, texts in patterns.get(section, {}).items():
                if kind not in KIND_ORDER:
                    raise ValueError(f"unknown crisis kind in patterns: {kind}")
                for index, pattern in enumerate(texts):
                    key = f"{kind}:{index}" if section == "kinds" else f"mention:{kind}:{index}"
                    key_id = nlp.vocab.strings.add(key)
                    words = pattern.split()
                    if words[-1] in ABOUT_TAGS:
                        self.fixed_about[key_id] = ABOUT_TAGS[words.pop()]
                    kind_patterns[key] = " ".join(words)
                    self.kind_of[key_id] = kind
                    if section == "mentions":
                        self.mention_keys.add(key_id)
                    if kind_patterns[key] in child_patterns:
                        self.child_keys.add(key_id)
        self.matcher = PatternSet(nlp, compiler, kind_patterns)
        self.exclusions = PatternSet(nlp, compiler, {f"figure:{i}": p for i, p in enumerate(patterns.get("figures_of_speech", []))})
        own_child_patterns = [p for p in child_patterns if p not in kind_patterns.values()]
        self.child_matcher = PatternSet(nlp, compiler, {f"child:{i}": p for i, p in enumerate(own_child_patterns)})
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
            censorable=[str(w) for w in norm.get("censored", [])],
            known_words=known | compiler.forms,
        )
        self._lock = threading.Lock()
        self.tokenise = LookupLemmatiser(nlp) if LookupLemmatiser.applies_to(nlp) else self._tokenise_with_pipeline

    def _tokenise_with_pipeline(self, text: str) -> tuple[Doc, list[tuple[str, str]]]:
        doc = self.nlp(text)
        return doc, doc_features(doc)

    def _about(self, kind: str, words: list[str], start: int, end: int) -> str:
        """Whether the person at risk is the speaker ("self") or someone else ("other");
        `words` are the message's tokens in lower case."""
        if kind != "harm_to_others":
            rest = set(words[start + 1 : end])
            if rest & REFLEXIVE_OTHER:
                return "other"
            if rest & SELF_OBJECTS:
                return "self"
            if rest & OTHER_OBJECTS:
                return "other"
            if "my" in rest:
                return "self"
        # Otherwise the nearest subject before the match decides.
        for word in reversed(words[max(0, start - self.window) : start + 1]):
            if word in self.self_words:
                return "self"
            if word in self.other_words:
                return "other"
        return "self"

    def detect(self, text: str) -> CrisisDetection:
        """Detect crisis language in one message."""
        if not text or not text.strip():
            return CrisisDetection()
        doc, features = self.tokenise(self.normalise(break_long_chunks(text)))
        # spaCy's Matcher keeps per-call state; one thread at a time.
        present = {word for pair in features for word in pair}
        with self._lock:
            matches = self.matcher(doc, features, present)
            if not matches:
                return CrisisDetection()
            figures = [(s, e) for _, s, e in self.exclusions(doc, features, present)]
            child = any(m[0] in self.child_keys for m in matches) or bool(self.child_matcher(doc, features, present))
        words = [form[2:] for _, form in features]  # "w:<form>" -> "<form>"
        found: dict[bool, tuple[set[str], set[str]]] = {False: (set(), set()), True: (set(), set())}  # by "is a mention"
        for match_id, start, end in matches:
            if any(s < end and start < e for s, e in figures):
                continue
            kind = self.kind_of[match_id]
            kinds, about = found[match_id in self.mention_keys]
            kinds.add(kind)
            about.add(self.fixed_about.get(match_id) or self._about(kind, words, start, end))
        disclosed = bool(found[False][0])
        kinds, about = found[not disclosed]
        if not kinds:
            return CrisisDetection()
        if disclosed and "suicide" in kinds and not IMMINENT_WORDS.isdisjoint(words):
            kinds.add("immediate_danger")
        ordered = tuple(k for k in KIND_ORDER if k in kinds)
        return CrisisDetection(
            kinds=ordered if disclosed else (),
            about_self="self" in about,
            about_other="other" in about,
            involves_child=child,
            mentions=() if disclosed else ordered,
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
    """The project's spaCy pipeline without its rulers (only tokens and lemmas matter)."""
    if (model_dir / "config.cfg").exists():
        return spacy.load(model_dir, exclude=["entity_ruler", "span_ruler"])
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


@lru_cache(maxsize=1)
def get_detector() -> CrisisDetector:
    """The shared detector, built once per process."""
    return CrisisDetector(load_pipeline(), load_yaml(PATTERNS_FILE))
