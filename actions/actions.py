"""Custom actions. Each gathers what it needs from the tracker and calls plain functions in
`bot/`; none holds content of its own."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, AllSlotsReset, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import dialogue, knowledge
from bot.safety import referral
from bot.safety.check_in import interrupted_form
from bot.safety.referral_log import record_referral

logger = logging.getLogger(__name__)

MENU = "utter_menu"  # domain.yml: the menu's text and buttons, defined once


def _in_form(tracker: Tracker) -> bool:
    return bool(tracker.active_loop_name)


def _send_page(dispatcher: CollectingDispatcher, tracker: Tracker, page: knowledge.Page) -> List[EventType]:
    """A page of a long answer: its bubbles, then its question and next steps, except inside a
    form (the form asks its own question). Remembers what "Tell me more" continues with."""
    return _send_bubbles(dispatcher, tracker, page.bubbles, page.question, page.buttons) + [SlotSet("more_topic", page.next_page)]


def _send_bubbles(
    dispatcher: CollectingDispatcher, tracker: Tracker, bubbles: List[str], question: str, buttons: List[dict]
) -> List[EventType]:
    for bubble in bubbles:
        dispatcher.utter_message(text=bubble)
    if not _in_form(tracker):
        dispatcher.utter_message(text=question, buttons=buttons)
    return []


def _latest_entities(tracker: Tracker, name: str) -> List[str]:
    return [e["value"] for e in tracker.latest_message.get("entities", []) if e.get("entity") == name]


def _all_user_entities(tracker: Tracker, name: str) -> List[str]:
    values = []
    for event in tracker.events:
        if event.get("event") == "user":
            values += [e["value"] for e in event.get("parse_data", {}).get("entities", []) if e.get("entity") == name]
    return values


def person_country(tracker: Tracker) -> Optional[str]:
    """Country from channel metadata, then the `country` slot, then the locale."""
    return referral.person_country(tracker.latest_message.get("metadata"), tracker.get_slot("country"))


class ActionAskRelationship(Action):
    def name(self) -> Text:
        return "action_ask_relationship"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(text=knowledge.phrase("ask_relationship"), buttons=knowledge.relationship_buttons())
        return []


class _Acknowledge:
    """Says back in one sentence what the person described, then asks one question. (A mixin,
    not an Action: the action server registers every Action subclass it finds.)"""

    whose = "mine"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        person = next(iter(_latest_entities(tracker, "person")), None)
        causes = _latest_entities(tracker, "cause")
        said = knowledge.reflection(self.whose, tracker.get_slot("relationship"), person, causes)
        question, buttons = knowledge.reflection_question(self.whose)
        return _send_bubbles(dispatcher, tracker, [said], question, buttons)


class ActionAcknowledgeConcern(_Acknowledge, Action):
    def name(self) -> Text:
        return "action_acknowledge_concern"


class ActionAcknowledgeDistrusted(_Acknowledge, Action):
    whose = "distrusted"

    def name(self) -> Text:
        return "action_acknowledge_distrusted"


class ActionAcknowledgeSomeoneElse(_Acknowledge, Action):
    whose = "someone_else"

    def name(self) -> Text:
        return "action_acknowledge_someone_else"


class ActionShowMenu(Action):
    def name(self) -> Text:
        return "action_show_menu"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(response=MENU, text=knowledge.menu_intro(tracker.get_slot("relationship")))
        return []


class _ShowTopic:
    """The first page of a topic of bot/knowledge/trust.yml (a mixin, like _Acknowledge)."""

    topic = ""

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        causes = _all_user_entities(tracker, "cause")
        return _send_page(dispatcher, tracker, knowledge.topic_page(self.topic, 0, tracker.get_slot("relationship"), causes))


class ActionExplainTrustIssues(_ShowTopic, Action):
    topic = "about"

    def name(self) -> Text:
        return "action_explain_trust_issues"


class ActionShowImpact(_ShowTopic, Action):
    topic = "impact"

    def name(self) -> Text:
        return "action_show_impact"


class ActionShowSigns(_ShowTopic, Action):
    topic = "signs"

    def name(self) -> Text:
        return "action_show_signs"


class ActionShowCauses(_ShowTopic, Action):
    topic = "causes"

    def name(self) -> Text:
        return "action_show_causes"


class ActionShowRebuild(_ShowTopic, Action):
    topic = "rebuild"

    def name(self) -> Text:
        return "action_show_rebuild"


class ActionShowRepair(_ShowTopic, Action):
    topic = "repair"

    def name(self) -> Text:
        return "action_show_repair"


class ActionShowSupport(_ShowTopic, Action):
    topic = "support"

    def name(self) -> Text:
        return "action_show_support"


class ActionTellMore(Action):
    """The next page of the topic last shown (or of the one a "Tell me more" button names)."""

    def name(self) -> Text:
        return "action_tell_more"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        marker = next(iter(_latest_entities(tracker, "more_topic")), None) or tracker.get_slot("more_topic")
        found = knowledge.parse_page_marker(marker)
        if found is None:
            dispatcher.utter_message(response=MENU, text=knowledge.guided_phrase("nothing_more"))
            return []
        topic, index = found
        causes = _all_user_entities(tracker, "cause")
        return _send_page(dispatcher, tracker, knowledge.topic_page(topic, index, tracker.get_slot("relationship"), causes))


class ActionShowTherapy(Action):
    def name(self) -> Text:
        return "action_show_therapy"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        question = knowledge.guided_phrase("therapy_question")
        return _send_bubbles(dispatcher, tracker, knowledge.therapy_overview(), question, knowledge.therapy_buttons())


class ActionClarify(Action):
    """A message the classifier was unsure about: a long one is thanked and asked whose trust
    is in question; a short one gets "say it another way" with the menu."""

    def name(self) -> Text:
        return "action_clarify"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        person = next(iter(_latest_entities(tracker, "person")), None)
        relationship = next(iter(_latest_entities(tracker, "relationship")), None) or tracker.get_slot("relationship")
        found = knowledge.clarification(text, relationship, person)
        if found is None:
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(text=found.text)
        dispatcher.utter_message(text=found.question, buttons=[] if _in_form(tracker) else found.buttons)
        return []


class ActionControllingBehaviour(Action):
    """Controlling behaviour described as done to the person: what coercive control is, gently,
    with the domestic abuse line for their country."""

    def name(self) -> Text:
        return "action_controlling_behaviour"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        text, support, buttons = knowledge.controlling_reply()
        lines = referral.abuse_lines(person_country(tracker))
        dispatcher.utter_message(text=text)
        dispatcher.utter_message(text=f"{support}\n{lines}", buttons=[] if _in_form(tracker) else buttons)
        return []


class ActionExplainModality(Action):
    def name(self) -> Text:
        return "action_explain_modality"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        modality = next(iter(_latest_entities(tracker, "modality")), None) or tracker.get_slot("modality")
        bubbles = knowledge.modality_text(modality)
        if bubbles is None:
            dispatcher.utter_message(text=knowledge.phrase("modality_which"), buttons=knowledge.therapy_buttons())
            return []
        _send_bubbles(dispatcher, tracker, bubbles, knowledge.guided_phrase("modality_question"), knowledge.guided_buttons("modality"))
        return [SlotSet("modality", modality)]


class ActionSuggestTherapy(Action):
    def name(self) -> Text:
        return "action_suggest_therapy"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        causes = _all_user_entities(tracker, "cause") + knowledge.self_check_tags(tracker.get_slot("sc_answers"))
        suggestions = knowledge.suggest_therapies(tracker.get_slot("relationship"), causes, tracker.get_slot("in_person_hard"))
        question = knowledge.guided_phrase("suggestion_question")
        return _send_bubbles(dispatcher, tracker, knowledge.suggestion_text(suggestions), question, knowledge.guided_buttons("suggestion"))


class ActionAskInPersonHard(Action):
    def name(self) -> Text:
        return "action_ask_in_person_hard"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(text=knowledge.trust()["therapy"]["in_person_question"], buttons=knowledge.buttons("yes_no"))
        return []


class ActionStartSelfCheck(Action):
    def name(self) -> Text:
        return "action_start_self_check"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(text=knowledge.self_check_intro())
        return [SlotSet("sc_answers", []), SlotSet("sc_answer", None)]


class ActionSelfCheckReflection(Action):
    def name(self) -> Text:
        return "action_self_check_reflection"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(text=knowledge.self_check_reflection(tracker.get_slot("sc_answers")))
        dispatcher.utter_message(text=knowledge.phrase("after_self_check"), buttons=knowledge.buttons("after_self_check"))
        return []


class ActionAskSelfCheckAnswer(Action):
    """Asks the self-check question whose turn it is (the form's one slot, `sc_answer`)."""

    def name(self) -> Text:
        return "action_ask_sc_answer"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        index = len(tracker.get_slot("sc_answers") or [])
        dispatcher.utter_message(text=knowledge.self_check_question(index), buttons=knowledge.buttons("yes_no"))
        return []


class ValidateSelfCheckForm(FormValidationAction):
    """Collects each yes/no into `sc_answers`, and empties `sc_answer` until every question of
    bot/knowledge/self_check.yml has an answer, so the form asks the next one."""

    def name(self) -> Text:
        return "validate_self_check_form"

    def validate_sc_answer(self, slot_value, dispatcher, tracker, domain) -> dict:
        if slot_value is None:  # emptied (by the start of a self-check, or by this action): no answer
            return {}
        answers = list(tracker.get_slot("sc_answers") or []) + [bool(slot_value)]
        done = len(answers) >= len(knowledge.self_check_items())
        return {"sc_answers": answers, "sc_answer": slot_value if done else None}


class ActionCrisisReferral(Action):
    """Refers the person to the right crisis service. Never depends on anything but local data."""

    def name(self) -> Text:
        return "action_crisis_referral"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        kinds = _latest_entities(tracker, "crisis_kind")
        about = next(iter(_latest_entities(tracker, "crisis_about")), "self")
        child = bool(_latest_entities(tracker, "crisis_child"))
        if not kinds:  # a typed "yes" to a check-in: the kind the question asked about
            kinds = _all_user_entities(tracker, "crisis_kind")[-1:]
            about = next(iter(_all_user_entities(tracker, "crisis_about")[-1:]), "self")
        country = person_country(tracker)
        result = referral.compose_referral(kinds, about, country, child)
        dispatcher.utter_message(text=result.text, buttons=result.buttons)
        record_referral(kinds or ["unspecified"], country, tracker.get_latest_input_channel())
        return []


class ActionCrisisCheckIn(Action):
    """Asks directly whether someone is in crisis when the assessment was unsure, with the
    matching line beneath the question. Remembers a form it interrupted, to go back to it."""

    def name(self) -> Text:
        return "action_crisis_check_in"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        kind = next(iter(_latest_entities(tracker, "crisis_kind")), None)
        about = next(iter(_latest_entities(tracker, "crisis_about")), "self")
        check_in = referral.compose_check_in(kind, about, person_country(tracker))
        dispatcher.utter_message(text=check_in.text, buttons=check_in.buttons)
        record_referral([kind or "unspecified"], person_country(tracker), tracker.get_latest_input_channel(), event="check_in")
        return [SlotSet("check_in_form", interrupted_form(tracker.events))]


class ActionCheckInDeclined(Action):
    """After "no" or "I'd rather not say" to a check-in: thanks, then back to where the
    conversation was (the interrupted form's next question, or the menu)."""

    def name(self) -> Text:
        return "action_check_in_declined"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        answer = (tracker.latest_message.get("intent") or {}).get("name")
        form = tracker.get_slot("check_in_form")
        text = referral.check_in_reply("rather_not_say" if answer == "rather_not_say" else "deny")
        if form:
            dispatcher.utter_message(text=text)
            return [SlotSet("check_in_form", None), FollowupAction(form)]
        dispatcher.utter_message(response=MENU, text=text)
        return []


class ActionCrisisNumbers(Action):
    def name(self) -> Text:
        return "action_crisis_numbers"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        kinds = _all_user_entities(tracker, "crisis_kind")[-3:]
        country = person_country(tracker)
        dispatcher.utter_message(text=referral.numbers_text(kinds, country), buttons=referral.referral_buttons())
        return []


class ActionCrisisNotSafe(Action):
    def name(self) -> Text:
        return "action_crisis_not_safe"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        kinds = _all_user_entities(tracker, "crisis_kind")[-3:]
        country = person_country(tracker)
        dispatcher.utter_message(text=referral.not_safe_text(kinds, country), buttons=referral.referral_buttons())
        record_referral(["not_safe"], country, tracker.get_latest_input_channel())
        return []


class ActionSetCountry(Action):
    def name(self) -> Text:
        return "action_set_country"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        named = next(iter(_latest_entities(tracker, "country")), None)
        country = referral.normalise_country(named)
        if named == "OTHER" or (named and not country):
            dispatcher.utter_message(response=MENU, text=referral.numbers_text([], None))
            return [SlotSet("country", "OTHER")]
        if not country:
            dispatcher.utter_message(text=referral.messages()["country_question"], buttons=referral.country_buttons())
            return []
        kinds = _all_user_entities(tracker, "crisis_kind")[-3:]
        dispatcher.utter_message(text=referral.numbers_text(kinds, country), buttons=referral.referral_buttons())
        return [SlotSet("country", country)]


class ActionStartOver(Action):
    def name(self) -> Text:
        return "action_start_over"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(text=knowledge.phrase("start_over"))
        dispatcher.utter_message(response="utter_greet")
        dispatcher.utter_message(text=knowledge.phrase("ask_relationship"), buttons=knowledge.relationship_buttons())
        return [AllSlotsReset(), ActiveLoop(None)]


class ActionAnswerAside(Action):
    """Answers something asked in the middle of a form exactly as the rules of
    data/rules/conversation.yml answer it outside one (bot/dialogue.py), so the form can then
    ask its question again (data/rules/forms.yml)."""

    def name(self) -> Text:
        return "action_answer_aside"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        events: List[EventType] = []
        for action in dialogue.answers_by_intent().get(intent, ["utter_default"]):
            if action in dialogue.RETRIEVAL_ACTIONS:
                chosen = dialogue.retrieval_response(tracker.latest_message, dialogue.RETRIEVAL_ACTIONS[action])
                dispatcher.utter_message(response=chosen or "utter_default")
            elif action.startswith("utter_"):
                dispatcher.utter_message(response=action)
            else:
                events += actions_by_name()[action]().run(dispatcher, tracker, domain)
        return events


@lru_cache(maxsize=1)
def actions_by_name() -> dict[str, type]:
    """The custom actions of this module by their domain name (worked out once)."""
    return {
        value().name(): value
        for value in list(globals().values())
        if isinstance(value, type) and issubclass(value, Action) and value.__module__ == __name__
    }
