"""Schema of the crisis resources and referral messages, and the choice by country and kind."""

import datetime
import re

from bot.safety import referral

KINDS = {"suicide", "self_harm", "abuse", "sexual_violence", "immediate_danger", "harm_to_others", "child_abuse"}


def test_every_service_records_contact_source_and_last_checked_date():
    data = referral.resources()
    assert data["version"] >= 1
    for service_id, service in data["services"].items():
        required = {"name", "country", "helps_with", "contact", "source", "last_checked"}
        assert required <= set(service) <= required | {"region"}, service_id
        assert service["country"] in data["countries"] or service["country"] == "ANY"
        assert set(service["helps_with"]) <= KINDS
        assert service["source"].strip()
        checked = service["last_checked"]
        assert isinstance(checked, datetime.date) and checked.year >= 2026
        assert re.search(r"\d", service["contact"]) or "findahelpline" in service["contact"]
    for code in data["countries"]:
        assert code == "OTHER" or code in data["emergency"]
    for ids in [data["international"], *data["international_by_kind"].values()]:
        assert set(ids) <= set(data["services"])


def test_the_numbers_match_the_reference():
    services = referral.resources()["services"]
    expected = {
        "us_988": "988",
        "us_crisis_text_line": "741741",
        "us_domestic_violence": "1-800-799-7233",
        "us_childhelp": "1-800-422-4453",
        "us_rainn": "1-800-656-4673",
        "gb_samaritans": "116 123",
        "ie_samaritans": "116 123",
        "gb_domestic_abuse": "0808 2000 247",
        "gb_mens_advice_line": "0808 801 0327",
        "ca_988": "9-8-8",
        "au_lifeline": "13 11 14",
        # The specialist lines of the reference's section on the UK, Ireland, Canada and Australia.
        "gb_rape_crisis": "0808 500 2222",
        "gb_nspcc": "0808 800 5000",
        "gb_childline": "0800 1111",
        "gb_scotland_domestic_abuse": "0800 027 1234",
        "gb_rape_crisis_scotland": "08088 01 03 02",
        "gb_shout": "85258",
        "ie_pieta": "1800 247 247",
        "ie_text_50808": "50808",
        "ie_womens_aid": "1800 341 900",
        "ie_rape_crisis": "1800 77 88 88",
        "ie_childline": "1800 66 66 66",
        "ie_mens_aid": "01 554 3811",
        "ca_kids_help_phone": "1-800-668-6868",
        "ca_sheltersafe": "sheltersafe.ca",
        "au_1800respect": "1800 737 732",
        "au_kids_helpline": "1800 55 1800",
        "au_suicide_call_back": "1300 659 467",
    }
    for service_id, number in expected.items():
        assert number in services[service_id]["contact"], service_id
    emergency = referral.resources()["emergency"]
    assert [emergency[c]["number"] for c in ("US", "CA", "GB", "IE", "AU")] == ["911", "911", "999", "112", "000"]


def ids(services):
    return [s.id for s in services]


def test_unknown_country_gets_the_international_set():
    chosen = ids(referral.choose_services(["suicide"], None))
    assert chosen[:5] == ["us_988", "gb_samaritans", "ca_988", "au_lifeline", "findahelpline"]


def test_kind_picks_the_right_kind_of_service():
    assert ids(referral.choose_services(["abuse"], "US"))[0] == "us_domestic_violence"
    assert ids(referral.choose_services(["sexual_violence"], "US"))[0] == "us_rainn"
    assert ids(referral.choose_services(["abuse"], "US", involves_child=True))[0] == "us_childhelp"
    assert ids(referral.choose_services(["abuse"], "GB"))[:2] == ["gb_domestic_abuse", "gb_mens_advice_line"]
    assert ids(referral.choose_services(["suicide"], "GB")) == ["gb_samaritans", "gb_shout", "findahelpline"]
    assert "us_domestic_violence" in ids(referral.choose_services(["abuse"], None))
    assert ids(referral.choose_services(["sexual_violence"], "AU"))[0] == "au_1800respect"
    assert ids(referral.choose_services(["sexual_violence"], "IE"))[0] == "ie_rape_crisis"
    assert ids(referral.choose_services(["abuse"], "IE"))[:2] == ["ie_womens_aid", "ie_mens_aid"]
    assert ids(referral.choose_services(["suicide"], "IE"))[:2] == ["ie_pieta", "ie_samaritans"]
    assert ids(referral.choose_services(["abuse"], "CA"))[0] == "ca_sheltersafe"


