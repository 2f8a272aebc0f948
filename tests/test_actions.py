"""Custom actions with rasa_sdk's Tracker and CollectingDispatcher (no Rasa server)."""

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from bot import knowledge


def make_tracker(slots=None, text="", intent="greet", entities=None, metadata=None, events=None, active_loop=None):
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or [], "metadata": metadata or {}}
    return Tracker(
        sender_id="test",
        slots=slots or {},
        latest_message=latest,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, {})
    return dispatcher.messages, events


def texts(messages):
    return "\n".join(m.get("text") or "" for m in messages)


def test_signs_follow_the_relationship_slot_and_end_with_a_question_and_more():
    messages, events = run(actions.ActionShowSigns(), make_tracker({"relationship": "romantic"}))
    assert "Checking up on your partner" in texts(messages)
    assert len(messages) <= 3 and messages[-1]["text"].endswith("?") and not messages[-1].get("response")
    assert messages[-1]["buttons"][0]["payload"] == '/tell_more{"more_topic":"signs:1"}'
    assert events == [{"event": "slot", "timestamp": None, "name": "more_topic", "value": "signs:1"}]


def test_tell_more_continues_from_the_button_or_the_slot_to_the_end():
    by_slot, events = run(actions.ActionTellMore(), make_tracker({"more_topic": "causes:1", "relationship": "work"}))
    assert texts(by_slot) and knowledge.topic_page("causes", 1).bubbles[0] in texts(by_slot)
    assert events[0]["value"] == "causes:2"
    button = [{"entity": "more_topic", "value": "rebuild:1"}]
    by_button, _ = run(actions.ActionTellMore(), make_tracker({"more_topic": "causes:1"}, entities=button))
    assert knowledge.topic_page("rebuild", 1).bubbles[0] in texts(by_button)
    marker, turns = "repair:0", 0
    while marker:
        messages, events = run(actions.ActionTellMore(), make_tracker({"more_topic": marker}))
        marker, turns = events[0]["value"], turns + 1
    assert turns >= 2 and not any(b["payload"].startswith("/tell_more") for b in messages[-1]["buttons"])
    nothing, _ = run(actions.ActionTellMore(), make_tracker())
    assert nothing[-1]["response"] == "utter_menu"


def test_content_inside_a_form_has_no_question_or_buttons():
    messages, _ = run(actions.ActionShowSigns(), make_tracker({"relationship": "work"}, active_loop="self_check_form"))
    assert 1 <= len(messages) <= 2 and not any(m["buttons"] or m["response"] for m in messages)


def test_a_concern_is_said_back_in_the_persons_words_with_one_question():
    entities = [{"entity": "person", "value": "hubby"}, {"entity": "cause", "value": "betrayal"}]
    messages, _ = run(actions.ActionAcknowledgeConcern(), make_tracker({"relationship": "romantic"}, entities=entities))
    assert messages[0]["text"] == "It sounds like trusting your hubby has become really hard, after being lied to or cheated on."
    assert len(messages) == 2 and messages[1]["text"].count("?") == 1
    assert [b["payload"] for b in messages[1]["buttons"]] == ["/ask_causes", "/ask_rebuild", "/ask_signs"]
    family, _ = run(actions.ActionAcknowledgeConcern(), make_tracker({"relationship": "family"}))
    assert "your family" in family[0]["text"]


def test_someone_who_is_not_trusted_is_asked_whether_they_broke_it():
    entities = [{"entity": "person", "value": "wife"}]
    messages, _ = run(actions.ActionAcknowledgeDistrusted(), make_tracker(entities=entities))
    assert "your wife is finding it hard to trust you" in messages[0]["text"]
    assert [b["payload"] for b in messages[1]["buttons"]][:2] == ["/ask_repair_trust", "/ask_support_someone"]
    repair, _ = run(actions.ActionShowRepair(), make_tracker())
    assert "Own it" in texts(repair) and len(repair) <= 3
    worried, _ = run(actions.ActionAcknowledgeSomeoneElse(), make_tracker(entities=[{"entity": "person", "value": "sister"}]))
    assert "your sister" in worried[0]["text"] and worried[1]["buttons"][0]["payload"] == "/ask_support_someone"
    support, _ = run(actions.ActionShowSupport(), make_tracker())
    assert "It's kind of you to want to help" in texts(support)


