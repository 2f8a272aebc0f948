"""Schema of the crisis resources and referral messages, and the choice by country and kind."""

import datetime
import re

from bot.safety import referral

KINDS = {"suicide", "self_harm", "abuse", "sexual_violence", "immediate_danger", "harm_to_others", "child_abuse"}


def test_every_service_records_contact_source_and_last_checked_date():
    data = referral.resources()
    assert data["version"] >= 1
    for service_id, service in data["services"].items():
        assert set(service) == {"name", "country", "helps_with", "contact", "source", "last_checked"}, service_id
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
        "us_988": "988", "us_crisis_text_line": "741741", "us_domestic_violence": "1-800-799-7233",
        "us_childhelp": "1-800-422-4453", "us_rainn": "1-800-656-4673", "gb_samaritans": "116 123",
        "ie_samaritans": "116 123", "gb_domestic_abuse": "0808 2000 247", "gb_mens_advice_line": "0808 801 0327",
        "ca_988": "9-8-8", "au_lifeline": "13 11 14",
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
    assert ids(referral.choose_services(["suicide"], "GB")) == ["gb_samaritans", "findahelpline"]
    assert "us_domestic_violence" in ids(referral.choose_services(["abuse"], None))


def test_country_without_a_specialised_line_falls_back_to_its_crisis_line():
    assert ids(referral.choose_services(["sexual_violence"], "AU")) == ["au_lifeline", "findahelpline"]
    assert ids(referral.choose_services(["abuse"], "CA")) == ["ca_988", "findahelpline"]


def test_immediate_danger_puts_emergency_services_first():
    text = referral.compose_referral(["immediate_danger", "abuse"], "self", "GB").text
    assert text.index("999") < text.index("0808 2000 247")
    assert "press 55" in text


def test_referral_is_warm_asks_about_safety_and_offers_to_keep_talking():
    result = referral.compose_referral(["suicide"], "self", "US")
    assert "Are you safe right now?" in result.text
    assert "keep talking" in result.text
    assert "988" in result.text
    assert [b["payload"] for b in result.buttons] == ["/crisis_safe", "/crisis_numbers", "/tell_country"]
    other = referral.compose_referral(["suicide"], "other", "US").text
    assert "worried about someone else" in other


def test_country_is_read_from_codes_names_and_locales():
    assert referral.normalise_country("en-GB") == "GB"
    assert referral.normalise_country("fr_CA") == "CA"
    assert referral.normalise_country("Ireland") == "IE"
    assert referral.normalise_country("gb") == "GB"
    assert referral.normalise_country("de-DE") is None
    assert referral.normalise_country(None) is None
