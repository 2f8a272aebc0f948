"""Choosing crisis services and writing the referral message (plain Python)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from bot.paths import KNOWLEDGE_DIR, SAFETY_DIR
from bot.yaml_data import load_yaml

RESOURCES_FILE = SAFETY_DIR / "resources.yml"
MESSAGES_FILE = SAFETY_DIR / "messages.yml"
GENERAL_KIND = "suicide"


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    country: str
    contact: str
    region: str | None = None

    def line(self, country_known: bool = True) -> str:
        """One line of the referral. When the person's country is unknown every service
        carries its country, so nobody dials a line that does not exist where they are."""
        place = self.region
        if not place and not country_known and self.country != "ANY":
            place = resources()["country_labels"][self.country]
        return f"- {self.name} ({place}): {self.contact}" if place else f"- {self.name}: {self.contact}"


def service_lines(services: Iterable[Service], country: str | None) -> str:
    known = country in resources()["countries"] and country != "OTHER"
    return "\n".join(service.line(country_known=known) for service in services)


def resources() -> dict[str, Any]:
    return load_yaml(RESOURCES_FILE)


def messages() -> dict[str, Any]:
    return load_yaml(MESSAGES_FILE)


def _service(service_id: str) -> Service:
    entry = resources()["services"][service_id]
    return Service(service_id, entry["name"], entry["country"], entry["contact"], entry.get("region"))


def country_aliases() -> dict[str, str]:
    """Country names people use ("uk", "england") mapped to codes, from the entity vocabulary."""
    vocabulary = load_yaml(KNOWLEDGE_DIR / "vocabulary.yml")["entities"]["country"]
    return {str(phrase).lower(): code for code, phrases in vocabulary.items() for phrase in phrases}


def normalise_country(value: str | None) -> str | None:
    """A supported country code from a code, a name or a locale ("en-GB", "uk"), else None."""
    if not value:
        return None
    text = str(value).strip().lower().replace("_", "-")
    data = resources()
    countries = {code.lower(): code for code in data["countries"] if code != "OTHER"}
    aliases = country_aliases()
    if text in countries:
        return countries[text]
    if text in aliases:
        return aliases[text]
    if text in data["locale_countries"]:
        return data["locale_countries"][text]
    for code, name in data["countries"].items():
        if code != "OTHER" and name.lower() == text:
            return code
    region = text.split("-")[-1] if "-" in text else None
    return countries.get(region) if region else None


def person_country(metadata: Any, slot_value: Any = None) -> str | None:
    """Country from channel metadata `country`, then the `country` slot, then the metadata's
    locale or language (Telegram gives only that)."""
    metadata = metadata if isinstance(metadata, dict) else {}
    for value in (metadata.get("country"), slot_value, metadata.get("locale"), metadata.get("language_code"), metadata.get("language")):
        found = normalise_country(value)
        if found:
            return found
    return None


def choose_services(kinds: Iterable[str], country: str | None, involves_child: bool = False) -> list[Service]:
    """Services for what was disclosed, for the person's country when known."""
    data = resources()
    needed = list(kinds) or [GENERAL_KIND]
    if involves_child:
        needed.insert(0, "child_abuse")
    chosen: list[str] = []
    if country in data["countries"] and country != "OTHER":
        local = {sid: s for sid, s in data["services"].items() if s["country"] == country}
        for kind in needed:
            # The most specialised service first: "abuse" puts the domestic-violence line
            # ahead of a general crisis line that also takes abuse calls.
            matching = [sid for sid, s in local.items() if kind in s["helps_with"]]
            chosen += sorted(matching, key=lambda sid: len(local[sid]["helps_with"]))
        if not chosen:
            chosen = [sid for sid, s in local.items() if GENERAL_KIND in s["helps_with"]]
        chosen.append("findahelpline")
    else:
        for kind in needed:
            chosen += data["international_by_kind"].get(kind, [])
        chosen += data["international"]
    return [_service(sid) for sid in dict.fromkeys(chosen)]


def abuse_lines(country: str | None) -> str:
    """The domestic abuse lines for the person's country (each with its country when unknown),
    without the general crisis lines a disclosure of abuse also gets."""
    data = resources()["services"]
    chosen = [s for s in choose_services(["abuse"], country) if s.id == "findahelpline" or "suicide" not in data[s.id]["helps_with"]]
    return service_lines(chosen, country)