def test_controlling_behaviour_is_named_gently_with_the_domestic_abuse_line_for_the_country():
    messages, _ = run(actions.ActionControllingBehaviour(), make_tracker(metadata={"country": "GB"}))
    assert "coercive control" in messages[0]["text"] and "never your fault" in messages[0]["text"]
    assert "0808 2000 247" in messages[1]["text"] and "116 123" not in texts(messages)
    assert "/crisis_not_safe" in [b["payload"] for b in messages[1]["buttons"]]
    unknown, _ = run(actions.ActionControllingBehaviour(), make_tracker())
    assert "1-800-799-7233" in texts(unknown) and "(UK)" in texts(unknown)
    in_form, _ = run(actions.ActionControllingBehaviour(), make_tracker(active_loop="self_check_form"))
    assert not in_form[-1]["buttons"]


def test_impact_shows_what_trust_issues_do_to_a_person_and_the_people_they_love():
    messages, _ = run(actions.ActionShowImpact(), make_tracker())
    about = knowledge.trust()["about"]
    assert about["why_it_matters"] in texts(messages) and about["for_loved_ones"] in texts(messages)


def test_modality_from_entity_then_slot():
    entity = [{"entity": "modality", "value": "emdr"}]
    messages, events = run(actions.ActionExplainModality(), make_tracker(entities=entity))
    assert "eyes from side to side" in texts(messages)
    assert events == [{"event": "slot", "timestamp": None, "name": "modality", "value": "emdr"}]
    messages, _ = run(actions.ActionExplainModality(), make_tracker())
    assert "Which kind of therapy" in texts(messages)


def test_therapy_suggestion_uses_relationship_causes_and_in_person_answer():
    events = [{"event": "user", "parse_data": {"entities": [{"entity": "cause", "value": "anxiety"}]}}]
    tracker = make_tracker({"relationship": "romantic", "in_person_hard": True}, events=events)
    messages, _ = run(actions.ActionSuggestTherapy(), tracker)
    text = texts(messages)
    assert text.index("Online therapy") < text.index("Cognitive behavioural")
    assert "face to face" in text and "licensed therapist" in text


def test_self_check_asks_each_question_in_turn_and_collects_the_answers():
    items = knowledge.self_check_items()
    messages, events = run(actions.ActionStartSelfCheck(), make_tracker({"sc_answers": [True, False]}))
    assert f"Here are {len(items)} short statements" in texts(messages)
    assert [(e["name"], e["value"]) for e in events] == [("sc_answers", []), ("sc_answer", None)]
    validate = actions.ValidateSelfCheckForm()
    assert validate.validate_sc_answer(None, CollectingDispatcher(), make_tracker({"sc_answers": []}), {}) == {}
    answers: list = []
    for number, item in enumerate(items, start=1):
        messages, _ = run(actions.ActionAskSelfCheckAnswer(), make_tracker({"sc_answers": answers}))
        assert messages[0]["text"] == f"{number}/{len(items)}: {item['statement']}"
        assert [b["title"] for b in messages[0]["buttons"]] == ["Yes", "No"]
        result = validate.validate_sc_answer(number <= 2, CollectingDispatcher(), make_tracker({"sc_answers": answers}), {})
        answers = result["sc_answers"]
        assert result["sc_answer"] is (None if number < len(items) else False)  # empty until the last answer
    assert answers == [True, True] + [False] * (len(items) - 2)
    messages, _ = run(actions.ActionSelfCheckReflection(), make_tracker({"sc_answers": answers}))
    assert "not a diagnosis" in texts(messages) and items[0]["statement"] in texts(messages)
    assert items[2]["statement"] not in texts(messages)


