"""The speed fixes in bot/rasa_speedups.py give Rasa's own results."""

import jsonschema
import pytest
import sqlalchemy as sa
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot import rasa_speedups
from bot.tracker_store import PrivateSQLTrackerStore

SPEC = RemoteAction.action_response_format_spec()
GOOD = {"events": [{"event": "slot", "name": "relationship", "value": "romantic"}],
        "responses": [{"text": "hi", "buttons": [{"title": "a", "payload": "/a"}]}]}
BAD = [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"events": [{"event": "no_such_event"}]},
       {"events": [{"event": "slot", "timestamp": "yesterday"}]}]


def test_cached_validation_accepts_and_refuses_what_jsonschema_does():
    rasa_speedups.cached_validate(GOOD, SPEC)
    for result in BAD:
        with pytest.raises(jsonschema.ValidationError) as ours:
            rasa_speedups.cached_validate(result, SPEC)
        with pytest.raises(jsonschema.ValidationError) as theirs:
            rasa_speedups._original_validate(result, SPEC)
        assert ours.value.message == theirs.value.message
    with pytest.raises(jsonschema.SchemaError):
        rasa_speedups.cached_validate({}, {"type": "no such type"})


def test_event_classes_resolve_as_rasa_resolves_them():
    rasa_speedups.install()
    for cls in all_subclasses(Event):
        if getattr(cls, "type_name", None):
            assert Event.resolve_by_type(cls.type_name) is rasa_speedups._original_resolve_by_type(cls.type_name)
            assert Event.resolve_by_type(cls.type_name) is rasa_speedups._original_resolve_by_type(cls.type_name)
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
    assert isinstance(Event.from_parameters({"event": "user", "text": "hi", "parse_data": {}}), UserUttered)


def test_sqlite_store_keeps_its_connections_in_wal_mode(tmp_path):
    store = PrivateSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "t.db"))
    assert isinstance(store.engine.pool, sa.pool.QueuePool)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
