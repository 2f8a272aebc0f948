"""The socketio channel the web page uses: only the page's origins may connect, and bad
events get a clear reply without losing the conversation."""

import asyncio
import json
import urllib.request
import uuid

import pytest
import socketio


def page_origin(assistant):
    return assistant.page_url.rstrip("/")


async def _conversation(assistant, events, origin):
    """Connect, ask for a session, emit each event in turn; return the bot's replies per event."""
    client = socketio.AsyncClient(reconnection=False)
    replies: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("bot_uttered", lambda data: replies.put_nowait(data))
    client.on("session_confirm", lambda data: confirmed.done() or confirmed.set_result(data))
    await client.connect(assistant.rasa_url, headers={"Origin": origin}, transports=["polling"], wait_timeout=10)
    try:
        session_id = uuid.uuid4().hex
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed, 10)
        answers = []
        for event in events:
            await client.emit("user_uttered", event(session_id) if callable(event) else event)
            collected = [await asyncio.wait_for(replies.get(), 60)]
            await asyncio.sleep(1.5)  # the rest of this turn's messages
            while not replies.empty():
                collected.append(replies.get_nowait())
            answers.append("\n".join(str(m.get("text", "")) for m in collected))
        return answers
    finally:
        await client.disconnect()


def converse(assistant, events, origin=None):
    return asyncio.run(_conversation(assistant, events, origin or page_origin(assistant)))


def message(text, **extra):
    return lambda session_id: {"message": text, "session_id": session_id, **extra}


def test_the_page_origin_may_connect_and_is_answered(assistant):
    [answer] = converse(assistant, [message("hi", customData={"country": "GB"})])
    assert "automated assistant" in answer


def test_another_origin_is_refused(assistant):
    with pytest.raises(socketio.exceptions.ConnectionError):
        converse(assistant, [message("hi")], origin="http://evil.example")


def test_rest_cors_allows_only_the_page_origin(assistant):
    def allowed_origin(origin):
        request = urllib.request.Request(
            assistant.rasa_url + "/webhooks/rest/webhook",
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers.get("Access-Control-Allow-Origin")

    assert allowed_origin(page_origin(assistant)) == page_origin(assistant)
    assert allowed_origin("http://evil.example") is None


def test_bad_events_get_a_clear_reply_and_the_conversation_is_kept(assistant):
    answers = converse(
        assistant,
        [
            message("my boss takes credit for my work"),
            message(""),
            message("x" * 10_000),
            message("\x00\x01\x02\xff"),
            message("/nonexistent_intent"),
            message(12345),
            message("hello again", customData="{not json"),
            message("hi", customData=["not", "a", "dict"]),
            "just a string, no session",
            message("what are the signs?"),
        ],
    )
    for answer in [answers[1], answers[3], answers[4]]:
        assert "Could you say it another way" in answer
    assert "longer than I can read in one go" in answers[2]
    assert answers[5]  # a number is read as text
    assert "automated assistant" in answers[6] and "automated assistant" in answers[7]
    assert "reload the page" in answers[8]
    assert "Struggling to hand work over" in answers[9], json.dumps(answers[9])