def test_an_aside_in_a_form_is_answered_as_outside_it_without_the_menu():
    tracker = make_tracker({"relationship": "work"}, intent="ask_signs", active_loop="self_check_form")
    messages, _ = run(actions.ActionAnswerAside(), tracker)
    assert "Struggling to hand work over" in texts(messages) and not any(m.get("response") == "utter_menu" for m in messages)
    messages, _ = run(actions.ActionAnswerAside(), make_tracker(intent="greet", active_loop="self_check_form"))
    assert messages[0]["response"] == "utter_greet" and knowledge.phrase("ask_relationship") == messages[1]["text"]
    faq = make_tracker(intent="faq", active_loop="therapy_preferences_form")
    faq.latest_message["response_selector"] = {
        "default": {"response": {"intent_response_key": "faq/online_therapy", "utter_action": "utter_faq/online_therapy"}}
    }
    messages, _ = run(actions.ActionAnswerAside(), faq)
    assert [m["response"] for m in messages] == ["utter_faq/online_therapy"]
    messages, _ = run(actions.ActionAnswerAside(), make_tracker(intent="nlu_fallback", active_loop="self_check_form"))
    assert [m["response"] for m in messages] == ["utter_default"]


def test_crisis_referral_uses_metadata_country_and_counts_without_text(tmp_path, monkeypatch):
    log = tmp_path / "referrals.jsonl"
    monkeypatch.setenv("TRUST_REFERRAL_LOG", str(log))
    entities = [{"entity": "crisis_kind", "value": "abuse"}, {"entity": "crisis_about", "value": "self"}]
    tracker = make_tracker(text="my husband hits me", intent="crisis_disclosure", entities=entities, metadata={"country": "GB"})
    messages, events = run(actions.ActionCrisisReferral(), tracker)
    assert "0808 2000 247" in texts(messages) and "999" in texts(messages)
    assert events == []
    logged = log.read_text()
    assert '"kind": "abuse"' in logged and '"country": "GB"' in logged and "husband" not in logged


def test_crisis_referral_falls_back_to_slot_then_locale_then_international():
    entities = [{"entity": "crisis_kind", "value": "suicide"}]
    slot_country, _ = run(actions.ActionCrisisReferral(), make_tracker({"country": "AU"}, entities=entities))
    assert "13 11 14" in texts(slot_country) and "988" not in texts(slot_country)
    locale, _ = run(actions.ActionCrisisReferral(), make_tracker(entities=entities, metadata={"locale": "en-CA"}))
    assert "9-8-8" in texts(locale)
    unknown, _ = run(actions.ActionCrisisReferral(), make_tracker(entities=entities))
    assert all(n in texts(unknown) for n in ("988", "116 123", "9-8-8", "13 11 14", "findahelpline.com"))


def test_not_safe_puts_emergency_first_and_country_buttons():
    messages, _ = run(actions.ActionCrisisNotSafe(), make_tracker({"country": "US"}))
    assert texts(messages).index("911") < texts(messages).index("988")
    messages, events = run(actions.ActionSetCountry(), make_tracker())
    assert "Where do you live?" in texts(messages) and events == []
    messages, events = run(actions.ActionSetCountry(), make_tracker(entities=[{"entity": "country", "value": "IE"}]))
    assert "jo@samaritans.ie" in texts(messages)
    assert events[0]["value"] == "IE"


def test_start_over_resets_and_greets():
    messages, events = run(actions.ActionStartOver(), make_tracker({"relationship": "work"}))
    assert messages[1]["response"] == "utter_greet"
    assert {e["event"] for e in events} == {"reset_slots", "active_loop"}


def user_event(text, intent, entities=()):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": list(entities)}}