def emergency_text(country: str | None) -> str:
    data = resources()
    if country in data["emergency"]:
        return data["emergency"][country]["note"]
    return data["emergency_international"]


@dataclass(frozen=True)
class Referral:
    text: str
    buttons: list[dict[str, str]]
    services: list[Service]


def referral_buttons() -> list[dict[str, str]]:
    labels = messages()["buttons"]
    return [
        {"title": labels["safe"], "payload": "/crisis_safe"},
        {"title": labels["not_safe"], "payload": "/crisis_not_safe"},
        {"title": labels["numbers"], "payload": "/crisis_numbers"},
        {"title": labels["country"], "payload": "/tell_country"},
    ]


def compose_referral(
    kinds: Iterable[str],
    about: str | None = "self",
    country: str | None = None,
    involves_child: bool = False,
) -> Referral:
    """The whole referral: warm opening, safety question, services, offer to keep talking."""
    text_data = messages()
    kinds = [k for k in kinds if k] or [GENERAL_KIND]
    perspective = "other" if about == "other" else "self"
    openings = text_data["opening"][perspective]
    lines = [openings.get(kinds[0], openings[GENERAL_KIND])]
    emergency = emergency_text(country)
    if "immediate_danger" in kinds:
        lines.append(text_data["emergency_first"].format(emergency=emergency))
    lines.append(text_data["safety_question_other" if perspective == "other" else "safety_question"])
    services = choose_services(kinds, country, involves_child)
    lines.append(text_data["services_intro"])
    lines.append(service_lines(services, country))
    if involves_child:
        lines.append(text_data["child_note"])
    if "immediate_danger" not in kinds:
        lines.append(text_data["emergency_last"].format(emergency=emergency))
    if country is None:
        lines.append(text_data["country_hint"])
    lines.append(text_data["keep_talking"])
    return Referral("\n\n".join(lines), referral_buttons(), services)


def numbers_text(kinds: Iterable[str], country: str | None) -> str:
    """Just the services and emergency numbers, for "show me the numbers again"."""
    services = choose_services([k for k in kinds if k], country)
    return "\n\n".join(
        [
            messages()["numbers_intro"],
            service_lines(services, country),
            messages()["emergency_last"].format(emergency=emergency_text(country)),
        ]
    )


def not_safe_text(kinds: Iterable[str], country: str | None) -> str:
    """The reply to "no, I'm not safe": emergency services first, advice that fits what was
    disclosed (getting away from someone is not the same as staying away from means), then
    the services again."""
    kinds = [k for k in kinds if k]
    texts = messages()["not_safe"]
    first_kind = next((k for k in kinds if k in texts), GENERAL_KIND)
    first = texts[first_kind].format(emergency=emergency_text(country)).strip()
    return "\n\n".join([first, service_lines(choose_services(kinds, country), country)])


@dataclass(frozen=True)
class CheckIn:
    text: str
    buttons: list[dict[str, str]]


def compose_check_in(kind: str | None, about: str | None, country: str | None) -> CheckIn:
    """A direct, kind question when the assistant is unsure whether someone disclosed a crisis,
    with the matching service's line beneath it. "Yes" is a referral for that kind."""
    data = messages()["check_in"]
    kind = kind if kind in data["question"]["self"] else GENERAL_KIND
    perspective = "other" if about == "other" else "self"
    service = choose_services([kind], country)[0]
    text = "\n\n".join(
        [
            data["opening"],
            data["question"][perspective][kind],
            data["line_intro"] + "\n" + service_lines([service], country),
        ]
    )
    payload = '/crisis_disclosure{"crisis_kind":"%s","crisis_about":"%s"}' % (kind, perspective)
    labels = data["buttons"]
    buttons = [
        {"title": labels["yes"], "payload": payload},
        {"title": labels["no"], "payload": "/deny"},
        {"title": labels["rather_not_say"], "payload": "/rather_not_say"},
    ]
    return CheckIn(text, buttons)


def check_in_reply(answer: str) -> str:
    """What the assistant says after "no" or "I'd rather not say" to a check-in."""
    return messages()["check_in"]["after"][answer]


def country_buttons() -> list[dict[str, str]]:
    return [{"title": name, "payload": f'/tell_country{{"country":"{code}"}}'} for code, name in resources()["countries"].items()]
