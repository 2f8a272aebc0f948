"""Conversations kept in Rasa's SQL tracker store: deletion of one sender, retention, and the
same on SQLite and on a throwaway PostgreSQL."""

import time

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
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


@pytest.fixture(params=["sqlite", "postgresql"])
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
    return DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen", timestamp=when),
        UserUttered("my boss lied to me", {"name": "concern_work", "confidence": 1.0}, timestamp=when),
        SlotSet("relationship", relationship, timestamp=when),
    ], slots=DOMAIN.slots)


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