CHECK_IN_ENTITIES = [{"entity": "crisis_kind", "value": "self_harm"}, {"entity": "crisis_about", "value": "self"}]


def test_check_in_asks_about_the_likely_kind_and_remembers_the_interrupted_form(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUST_REFERRAL_LOG", str(tmp_path / "referrals.jsonl"))
    events = [
        {"event": "active_loop", "name": "self_check_form"},
        user_event("i hate myself", "crisis_check_in"),
        {"event": "active_loop", "name": None},
    ]
    tracker = make_tracker(
        text="i hate myself", intent="crisis_check_in", entities=CHECK_IN_ENTITIES, metadata={"country": "US"}, events=events
    )
    messages, returned = run(actions.ActionCrisisCheckIn(), tracker)
    assert "Are you hurting yourself, or thinking about it?" in texts(messages) and "988" in texts(messages)
    assert [b["title"] for b in messages[0]["buttons"]] == ["Yes", "No", "I'd rather not say"]
    assert returned == [{"event": "slot", "timestamp": None, "name": "check_in_form", "value": "self_check_form"}]
    logged = (tmp_path / "referrals.jsonl").read_text()
    assert '"event": "check_in"' in logged and '"kind": "self_harm"' in logged and "hate" not in logged


def test_no_to_a_check_in_goes_back_to_the_interrupted_form_or_the_menu():
    messages, events = run(actions.ActionCheckInDeclined(), make_tracker({"check_in_form": "self_check_form"}, intent="deny"))
    assert "Thank you for telling me" in texts(messages)
    assert [e["event"] for e in events] == ["slot", "followup"] and events[1]["name"] == "self_check_form"
    messages, events = run(actions.ActionCheckInDeclined(), make_tracker(intent="rather_not_say"))
    assert "you don't have to say" in texts(messages) and messages[-1]["response"] == "utter_menu"
    assert events == []


def test_yes_typed_to_a_check_in_refers_for_the_kind_it_asked_about():
    events = [user_event("i hate myself", "crisis_check_in", CHECK_IN_ENTITIES), user_event("yes", "affirm")]
    messages, _ = run(actions.ActionCrisisReferral(), make_tracker({"country": "GB"}, text="yes", intent="affirm", events=events))
    assert "Hurting yourself is a sign" in texts(messages) and "116 123" in texts(messages)


def test_the_interrupted_form_is_only_one_deactivated_in_this_turn():
    from bot.safety.check_in import interrupted_form

    loop = {"event": "active_loop", "name": "therapy_preferences_form"}
    stopped = {"event": "active_loop", "name": None}
    assert interrupted_form([loop, user_event("x", "crisis_check_in"), stopped]) == "therapy_preferences_form"
    assert interrupted_form([loop, stopped, user_event("x", "crisis_check_in")]) is None
    assert interrupted_form([user_event("x", "crisis_check_in")]) is None
    assert interrupted_form([]) is None


def test_a_long_message_not_understood_is_thanked_and_asked_whose_trust_it_is():
    story = (
        "so much has happened this year and I honestly don't know where to start, my husband and I have been "
        "arguing about everything and I just feel lost"
    )
    entities = [{"entity": "person", "value": "husband"}, {"entity": "relationship", "value": "romantic"}]
    messages, _ = run(actions.ActionClarify(), make_tracker(text=story, intent="nlu_fallback", entities=entities))
    assert "a lot is going on with your husband" in messages[0]["text"] and messages[1]["text"].endswith("?")
    assert [b["payload"] for b in messages[1]["buttons"]] == [
        "/concern_romantic",
        "/concern_distrusted",
        "/concern_someone_else",
        "/concern_controlling",
    ]
    short, _ = run(actions.ActionClarify(), make_tracker(text="hmm dunno", intent="nlu_fallback"))
    assert [m["response"] for m in short] == ["utter_default"]
