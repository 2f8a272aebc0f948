"""Production behaviour of the whole assistant: conversations survive a Rasa restart, can be
deleted on request, the HTTP API needs a token, logs hold no message text, oversized and
random bodies never cause a 5xx, and a dead action server still leaves crisis referrals."""

import json
import random
import urllib.request
import uuid

import pytest

from bot.tracker_store import PrivateSQLTrackerStore

UNIQUE_PHRASE = "my zebra-striped accountant keeps secrets"


def text_of(replies):
    return "\n".join(r.get("text", "") for r in replies or [])


def stored_events(assistant, sender):
    return PrivateSQLTrackerStore(dialect="sqlite", db=str(assistant.tracker_db)).count_events(sender)


def api(assistant, method, path, token=None, body=None):
    url = assistant.rasa_url + path + (f"?token={token}" if token else "")
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def test_a_conversation_survives_a_rasa_restart(assistant):
    sender = f"restart-{uuid.uuid4().hex}"
    assistant.rest(sender, "my boss lied to me")
    assistant.stop("rasa", kill=True)
    assistant.start("rasa")
    _, replies = assistant.rest(sender, "what are the signs?")
    assert "Struggling to hand work over" in text_of(replies)


def test_delete_my_conversation_asks_first_then_deletes_everything(assistant):
    sender = f"forget-{uuid.uuid4().hex}"
    assistant.rest(sender, "my boss lied to me")
    _, replies = assistant.rest(sender, "please delete my conversation")
    assert "delete this whole conversation" in text_of(replies)
    assert [b["title"] for b in replies[-1]["buttons"]] == ["Yes, delete it", "No, keep it"]
    assert stored_events(assistant, sender) > 0
    _, replies = assistant.rest(sender, "/affirm")
    assert "I've deleted our conversation" in text_of(replies)
    assert stored_events(assistant, sender) == 0
    _, replies = assistant.rest(sender, "what are the signs?")
    assert "Struggling to hand work over" not in text_of(replies)  # the work context is gone


def test_declining_the_deletion_keeps_the_conversation(assistant):
    sender = f"keep-{uuid.uuid4().hex}"
    assistant.rest(sender, "my boss lied to me")
    assistant.rest(sender, "erase my data")
    _, replies = assistant.rest(sender, "/deny")
    assert "I've kept it" in text_of(replies)
    _, replies = assistant.rest(sender, "what are the signs?")
    assert "Struggling to hand work over" in text_of(replies)


def test_the_http_api_needs_the_token(assistant):
    sender = f"private-{uuid.uuid4().hex}"
    assistant.rest(sender, "my boss lied to me")
    assert api(assistant, "GET", f"/conversations/{sender}/tracker")[0] == 401
    assert api(assistant, "GET", f"/conversations/{sender}/tracker", token="wrong")[0] == 401
    injected = [{"event": "slot", "name": "relationship", "value": "family"}]
    assert api(assistant, "POST", f"/conversations/{sender}/tracker/events", body=injected)[0] == 401
    assert api(assistant, "PUT", f"/conversations/{sender}/tracker/events", body=[])[0] == 401
    status, tracker = api(assistant, "GET", f"/conversations/{sender}/tracker", token=assistant.api_token)
    assert status == 200 and tracker["slots"]["relationship"] == "work"


def test_logs_hold_no_message_text(assistant):
    assistant.rest(f"logs-{uuid.uuid4().hex}", UNIQUE_PHRASE)
    assistant.rest(f"logs-{uuid.uuid4().hex}", "i want to kill myself " + UNIQUE_PHRASE)
    assert "zebra-striped" not in assistant.log_file.read_text(errors="replace")


def test_bodies_over_the_size_limit_are_refused_with_413(assistant):
    body = json.dumps({"sender": "big", "message": "x" * 2_000_000}).encode()
    status, _ = assistant.rest_post(body)
    assert status == 413
    assert assistant.rest(f"after-{uuid.uuid4().hex}", "hi")[0] == 200


def _random_json(rng, depth=0):
    choice = rng.randrange(9 if depth < 4 else 5)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False, 0, -1, 2**63, 3.14, float("1e308")])
    if choice in (2, 3, 4):
        alphabet = 'abc /{}"\\\u0000\u202e\ud7ff\U0001f642é\n' + "".join(map(chr, range(32, 127)))
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
    if choice in (5, 6):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    keys = ["sender", "message", "metadata", "country", "locale", "input_channel", "x"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(0, 6))}


