"""Schema and completeness of the knowledge files, and their agreement with domain.yml."""

import yaml

from bot import knowledge
from bot.paths import REPO_ROOT


def test_every_relationship_kind_has_signs_a_label_and_an_acknowledgement():
    data = knowledge.trust()
    assert set(data["relationship_kinds"]) == set(knowledge.RELATIONSHIP_KINDS)
    for kind in knowledge.RELATIONSHIP_KINDS:
        assert data["relationship_kinds"][kind]["label"]
        assert len(data["signs"][kind]) >= 3
        assert data["acknowledgements"][kind]
    assert len(data["signs"]["general"]) >= 5
    for group in data["signs"].values():
        for sign in group:
            assert set(sign) == {"id", "title", "text"} and sign["text"].strip()


def test_about_section_covers_caution_paranoia_and_not_a_diagnosis():
    about = knowledge.trust()["about"]
    for key in ("definition", "versus_caution", "versus_paranoia", "not_a_diagnosis"):
        assert len(about[key]) > 60


def test_causes_cover_the_required_topics():
    causes = {c["id"]: c for c in knowledge.trust()["causes"]}
    for needed in ("childhood", "betrayal", "repeated_letdowns", "skepticism", "attachment_style", "low_self_esteem", "mental_health"):
        assert needed in causes
    conditions = causes["mental_health"]["text"].lower()
    for condition in ("attachment", "anxiety", "depression", "ptsd", "borderline", "paranoid"):
        assert condition in conditions
    assert "does not mean" in conditions  # never phrased as a diagnosis


def test_every_modality_has_what_session_suits_and_fits():
    modalities = knowledge.trust()["therapy"]["modalities"]
    assert set(modalities) == {"online", "individual", "group", "cbt", "emdr", "trauma_focused"}
    for modality in modalities.values():
        for key in ("name", "what", "session", "suits"):
            assert modality[key].strip()
        assert modality["fits"]


def test_rebuilding_steps_are_grouped():
    groups = knowledge.trust()["rebuilding"]["groups"]
    assert len(groups) >= 3
    assert sum(len(g["steps"]) for g in groups) >= 10


def test_self_check_has_8_to_10_items_matching_the_domain_slots_and_signs():
    items = knowledge.self_check_items()
    assert 8 <= len(items) <= 10
    sign_ids = {s["id"] for group in knowledge.trust()["signs"].values() for s in group}
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())
    form_slots = domain["forms"]["self_check_form"]["required_slots"]
    assert form_slots == knowledge.self_check_slots()
    for item in items:
        assert item["sign"] in sign_ids
        assert item["slot"] in domain["slots"]
        assert f"action_ask_{item['slot']}" in domain["actions"]


def test_signs_are_tailored_to_the_relationship():
    romantic = knowledge.signs_text("romantic")
    work = knowledge.signs_text("work")
    assert "Checking up on your partner" in romantic and "Checking up on your partner" not in work
    assert "Struggling to hand work over" in work
    assert "Doubting even the people closest to you" in knowledge.signs_text(None)


def test_therapy_suggestions_follow_what_the_person_said():
    at_home = knowledge.suggest_therapies("romantic", ["anxiety"], in_person_hard=True)
    assert at_home[0].modality == "online"
    assert len(at_home) == 3
    trauma = knowledge.suggest_therapies("family", ["childhood", "trauma"], in_person_hard=False)
    assert trauma[0].modality == "trauma_focused"
    text = knowledge.suggestion_text(trauma)
    assert "licensed therapist" in text and "professional" in text


def test_self_check_reflection_is_gentle_and_never_a_diagnosis():
    slots = knowledge.self_check_slots()
    none = knowledge.self_check_reflection({s: False for s in slots})
    some = knowledge.self_check_reflection({slots[0]: True, slots[1]: False})
    many = knowledge.self_check_reflection({s: True for s in slots})
    assert "didn't recognise" in none
    assert "not a diagnosis" in some and knowledge.self_check_items()[0]["statement"] in some
    assert "therapist" in many
    for text in (none, some, many):
        assert "you have trust issues" not in text.lower()
