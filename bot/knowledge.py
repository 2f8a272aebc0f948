"""The assistant's knowledge as plain functions over bot/knowledge/*.yml (no Rasa needed)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Sequence

from bot.paths import KNOWLEDGE_DIR, REPO_ROOT
from bot.yaml_data import load_yaml

TRUST_FILE = KNOWLEDGE_DIR / "trust.yml"
SELF_CHECK_FILE = KNOWLEDGE_DIR / "self_check.yml"
RELATIONSHIP_KINDS = ("romantic", "friendship", "family", "work")
# A turn is at most PAGE_BUBBLES bubbles of content of about BUBBLE_WORDS words, then one question.
BUBBLE_WORDS = 75
PAGE_BUBBLES = 2
TOPICS = ("about", "impact", "signs", "causes", "rebuild", "repair", "support")


def trust() -> dict[str, Any]:
    return load_yaml(TRUST_FILE)


def self_check() -> dict[str, Any]:
    return load_yaml(SELF_CHECK_FILE)


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def relationship_buttons() -> list[dict[str, str]]:
    return [
        {"title": kind["label"], "payload": f'/choose_relationship{{"relationship":"{key}"}}'}
        for key, kind in trust()["relationship_kinds"].items()
    ]


@lru_cache(maxsize=1)
def _domain_menu() -> tuple[tuple[str, str], ...]:
    response = load_yaml(REPO_ROOT / "domain.yml")["responses"]["utter_menu"][0]
    return tuple((button["title"], button["payload"]) for button in response["buttons"])


def menu_buttons() -> list[dict[str, str]]:
    """The menu's buttons as domain.yml defines them (`utter_menu`), for replies sent without
    the action server (bot/channels/safety_net.py); actions send the response itself."""
    return [{"title": title, "payload": payload} for title, payload in _domain_menu()]


def phrase(name: str, **values: str) -> str:
    """One of the sentences answers are built with (`phrases` in trust.yml), filled in."""
    text = trust()["phrases"][name]
    return text.format(**values) if values else text


def buttons(name: str) -> list[dict[str, str]]:
    """A set of buttons from `buttons` in trust.yml."""
    found = trust()["buttons"][name]
    return [dict(button) for button in (found if isinstance(found, list) else [found])]


def _glue_headings(items: list[str]) -> list[str]:
    """An item ending with a colon is a heading: it goes in one bubble with the item after it."""
    glued: list[str] = []
    for item in items:
        if glued and glued[-1].endswith(":"):
            glued[-1] = f"{glued[-1]}\n{item}"
        else:
            glued.append(item)
    return glued


def pack_bubbles(items: list[str], limit: int = BUBBLE_WORDS) -> list[str]:
    """Items in bubbles of at most `limit` words (an item longer than that has one to itself),
    lines within a bubble joined by line breaks. A heading starts a bubble of its own: after a
    list, Markdown would read it as part of the list's last point."""
    bubbles: list[list[str]] = []
    for item in _glue_headings(items):
        starts_with_heading = item.split("\n", 1)[0].endswith(":")
        if bubbles and not starts_with_heading and len(" ".join(bubbles[-1] + [item]).split()) <= limit:
            bubbles[-1].append(item)
        else:
            bubbles.append([item])
    return ["\n".join(bubble) for bubble in bubbles]


def _steps(groups: list[dict[str, Any]]) -> list[str]:
    return [f"{group['title']}:\n{_bullets(group['steps'])}" for group in groups]


def topic_items(topic: str, relationship: str | None = None, causes: Iterable[str] = ()) -> list[str]:
    """The paragraphs and points of a topic, in the order they are given."""
    data = trust()
    about = data["about"]
    if topic == "about":
        return [about["definition"], about["versus_caution"], about["versus_paranoia"], about["not_a_diagnosis"]]
    if topic == "impact":
        return [about["why_it_matters"], about["for_loved_ones"]]
    if topic == "signs":
        items = []
        if relationship in data["signs"] and relationship != "general":
            items.append(phrase("signs_in_relationship", short=data["relationship_kinds"][relationship]["short"]))
            items += [f"- {s['title']}: {s['text']}" for s in data["signs"][relationship]]
            items.append(phrase("signs_in_any_relationship"))
        else:
            items.append(phrase("signs_common"))
        items += [f"- {s['title']}: {s['text']}" for s in data["signs"]["general"]]
        return items + [phrase("signs_not_a_diagnosis")]
    if topic == "causes":
        named = list(causes)
        ordered = sorted(data["causes"], key=lambda c: named.index(c["id"]) if c["id"] in named else len(named))
        return [phrase("causes_intro")] + [f"{c['title']}: {c['text']}" for c in ordered]
    if topic in ("rebuild", "repair", "support"):
        section = data[{"rebuild": "rebuilding", "repair": "repairing", "support": "supporting"}[topic]]
        return [section["intro"]] + _steps(section["groups"])
    raise KeyError(topic)