def test_fuzzed_rest_bodies_never_cause_a_server_error(assistant):
    keeper = f"fuzz-keeper-{uuid.uuid4().hex}"
    assistant.rest(keeper, "my boss lied to me")
    rng = random.Random(20261123)
    statuses = {}
    for case in range(150):
        value = _random_json(rng)
        if case % 3 == 0 and isinstance(value, dict):
            value["sender"] = f"fuzz-{case}"
        if case % 10 == 0:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        elif case % 10 == 1:
            body = ("[" * 5000 + "]" * 5000).encode()
        else:
            body = json.dumps(value).encode()
        status, _ = assistant.rest_post(body)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (case, body[:200])
    print(f"\nfuzzed REST bodies by status: {statuses}")
    _, replies = assistant.rest(keeper, "what are the signs?")
    assert "Struggling to hand work over" in text_of(replies)


@pytest.fixture
def action_server_down(assistant):
    assistant.stop("actions")
    try:
        yield
    finally:
        assistant.start("actions")


def test_a_dead_action_server_still_leaves_crisis_referrals(assistant, action_server_down):
    sender = f"down-{uuid.uuid4().hex}"
    assistant.rest(sender, "my boss lied to me")  # a custom action: fails
    _, replies = assistant.rest(sender, "i want to kill myself", metadata={"country": "GB"})
    text = text_of(replies)
    assert "I'm having trouble" in text and "Are you safe right now?" in text and "116 123" in text
    _, replies = assistant.rest(sender, "what are the signs?")
    assert "I'm having trouble" in text_of(replies)
    assert replies[-1]["buttons"]


def test_after_the_action_server_returns_the_conversation_carries_on(assistant):
    sender = f"back-{uuid.uuid4().hex}"
    assistant.rest(sender, "my boss lied to me")
    assistant.stop("actions")
    try:
        assistant.rest(sender, "what are the signs?")
    finally:
        assistant.start("actions")
    _, replies = assistant.rest(sender, "what are the signs?")
    assert "Struggling to hand work over" in text_of(replies)


def test_rasa_killed_under_load_loses_no_answered_turn(assistant):
    """Ten conversations run while Rasa is killed and restarted: every turn that was answered
    is in the tracker store afterwards, and each conversation goes on where it was."""
    import threading

    senders = [f"killed-{uuid.uuid4().hex}" for _ in range(10)]
    answered = {sender: 0 for sender in senders}
    script = ["my boss lied to me", "what are the signs?", "why am I like this?", "how do I rebuild trust?"] * 3

    def talk(sender):
        for message in script:
            try:
                status, replies = assistant.rest(sender, message)
            except OSError:
                continue
            if status == 200 and replies and "I'm having trouble" not in text_of(replies):
                answered[sender] += 1

    threads = [threading.Thread(target=talk, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    import time

    time.sleep(3)
    assistant.stop("rasa", kill=True)
    for thread in threads:
        thread.join()
    assistant.start("rasa")
    store = PrivateSQLTrackerStore(dialect="sqlite", db=str(assistant.tracker_db))
    with store.session_scope() as session:
        stored = {
            s: session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == s, store.SQLEvent.type_name == "user").count()
            for s in senders
        }
    print(f"\nanswered before the kill: {sum(answered.values())} turns; stored: {sum(stored.values())}")
    assert sum(answered.values()) > 0
    assert all(stored[s] >= answered[s] for s in senders), (answered, stored)
    for sender in senders:
        if answered[sender]:
            _, replies = assistant.rest(sender, "what are the signs?")
            assert "Struggling to hand work over" in text_of(replies)


def test_every_turn_is_summarised_for_the_operator_page_without_its_text(assistant):
    from bot.operator.store import turns

    sender = f"operator-{uuid.uuid4().hex}"
    messages = ["my boss lied to me", "/nonexistent_intent", "i want to kill myself"]
    for message in messages:
        assistant.rest(sender, message)
    engine = PrivateSQLTrackerStore(dialect="sqlite", db=str(assistant.tracker_db)).engine
    with engine.connect() as connection:
        rows = connection.execute(turns.select().where(turns.c.sender_id == sender).order_by(turns.c.at)).all()
    assert [row.outcome for row in rows][1:] == ["fallback", "crisis"] and rows[0].outcome != "crisis"
    assert {row.channel for row in rows} == {"rest"} and rows[2].reply == "action_crisis_referral"
    assert not any(message in str(value) for row in rows for value in row for message in messages[::2])
    _, replies = assistant.rest(sender, "please delete my conversation")
    assistant.rest(sender, "/affirm")
    with engine.connect() as connection:
        assert connection.execute(turns.select().where(turns.c.sender_id == sender)).all() == []
