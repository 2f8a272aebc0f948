"""The Telegram channel end to end: real Update JSON posted to Rasa's webhook, replies read
from a fake Bot API (tests/fake_telegram.py) that the channel subclass talks to."""

import itertools
import time

import pytest

from tests.fake_telegram import BOT_USERNAME

_ids = itertools.count(1)


def _user(chat_id, language):
    return {"id": chat_id, "is_bot": False, "first_name": "Sam", "language_code": language}


def text_update(chat_id, text, language="en"):
    message = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"},
        "from": _user(chat_id, language),
        "text": text,
    }
    return {"update_id": next(_ids), "message": message}


def button_tap(chat_id, data, language="en"):
    message = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"},
        "text": "(the bot's earlier message)",
    }
    query = {"id": f"cbq-{next(_ids)}", "from": _user(chat_id, language), "message": message, "chat_instance": "1", "data": data}
    return {"update_id": next(_ids), "callback_query": query}


def exchange(assistant, chat_id, update):
    """Post an update; return the webhook's status and the messages the bot sent in reply."""
    before = len(assistant.telegram.sent(chat_id))
    status, _ = assistant.telegram_update(update)
    return status, assistant.telegram.sent(chat_id)[before:]


def buttons(sent):
    keyboard = (sent[-1]["reply_markup"] or {}).get("inline_keyboard", []) if sent else []
    return {button["text"]: button["callback_data"] for row in keyboard for button in row}


def texts(sent):
    return "\n".join(m["text"] for m in sent)


@pytest.fixture(scope="module")
def chat_ids():
    return itertools.count(7000)


def test_webhook_was_registered_and_the_bot_checked(assistant):
    assert assistant.telegram.count("setWebhook") >= 1
    status, sent = exchange(assistant, 6999, text_update(6999, "hello"))
    assert status == 200 and sent
    assert assistant.telegram.count("getMe") >= 1 and BOT_USERNAME


def test_start_greets_with_an_inline_keyboard_and_taps_walk_the_guided_path(assistant, chat_ids):
    chat = next(chat_ids)
    status, sent = exchange(assistant, chat, text_update(chat, "/start"))
    assert status == 200 and "automated assistant" in texts(sent)
    relationship = buttons(sent)
    assert "A partner or someone I'm dating" in relationship
    answered = assistant.telegram.count("answerCallbackQuery")
    _, sent = exchange(assistant, chat, button_tap(chat, relationship["A partner or someone I'm dating"]))
    assert assistant.telegram.count("answerCallbackQuery") == answered + 1
    menu = buttons(sent)
    assert {"Signs", "Causes", "Rebuilding trust", "Therapy options"} <= set(menu)
    _, sent = exchange(assistant, chat, button_tap(chat, menu["Signs"]))
    assert "Checking up on your partner" in texts(sent)
    _, sent = exchange(assistant, chat, button_tap(chat, buttons(sent)["Tell me more"]))
    assert "Reading a lot into small things" in texts(sent)
    _, sent = exchange(assistant, chat, text_update(chat, "why do I feel like this?"))
    assert "Childhood experiences" in texts(sent)


def test_crisis_disclosure_refers_with_services_for_the_telegram_language(assistant, chat_ids):
    chat = next(chat_ids)
    _, sent = exchange(assistant, chat, text_update(chat, "i want to kill myself", language="en-gb"))
    assert "Are you safe right now?" in texts(sent) and "116 123" in texts(sent)
    assert "I'm safe, keep talking" in buttons(sent)
    chat = next(chat_ids)
    _, sent = exchange(assistant, chat, text_update(chat, "my husband beats me", language="en"))
    assert "1-800-799-7233" in texts(sent)  # language alone says nothing of the country: international set


def test_crisis_inside_a_button_flow_is_still_referred(assistant, chat_ids):
    chat = next(chat_ids)
    exchange(assistant, chat, text_update(chat, "/start"))
    _, sent = exchange(assistant, chat, button_tap(chat, "/start_self_check"))
    assert "1/9" in texts(sent)
    _, sent = exchange(assistant, chat, text_update(chat, "kms"))
    assert "Are you safe right now?" in texts(sent)


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False}},
        {"update_id": 2, "my_chat_member": {"chat": {"id": 1, "type": "private"}, "date": 0}},
        {"update_id": 3, "channel_post": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "channel"}, "text": "hi"}},
        {"update_id": 4},
    ],
)
def test_update_types_without_a_chat_message_are_acknowledged(assistant, update):
    status, _ = assistant.telegram_update(update)
    assert status == 200


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"text"', b'{"message": {"text": "hi"}}', b"\xff\x00"])
def test_bodies_that_are_not_updates_are_refused(assistant, body):
    status, answer = assistant.telegram_update(body)
    assert status == 400 and "Update" in answer["error"]


def test_bad_messages_get_a_clear_reply_and_the_conversation_is_kept(assistant, chat_ids):
    chat = next(chat_ids)
    exchange(assistant, chat, text_update(chat, "my boss takes credit for my work"))
    sticker = text_update(chat, "")
    del sticker["message"]["text"]
    sticker["message"]["sticker"] = {"file_id": "x", "file_unique_id": "x", "width": 1, "height": 1, "is_animated": False}
    _, sent = exchange(assistant, chat, sticker)
    assert "I can only read text messages" in texts(sent)
    for text in ["x" * 4096, "\x00\x01\x02", "/nonexistent_intent", "🙂🙂🙂"]:
        status, sent = exchange(assistant, chat, text_update(chat, text))
        expected = "longer than I can read" if len(text) > 2000 else "Could you say it another way"
        assert status == 200 and expected in texts(sent), text
    _, sent = exchange(assistant, chat, text_update(chat, "what are the signs?"))
    assert "Struggling to hand work over" in texts(sent)