@dataclass(frozen=True)
class Page:
    """One turn of a long answer: a few bubbles, then one question with next steps."""

    bubbles: list[str]
    question: str
    buttons: list[dict[str, str]]
    next_page: str | None  # "topic:index" that "Tell me more" continues with, None on the last page


def topic_page(topic: str, index: int = 0, relationship: str | None = None, causes: Iterable[str] = ()) -> Page:
    """Page `index` of a topic (the last one when `index` is past the end)."""
    bubbles = pack_bubbles(topic_items(topic, relationship, causes))
    pages = [bubbles[i : i + PAGE_BUBBLES] for i in range(0, len(bubbles), PAGE_BUBBLES)]
    index = max(0, min(index, len(pages) - 1))
    guided = trust()["guided"]
    steps = guided_buttons(topic)
    if index + 1 < len(pages):
        marker = f"{topic}:{index + 1}"
        more = {"title": guided["more_button"], "payload": f'/tell_more{{"more_topic":"{marker}"}}'}
        return Page(pages[index], guided["questions"][topic]["more"], [more] + steps[:2], marker)
    return Page(pages[index], guided["questions"][topic]["done"], steps, None)


def parse_page_marker(marker: str | None) -> tuple[str, int] | None:
    """("causes", 1) from "causes:1"; None for anything else."""
    topic, _, index = (marker or "").partition(":")
    return (topic, int(index)) if topic in TOPICS and index.isdigit() else None


def therapy_overview() -> list[str]:
    """The therapy answer's bubbles: what therapy does, and the approaches by name."""
    data = trust()["therapy"]
    names = ", ".join(m["name"] for m in data["modalities"].values())
    return [data["intro"], f"{phrase('therapy_approaches')} {names}. {data['paradox']}"]


def therapy_buttons() -> list[dict[str, str]]:
    found = buttons("therapy_suggest")
    for key, modality in trust()["therapy"]["modalities"].items():
        found.append({"title": modality["name"], "payload": f'/ask_modality{{"modality":"{key}"}}'})
    return found


def modality_text(modality: str | None) -> list[str] | None:
    """What a modality is and how a session goes, then whom it suits; None when unknown."""
    data = trust()["therapy"]["modalities"].get(modality or "")
    if data is None:
        return None
    return [
        f"{data['name']}: {data['what']} {phrase('modality_session', session=data['session'])}",
        phrase("modality_suits", suits=data["suits"]),
    ]


@dataclass(frozen=True)
class TherapySuggestion:
    modality: str
    name: str
    reasons: tuple[str, ...]


def suggest_therapies(
    relationship: str | None,
    causes: Iterable[str] = (),
    in_person_hard: bool | None = None,
    limit: int = 3,
) -> list[TherapySuggestion]:
    """Rank modalities by how many of the person's circumstances each fits."""
    circumstances = [c for c in [relationship, *causes] if c]
    if in_person_hard:
        circumstances.append("hard_in_person")
    circumstances = list(dict.fromkeys(circumstances))
    modalities = trust()["therapy"]["modalities"]
    scored = []
    for order, (key, data) in enumerate(modalities.items()):
        matched = [c for c in circumstances if c in data["fits"]]
        # Meeting in person is hard: in-person-only options drop, online rises.
        penalty = 1 if in_person_hard and key in ("group",) else 0
        scored.append((-(len(matched) - penalty), order, key, matched))
    scored.sort()
    suggestions = []
    for _, _, key, matched in scored[:limit]:
        reason_texts = trust()["therapy"]["reasons"]
        reasons = tuple(reason_texts[m] for m in matched if m in reason_texts) or (trust()["therapy"]["default_reason"],)
        suggestions.append(TherapySuggestion(key, modalities[key]["name"], reasons))
    return suggestions


