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


def explain_trust_issues() -> str:
    about = trust()["about"]
    return "\n\n".join([about["definition"], about["versus_caution"], about["versus_paranoia"], about["not_a_diagnosis"]])


def signs_text(relationship: str | None) -> str:
    """General signs, plus the signs for the relationship kind when it is known."""
    data = trust()
    parts = []
    if relationship in data["signs"] and relationship != "general":
        parts.append(phrase("signs_in_relationship", short=data["relationship_kinds"][relationship]["short"]))
        parts.append(_bullets(f"{s['title']}: {s['text']}" for s in data["signs"][relationship]))
        parts.append(phrase("signs_in_any_relationship"))
    else:
        parts.append(phrase("signs_common"))
    parts.append(_bullets(f"{s['title']}: {s['text']}" for s in data["signs"]["general"]))
    parts.append(phrase("signs_not_a_diagnosis"))
    return "\n\n".join(parts)


def causes_text() -> str:
    causes = trust()["causes"]
    return "\n\n".join([phrase("causes_intro")] + [f"{c['title']}: {c['text']}" for c in causes])


def rebuild_text() -> str:
    data = trust()["rebuilding"]
    parts = [data["intro"]]
    for group in data["groups"]:
        parts.append(f"{group['title']}:\n{_bullets(group['steps'])}")
    return "\n\n".join(parts)


def therapy_overview() -> str:
    data = trust()["therapy"]
    names = _bullets(f"{m['name']}: {m['what']}" for m in data["modalities"].values())
    return "\n\n".join([data["intro"], phrase("therapy_approaches"), names, data["paradox"]])


def therapy_buttons() -> list[dict[str, str]]:
    found = buttons("therapy_suggest")
    for key, modality in trust()["therapy"]["modalities"].items():
        found.append({"title": modality["name"], "payload": f'/ask_modality{{"modality":"{key}"}}'})
    return found


def modality_text(modality: str | None) -> str | None:
    """What a modality is, how a session goes and whom it suits; None when unknown."""
    data = trust()["therapy"]["modalities"].get(modality or "")
    if data is None:
        return None
    return "\n\n".join(
        [
            f"{data['name']}: {data['what']}",
            phrase("modality_session", session=data["session"]),
            phrase("modality_suits", suits=data["suits"]),
        ]
    )


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


def suggestion_text(suggestions: list[TherapySuggestion]) -> str:
    data = trust()["therapy"]
    lines = [phrase("suggestion_intro")]
    for number, suggestion in enumerate(suggestions, start=1):
        lines.append(f"{number}. {suggestion.name}: {'; '.join(suggestion.reasons)}.")
    return "\n\n".join(["\n".join(lines), data["finding_help"], data["professional_decides"]])


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


def acknowledgement(relationship: str | None) -> str:
    texts = trust()["acknowledgements"]
    return texts.get(relationship or "general", texts["general"])


def menu_intro(relationship: str | None) -> str:
    data = trust()
    intro = data["menu_intro"]
    kind = data["relationship_kinds"].get(relationship or "")
    return intro["known"].format(short=kind["short"]) if kind else intro["unknown"]
