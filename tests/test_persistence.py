"""Conversations kept in Rasa's SQL tracker store: deletion of one sender, retention, and the
same on SQLite and on a throwaway PostgreSQL."""

import gc
import time

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.paths import REPO_ROOT
from bot.privacy import main as privacy_main
from bot.tracker_store import FORGET_ACTION, PrivateSQLTrackerStore, asked_to_be_forgotten
from deploy.services import throwaway_postgres

DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))
DAY = 24 * 60 * 60
pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def postgres():
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])  # PostgreSQL: an apt package
def store_config(request, tmp_path):
    if request.param == "sqlite":
        return {"type": "bot.tracker_store.PrivateSQLTrackerStore", "dialect": "sqlite", "db": str(tmp_path / "var" / "t.db")}
    return request.getfixturevalue("postgres").endpoint()


@pytest.fixture
def store(store_config):
    settings = {k: v for k, v in store_config.items() if k not in ("type", "url")}
    store = PrivateSQLTrackerStore(domain=DOMAIN, host=store_config.get("url"), **settings)
    with store.session_scope() as session:  # a clean table for each test on the shared server
        session.query(store.SQLEvent).delete()
        session.commit()
    return store


def conversation(sender, when, relationship="work"):
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen", timestamp=when),
            UserUttered("my boss lied to me", {"name": "concern_work", "confidence": 1.0}, timestamp=when),
            SlotSet("relationship", relationship, timestamp=when),
        ],
        slots=DOMAIN.slots,
    )


async def test_saved_conversation_comes_back_with_its_slots(store):
    await store.save(conversation("alice", time.time()))
    tracker = await store.retrieve("alice")
    assert tracker.get_slot("relationship") == "work"


async def test_one_sender_is_deleted_and_the_others_kept(store):
    await store.save(conversation("alice", time.time()))
    await store.save(conversation("bob", time.time()))
    assert store.delete_sender("alice") == 3
    assert await store.retrieve("alice") is None
    assert (await store.retrieve("bob")).get_slot("relationship") == "work"


async def test_conversations_older_than_the_retention_are_deleted(store):
    now = time.time()
    await store.save(conversation("old", now - 40 * DAY))
    await store.save(conversation("recent", now - 2 * DAY))
    assert store.delete_older_than(30, now=now) == (1, 3)
    assert await store.retrieve("old") is None and await store.retrieve("recent") is not None


async def test_a_confirmed_deletion_in_the_conversation_removes_everything(store):
    tracker = conversation("carol", time.time())
    await store.save(tracker)
    tracker.update(UserUttered("/affirm", {"name": "affirm", "confidence": 1.0}))
    tracker.update(ActionExecuted(FORGET_ACTION))
    assert asked_to_be_forgotten(tracker)
    await store.save(tracker)
    assert store.count_events("carol") == 0
    tracker.update(UserUttered("hi again", {"name": "greet", "confidence": 1.0}))
    assert not asked_to_be_forgotten(tracker)


async def test_commands_delete_by_age_and_by_sender(store, store_config, tmp_path, capsys):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": store_config}))
    await store.save(conversation("ancient", time.time() - 400 * DAY))
    await store.save(conversation("dave", time.time()))
    privacy_main(["--endpoints", str(endpoints), "forget-older", "--days", "30"])
    assert "Deleted 1 conversations" in capsys.readouterr().out
    privacy_main(["--endpoints", str(endpoints), "forget", "dave"])
    assert "Deleted 3 events" in capsys.readouterr().out
    assert store.count_events() == 0


def two_sessions(sender, start):
    """A conversation, a new session a minute later, and a turn in it."""
    return [
        *conversation(sender, start).events,
        ActionExecuted("action_session_start", timestamp=start + 60),
        SessionStarted(timestamp=start + 60),
        ActionExecuted("action_listen", timestamp=start + 60),
        UserUttered("hello again", {"name": "greet", "confidence": 1.0}, timestamp=start + 61),
    ]


def as_dicts(tracker):
    return [event.as_dict() for event in tracker.events]


async def test_the_latest_session_is_read_as_rasa_reads_it(store):
    start = time.time() - 600
    for sender in ("erin", "frank"):
        await store.save(DialogueStateTracker.from_events(sender, two_sessions(sender, start), slots=DOMAIN.slots))
    ours = await store.retrieve("erin")
    rasas = await SQLTrackerStore._retrieve(store, "erin", fetch_events_from_all_sessions=False)
    assert as_dicts(ours) == as_dicts(rasas) and len(ours.events) == 4
    assert len((await store.retrieve_full_tracker("erin")).events) == 7
    assert await store.retrieve("nobody") is None


async def test_saving_stores_what_rasas_count_stores(store):
    """Saving without Rasa's count query stores the same rows as with it, also for a copy
    the store did not read (counted as Rasa counts it) and when two trackers of one sender
    diverge (Rasa's count then drops the older one's new events; so do we)."""
    start = time.time() - 600

    async def scenario(sender: str, forget_counts: bool) -> list[dict]:
        async def save(tracker: DialogueStateTracker) -> None:
            if forget_counts:
                store._stored.clear()
            await store.save(tracker)

        await save(DialogueStateTracker.from_events(sender, two_sessions(sender, start), slots=DOMAIN.slots))
        tracker = await store.retrieve(sender)
        tracker.update(ActionExecuted("utter_greet", timestamp=start + 62))
        tracker.update(ActionExecuted("action_listen", timestamp=start + 62))
        await save(tracker)
        await save(tracker)
        copy_of_it = DialogueStateTracker.from_dict(sender, [e.as_dict() for e in tracker.events], DOMAIN.slots)
        copy_of_it.update(UserUttered("thanks", {"name": "thank", "confidence": 1.0}, timestamp=start + 63))
        await save(copy_of_it)
        tracker.update(UserUttered("bye", {"name": "goodbye", "confidence": 1.0}, timestamp=start + 64))
        await save(tracker)
        again = await store.retrieve(sender)
        again.update(UserUttered("one more", {"name": "greet", "confidence": 1.0}, timestamp=start + 65))
        await save(again)
        return as_dicts(await store.retrieve_full_tracker(sender))

    ours = await scenario("gina", forget_counts=False)
    rasas = await scenario("hank", forget_counts=True)
    assert ours == rasas
    gc.collect()
    assert "gina" not in store._stored, "a tracker no longer in use leaves nothing behind"
    assert [e.get("text") for e in ours if e["event"] == "user"] == ["my boss lied to me", "hello again", "thanks", "one more"]
