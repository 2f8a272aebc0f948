"""Text normalisation that undoes the ways people disguise or mistype crisis words.

Order matters: Unicode and invisible characters first, then spaced-out letters, censored words
(each asterisk or hash one hidden letter of a word in patterns.yml's `censored` list), leetspeak,
stretched letters, slang and misspellings (word by word, from patterns.yml).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"))
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"})
# Single characters separated by spaces, dots, dashes, underscores or asterisks: "s u i c i d e".
SPACED_LETTERS = re.compile(r"(?<![\w@$])((?:[a-z0-9@$!][ .\-_*]{1,2}){2,}[a-z0-9@$!])(?![\w@$])")
SPACED_SEPARATORS = re.compile(r"[ .\-_*]")
WORD = re.compile(r"[a-z0-9@$!|+']+")
SLANG_WORD = re.compile(r"[\w']+")
# Words holding a digit or symbol, the only ones leetspeak can hide in.
DISGUISED_WORD = re.compile(r"[a-z0-9@$!|+']*[0-9@$!|+][a-z0-9@$!|+']*")
HAS_LETTER = re.compile(r"[a-z]")
# A word with letters hidden behind asterisks or hashes: "r*ped", "s**cide", "k*ll*ng".
CENSORED_WORD = re.compile(r"(?<![\w*#])[a-z*#]+(?![\w*#])")
CENSOR_MARKS = re.compile(r"[*#]")
HAS_DISGUISE = re.compile(r"[0-9@$!|+]")
STRETCHED = re.compile(r"([a-z])\1{2,}")
CONTRACTION_FORMS = {"can't": "can not", "won't": "will not", "n't": " not", "cannot": "can not"}
CONTRACTIONS = re.compile(r"\bcan't\b|\bwon't\b|\bcannot\b|n't\b")
ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HYPHEN_JOIN = re.compile(r"(?<=[a-z])[-‐‑–—](?=[a-z])")
HYPHEN_CHARS = re.compile(r"[-‐‑–—]")


def _strip_invisible(text: str) -> str:
    if text.isascii():
        return ASCII_CONTROL.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).translate(ZERO_WIDTH)
    cleaned = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        cleaned.append(" " if category in ("Cc", "Zl", "Zp") else char)
    return "".join(cleaned)


def _undo_leet(word: str) -> str:
    # Only words that mix letters with digits or symbols: "k1ll" yes, "988" or "15" no.
    # Trailing "!" and "+" are punctuation ("help!"), not letters.
    stem = word.rstrip("!+'")
    tail = word[len(stem) :]
    if HAS_LETTER.search(stem) and HAS_DISGUISE.search(stem):
        return stem.translate(LEET) + tail
    return word


def _one_edit_variants(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass
class Normaliser:
    """Turns a raw message into plain lower-case English words for matching."""

    slang: dict[str, str] = field(default_factory=dict)
    misspellings: dict[str, str] = field(default_factory=dict)
    spellcheck: list[str] = field(default_factory=list)
    known_words: set[str] = field(default_factory=set)
    censorable: list[str] = field(default_factory=list)  # words people hide letters of, in order of preference

    def __post_init__(self) -> None:
        phrases = sorted(self.slang, key=len, reverse=True)
        # A censor mark is part of a word: "sh*t" is not the slang "sh".
        self._slang_pattern = re.compile(r"(?<![\w'*#])(" + "|".join(re.escape(p) for p in phrases) + r")(?![\w'*#])") if phrases else None
        # A slang phrase can only be in a text holding its first run of word characters, as
        # a run of its own: the pattern's boundaries are the same characters.
        self._slang_starts = {SLANG_WORD.findall(p)[0] for p in phrases}
        # Deletion index: every key word and its one-letter deletions point at the key word,
        # so a word one insertion, deletion, swap-adjacent or substitution away is corrected.
        self._deletions: dict[str, str] = {}
        for key in self.spellcheck:
            for variant in _one_edit_variants(key) | {key}:
                self._deletions.setdefault(variant, key)

    def _segment(self, letters: str) -> str:
        """Split run-together letters into known words ("iwanttodie" -> "i want to die").

        Fewest words wins; among those, the one with the longest words.
        """
        if letters in self.known_words:
            return letters
        best: list[tuple[int, int, list[str]] | None] = [None] * (len(letters) + 1)
        best[0] = (0, 0, [])
        for end in range(1, len(letters) + 1):
            for start in range(max(0, end - 20), end):
                previous = best[start]
                piece = letters[start:end]
                if previous is None or piece not in self.known_words:
                    continue
                candidate = (previous[0] + 1, previous[1] - len(piece) ** 2, previous[2] + [piece])
                current = best[end]
                if current is None or candidate[:2] < current[:2]:
                    best[end] = candidate
        found = best[len(letters)]
        return " ".join(found[2]) if found else letters

    def _uncensor(self, match: re.Match[str]) -> str:
        """The first censorable word the letters fit, each mark standing for one letter; the
        word as written when none fits."""
        word = match.group(0)
        if not HAS_LETTER.search(word) or not CENSOR_MARKS.search(word):
            return word
        for candidate in self.censorable:
            if len(candidate) == len(word) and all(w in "*#" or w == c for w, c in zip(word, candidate)):
                return candidate
        return word

    def _join_spaced(self, match: re.Match[str]) -> str:
        return self._segment(SPACED_SEPARATORS.sub("", match.group(1)))

    def _correct(self, word: str) -> str:
        if word in self.misspellings:
            return self.misspellings[word]
        if word in self.known_words or not word.isalpha():
            return word
        deduplicated = re.sub(r"([a-z])\1", r"\1", word)
        if deduplicated in self.known_words:
            return deduplicated
        if len(word) < 5:
            return word
        if word in self._deletions:
            return self._deletions[word]
        for variant in _one_edit_variants(word):
            if variant in self._deletions:
                candidate = self._deletions[variant]
                if abs(len(candidate) - len(word)) <= 1:
                    return candidate
        return word

    def __call__(self, text: str, every_step: bool = False) -> str:
        """The normalised text. Steps that cannot change this text are skipped (a cheap test
        first: no digit or symbol, no "n't", no hyphen...); `every_step` runs them all, which
        gives the same result, more slowly (the tests compare the two)."""
        text = _strip_invisible(text).casefold()
        text = text.replace("’", "'").replace("‘", "'")
        text = SPACED_LETTERS.sub(self._join_spaced, text)
        if every_step or CENSOR_MARKS.search(text):
            text = CENSORED_WORD.sub(self._uncensor, text)
        if every_step or HYPHEN_CHARS.search(text):
            text = HYPHEN_JOIN.sub(" ", text)
        if every_step or HAS_DISGUISE.search(text):
            text = DISGUISED_WORD.sub(lambda m: _undo_leet(m.group(0)), text)
        text = STRETCHED.sub(r"\1\1", text)
        if every_step or "n't" in text or "cannot" in text:
            text = CONTRACTIONS.sub(lambda m: CONTRACTION_FORMS[m.group(0)], text)
        corrections = {
            w: corrected
            for w in set(WORD.findall(text))
            if (w not in self.known_words or w in self.misspellings) and (corrected := self._correct(w)) != w
        }
        if corrections:
            text = WORD.sub(lambda m: corrections.get(m.group(0), m.group(0)), text)
        if self._slang_pattern is not None and (every_step or not self._slang_starts.isdisjoint(SLANG_WORD.findall(text))):
            text = self._slang_pattern.sub(lambda m: self.slang[m.group(1)], text)
        return " ".join(text.split())