def suggestion_text(suggestions: list[TherapySuggestion]) -> list[str]:
    """The suggestions with their reasons, then how to find a therapist."""
    data = trust()["therapy"]
    lines = [phrase("suggestion_intro")]
    for number, suggestion in enumerate(suggestions, start=1):
        lines.append(f"{number}. {suggestion.name}: {'; '.join(suggestion.reasons)}.")
    return ["\n".join(lines) + f"\n{data['professional_decides']}", data["finding_help"]]


def guided_buttons(name: str) -> list[dict[str, str]]:
    """The next steps offered after an answer (`guided.next_steps` in trust.yml)."""
    return [dict(b) for b in trust()["guided"]["next_steps"][name]]


def guided_phrase(name: str) -> str:
    return trust()["guided"][name]


def self_check_items() -> list[dict[str, Any]]:
    return self_check()["items"]


def self_check_intro() -> str:
    return self_check()["intro"].format(count=len(self_check_items()))


def self_check_question(index: int) -> str:
    """The question at `index` (0-based), numbered for the person: "3/9: ..."."""
    items = self_check_items()
    return f"{index + 1}/{len(items)}: {items[index]['statement']}"


def recognised_items(answers: Sequence[Any] | None) -> list[dict[str, Any]]:
    """The items answered yes, given the answers in the order the items were asked."""
    return [item for item, answer in zip(self_check_items(), answers or []) if answer is True]


def self_check_tags(answers: Sequence[Any] | None) -> list[str]:
    """Cause tags from the statements answered yes (for the therapy suggestion)."""
    tags: list[str] = []
    for item in recognised_items(answers):
        tags += item["tags"]
    return list(dict.fromkeys(tags))


def self_check_reflection(answers: Sequence[Any] | None) -> str:
    """A gentle reflection of the statements the person recognised. Never a diagnosis."""
    reflection = self_check()["reflection"]
    recognised = recognised_items(answers)
    if not recognised:
        return reflection["none"]
    titles = {s["id"]: s["title"] for group in trust()["signs"].values() for s in group}
    listed = _bullets(f"{item['statement']} ({titles[item['sign']].lower()})" for item in recognised)
    parts = [reflection["some"], listed, reflection["gentle"]]
    if len(recognised) >= reflection["many_threshold"]:
        parts.append(reflection["many"])
    return "\n\n".join(parts)


REFLECTION_WHOSE = ("mine", "distrusted", "someone_else")


def reflection(whose: str, relationship: str | None, person: str | None, causes: Iterable[str] = ()) -> str:
    """One sentence that says back what the person described, in their words: whose trust,
    who it is about ("your bf") and what happened (the first cause they named)."""
    data = trust()["reflections"]
    templates = data[whose]
    what = next((data["what"][c] for c in causes if c in data["what"]), "")
    if person:
        return templates["person"].format(person=person, what=what)
    kind = trust()["relationship_kinds"].get(relationship or "")
    if kind and "kind" in templates:
        return templates["kind"].format(short=kind["short"], what=what)
    return templates["none"].format(what=what)


def reflection_question(whose: str) -> tuple[str, list[dict[str, str]]]:
    """The one question asked after the reflection, with its choices."""
    asked = trust()["reflections"][whose]
    return asked["question"], [dict(b) for b in asked["choices"]]


@dataclass(frozen=True)
class Clarification:
    """What to say to a long message that was not understood well enough to answer."""

    text: str
    question: str
    buttons: list[dict[str, str]]


def clarification(text: str, relationship: str | None, person: str | None) -> Clarification | None:
    """For a long message the classifier was unsure about: thanks, who it is about, and whose
    trust is in question. None for a short one (it gets "say it another way")."""
    data = trust()["clarify"]
    if len(text.split()) < data["min_words"]:
        return None
    said = data["with_person"].format(person=person) if person else data["without_person"]
    own = f"/concern_{relationship}" if relationship in RELATIONSHIP_KINDS else "/ask_rebuild"
    buttons = [{"title": data["hard_to_trust"], "payload": own}] + [dict(b) for b in data["buttons"]]
    return Clarification(said, data["question"], buttons)


def controlling_reply() -> tuple[str, str, list[dict[str, str]]]:
    """What controlling behaviour is, the sentence that introduces the lines, and the buttons."""
    data = trust()["controlling"]
    return data["text"], data["support"], [dict(b) for b in data["buttons"]]


def menu_intro(relationship: str | None) -> str:
    data = trust()
    intro = data["menu_intro"]
    kind = data["relationship_kinds"].get(relationship or "")
    return intro["known"].format(short=kind["short"]) if kind else intro["unknown"]
