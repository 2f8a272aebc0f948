"""Which relationship a message is about, when it names several.

"My husband says my boss is lying" is about the husband: the person the writer calls "my ..."
counts twice as much as one named in passing, and someone named only as another person's ("my
friend's husband") counts for little. A setting word ("at work", "dating") decides only when no
person is named. On a tie, the first one named wins: people start a story with whom it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from spacy.tokens import Doc

from bot.paths import KNOWLEDGE_DIR
from bot.yaml_data import load_yaml

RELATIONSHIP_SPANS = "relationship"  # the spaCy span group the pipeline puts relationship words in
POSSESSIVES = frozenset({"my", "our", "mine"})
OWN_PERSON = 2.0
NAMED_IN_PASSING = 1.0
SOMEONE_ELSES = 0.5


@dataclass(frozen=True)
class Mention:
    """One relationship word in a message."""

    kind: str  # romantic, friendship, family or work
    text: str  # the words as written, e.g. "bf"
    start: int
    word_before: str = ""
    word_after: str = ""


def mentions_in(doc: Doc) -> list[Mention]:
    """The relationship words the project's spaCy pipeline found in a message, in order."""
    spans = sorted(doc.spans[RELATIONSHIP_SPANS], key=lambda span: span.start) if RELATIONSHIP_SPANS in doc.spans else []
    return [
        Mention(
            kind=span.id_,
            text=span.text,
            start=span.start_char,
            word_before=doc[span.start - 1].text if span.start > 0 else "",
            word_after=doc[span.end].text if span.end < len(doc) else "",
        )
        for span in spans
        if span.id_
    ]


@lru_cache(maxsize=1)
def setting_words() -> frozenset[str]:
    return frozenset(load_yaml(KNOWLEDGE_DIR / "vocabulary.yml")["relationship_settings"])


def is_setting(mention: Mention) -> bool:
    return mention.text.lower() in setting_words()


def weight(mention: Mention) -> float:
    if is_setting(mention) or mention.word_before in {"'s", "’s"}:
        return SOMEONE_ELSES
    return OWN_PERSON if mention.word_before.lower() in POSSESSIVES else NAMED_IN_PASSING


def main_mention(mentions: list[Mention]) -> Mention | None:
    """The mention of the relationship the message is about (None when there is none): the kind
    with the highest total weight, then its first person named with "my"."""
    people = [m for m in mentions if not is_setting(m)]
    mentions = people or mentions
    if not mentions:
        return None
    totals: dict[str, float] = {}
    first: dict[str, int] = {}
    for mention in mentions:
        totals[mention.kind] = totals.get(mention.kind, 0.0) + weight(mention)
        first.setdefault(mention.kind, mention.start)
    kind = max(totals, key=lambda k: (totals[k], -first[k]))
    of_kind = [m for m in mentions if m.kind == kind]
    return max(of_kind, key=lambda m: (weight(m), -m.start))


def person_word(mention: Mention | None) -> str | None:
    """The word the writer used for the person ("husband", "bf"), or None for a setting word."""
    if mention is None or weight(mention) < OWN_PERSON:
        return None
    return mention.text.lower()