def test_a_child_at_risk_gets_a_child_line_in_every_country():
    child_lines = {"US": "us_childhelp", "GB": "gb_childline", "IE": "ie_childline", "CA": "ca_kids_help_phone", "AU": "au_kids_helpline"}
    for country, line in child_lines.items():
        assert line in ids(referral.choose_services(["abuse"], country, involves_child=True))[:2], country
    unknown = ids(referral.choose_services(["abuse"], None, involves_child=True))
    assert set(child_lines.values()) - {"ie_childline"} <= set(unknown)


def test_with_no_country_every_number_carries_its_country():
    text = referral.compose_referral(["sexual_violence"], "self", None).text
    assert "988 Suicide & Crisis Lifeline (US): Call or text 988" in text
    assert "Samaritans (UK and Ireland): Call 116 123" in text
    assert "Rape Crisis 24/7 Support Line (England and Wales)" in text
    assert "1800RESPECT (Australia)" in text
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert all("(" in line.split(":")[0] or "findahelpline" in line for line in lines), lines
    known = referral.compose_referral(["suicide"], "self", "US").text
    assert "988 Suicide & Crisis Lifeline: Call or text 988" in known


def test_immediate_danger_puts_emergency_services_first():
    text = referral.compose_referral(["immediate_danger", "abuse"], "self", "GB").text
    assert text.index("999") < text.index("0808 2000 247")
    assert "press 55" in text


def test_referral_is_warm_asks_about_safety_and_offers_to_keep_talking():
    result = referral.compose_referral(["suicide"], "self", "US")
    assert "Are you safe right now?" in result.text
    assert "keep talking" in result.text
    assert "988" in result.text
    assert [b["payload"] for b in result.buttons] == ["/crisis_safe", "/crisis_not_safe", "/crisis_numbers", "/tell_country"]
    other = referral.compose_referral(["suicide"], "other", "US").text
    assert "worried about someone else" in other


def test_country_is_read_from_codes_names_and_locales():
    assert referral.normalise_country("en-GB") == "GB"
    assert referral.normalise_country("fr_CA") == "CA"
    assert referral.normalise_country("Ireland") == "IE"
    assert referral.normalise_country("gb") == "GB"
    assert referral.normalise_country("de-DE") is None
    assert referral.normalise_country(None) is None


def test_emergency_notes_end_their_sentence_before_what_follows():
    for country in ("US", "CA", "GB", "IE", "AU"):
        text = referral.not_safe_text(["suicide"], country)
        assert "If you can" in text and re.search(r"[.)]\.? If you can", text), text
    assert "Call 000 If" not in referral.not_safe_text(["suicide"], "AU")


def test_the_not_safe_reply_fits_what_was_disclosed():
    abuse = referral.not_safe_text(["abuse"], "GB")
    assert "anything you could use to hurt yourself" not in abuse and "somewhere safer" in abuse
    assert abuse.index("999") < abuse.index("0808 2000 247")
    assert "anything you could use to hurt yourself" in referral.not_safe_text(["suicide"], "GB")
    assert "distance" in referral.not_safe_text(["harm_to_others"], "US")


def test_the_check_in_asks_directly_with_the_matching_line_and_three_buttons():
    check_in = referral.compose_check_in("abuse", "self", "IE")
    assert "Is someone hurting you" in check_in.text and "1800 341 900" in check_in.text
    assert [b["title"] for b in check_in.buttons] == ["Yes", "No", "I'd rather not say"]
    assert check_in.buttons[0]["payload"] == '/crisis_disclosure{"crisis_kind":"abuse","crisis_about":"self"}'
    suicide = referral.compose_check_in("suicide", "self", None)
    assert "thoughts of ending your life" in suicide.text and "988 Suicide & Crisis Lifeline (US)" in suicide.text
    other = referral.compose_check_in("self_harm", "other", "AU")
    assert "Is the person you're worried about hurting themselves?" in other.text
    assert "Are you" in referral.compose_check_in(None, None, "US").text
