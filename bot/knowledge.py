"""The assistant's knowledge as plain functions over bot/knowledge/*.yml (no Rasa needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from bot.paths import KNOWLEDGE_DIR
from bot.yaml_data import load_yaml

TRUST_FILE = KNOWLEDGE_DIR / "trust.yml"
SELF_CHECK_FILE = KNOWLEDGE_DIR / "self_check.yml"
RELATIONSHIP_KINDS = ("romantic", "friendship", "family", "work")


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


def menu_buttons() -> list[dict[str, str]]:
    return [
        {"title": "Signs", "payload": "/ask_signs"},
        {"title": "Causes", "payload": "/ask_causes"},
        {"title": "Rebuilding trust", "payload": "/ask_rebuild"},
        {"title": "Therapy options", "payload": "/ask_therapy"},
        {"title": "Self-check", "payload": "/start_self_check"},
    ]


def explain_trust_issues() -> str:
    about = trust()["about"]
    return "\n\n".join([about["definition"], about["versus_caution"], about["versus_paranoia"], about["not_a_diagnosis"]])


def signs_text(relationship: str | None) -> str:
    """General signs, plus the signs for the relationship kind when it is known."""
    data = trust()
    parts = []
    if relationship in data["signs"] and relationship != "general":
        short = data["relationship_kinds"][relationship]["short"]
        parts.append(f"Here is how trust issues often show up in {short}:")
        parts.append(_bullets(f"{s['title']}: {s['text']}" for s in data["signs"][relationship]))
        parts.append("And signs that show up in any relationship:")
    else:
        parts.append("Some common signs of trust issues:")
    parts.append(_bullets(f"{s['title']}: {s['text']}" for s in data["signs"]["general"]))
    parts.append("Noticing a few of these is common and is not a diagnosis.")
    return "\n\n".join(parts)


def causes_text() -> str:
    causes = trust()["causes"]
    return "\n\n".join(["Trust issues usually have roots. Some of the most common:"] + [f"{c['title']}: {c['text']}" for c in causes])


def rebuild_text() -> str:
    data = trust()["rebuilding"]
    parts = [data["intro"]]
    for group in data["groups"]:
        parts.append(f"{group['title']}:\n{_bullets(group['steps'])}")
    return "\n\n".join(parts)


def therapy_overview() -> str:
    data = trust()["therapy"]
    names = _bullets(f"{m['name']}: {m['what']}" for m in data["modalities"].values())
    return "\n\n".join([data["intro"], "Approaches that often help:", names, data["paradox"]])


def therapy_buttons() -> list[dict[str, str]]:
    buttons = [{"title": "Which might suit me?", "payload": "/suggest_therapy"}]
    for key, modality in trust()["therapy"]["modalities"].items():
        buttons.append({"title": modality["name"], "payload": f'/ask_modality{{"modality":"{key}"}}'})
    return buttons


def modality_text(modality: str | None) -> str | None:
    """What a modality is, how a session goes and whom it suits; None when unknown."""
    data = trust()["therapy"]["modalities"].get(modality or "")
    if data is None:
        return None
    return "\n\n".join(
        [
            f"{data['name']}: {data['what']}",
            f"What a session is like: {data['session']}",
            f"Who it tends to suit: {data['suits']}",
        ]
    )


@dataclass(frozen=True)
class TherapySuggestion:
    modality: str
    name: str
    reasons: tuple[str, ...]


REASON_TEXT = {
    "romantic": "it works well on jealousy and suspicion in a relationship",
    "friendship": "it lets you practise trusting people in a safe setting",
    "family": "it can look at patterns that started at home",
    "work": "it builds practical skills for trusting people at work",
    "childhood": "it can work on experiences from childhood",
    "betrayal": "it can help you heal after being betrayed",
    "repeated_letdowns": "it can help with being let down again and again",
    "trauma": "it is designed for painful or traumatic memories",
    "anxiety": "it helps when worry and anxiety drive the distrust",
    "hard_in_person": "you can start from home, without meeting anyone face to face",
    "skepticism": "it helps you test suspicious thoughts against the facts",
    "low_self_esteem": "it can help you trust your own judgement again",
    "attachment_style": "it can gently explore how you learned to bond with people",
    "starting_out": "it is an easy first step",
}


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
        reasons = tuple(REASON_TEXT[m] for m in matched if m in REASON_TEXT) or (
            "it is a widely used starting point for trust difficulties",
        )
        suggestions.append(TherapySuggestion(key, modalities[key]["name"], reasons))
    return suggestions


def suggestion_text(suggestions: list[TherapySuggestion]) -> str:
    data = trust()["therapy"]
    lines = ["From what you've shared, these might suit you:"]
    for number, suggestion in enumerate(suggestions, start=1):
        lines.append(f"{number}. {suggestion.name}: {'; '.join(suggestion.reasons)}.")
    return "\n\n".join(["\n".join(lines), data["finding_help"], data["professional_decides"]])


def self_check_items() -> list[dict[str, Any]]:
    return self_check()["items"]


def self_check_slots() -> list[str]:
    return [item["slot"] for item in self_check_items()]


def self_check_question(slot: str) -> str:
    items = {item["slot"]: item for item in self_check_items()}
    number = self_check_slots().index(slot) + 1
    return f"{number}/{len(items)}: {items[slot]['statement']}"


def self_check_tags(answers: Mapping[str, Any]) -> list[str]:
    """Cause tags from the statements answered yes (for the therapy suggestion)."""
    tags: list[str] = []
    for item in self_check_items():
        if answers.get(item["slot"]) is True:
            tags += item["tags"]
    return list(dict.fromkeys(tags))


def self_check_reflection(answers: Mapping[str, Any]) -> str:
    """A gentle reflection of the statements the person recognised. Never a diagnosis."""
    data = self_check()
    reflection = data["reflection"]
    recognised = [item for item in data["items"] if answers.get(item["slot"]) is True]
    if not recognised:
        return reflection["none"]
    titles = {s["id"]: s["title"] for group in trust()["signs"].values() for s in group}
    listed = _bullets(f"{item['statement']} ({titles[item['sign']].lower()})" for item in recognised)
    parts = [reflection["some"], listed, reflection["gentle"]]
    if len(recognised) >= reflection["many_threshold"]:
        parts.append(reflection["many"])
    return "\n\n".join(parts)


def acknowledgement(relationship: str | None) -> str:
    texts = trust()["acknowledgements"]
    return texts.get(relationship or "general", texts["general"])


def menu_intro(relationship: str | None) -> str:
    data = trust()
    intro = data["menu_intro"]
    kind = data["relationship_kinds"].get(relationship or "")
    return intro["known"].format(short=kind["short"]) if kind else intro["unknown"]


def yes_no_buttons() -> list[dict[str, str]]:
    return [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def after_self_check_buttons() -> list[dict[str, str]]:
    return [
        {"title": "Which therapy might suit me?", "payload": "/suggest_therapy"},
        {"title": "Rebuilding trust", "payload": "/ask_rebuild"},
        {"title": "Causes", "payload": "/ask_causes"},
        {"title": "Back to the menu", "payload": "/show_menu"},
    ]
