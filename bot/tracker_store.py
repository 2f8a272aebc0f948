"""Rasa's SQL tracker store with retention and the right to be forgotten.

endpoints.yml:

    tracker_store:
      type: bot.tracker_store.PrivateSQLTrackerStore
      dialect: sqlite            # or postgresql, with host/port/username/password
      db: var/trackers.db

- When a turn sent `utter_conversation_deleted` (the person asked to delete their
  conversation and confirmed, data/rules/privacy.yml), every stored event of that sender is
  deleted instead of saved. It is a response, not a custom action, so it works even while
  the action server is down.
- `delete_sender` and `delete_older_than` back the commands in bot/privacy.py.
- Each save also writes the latest turn's summary for the operator page (bot/operator/store.py:
  day, channel, intent, what the assistant did; no text), and deleting a conversation deletes
  its summaries too. A failure there is logged and never fails the turn.

Where it overrides Rasa's SQLTrackerStore internals (only while `bot.speedup_switch.enabled()`:
Rasa exactly 3.6.21 and `TRUST_RASA_SPEEDUPS` not 0; otherwise Rasa's own methods run):
- `_retrieve`: Rasa builds an ORM query with a subquery for the latest session on every read.
  This runs the same query (events of the sender since its latest `session_started`, in id
  order) as one statement built once, and builds the tracker the same way
  (`DialogueStateTracker.from_dict` with the domain's slots).
- `_additional_events`: on every save Rasa counts the sender's stored events again to know
  which of the tracker's events are new. This remembers how many events it read into (or
  saved from) each tracker object it handed out, so it slices the same new events without the
  count; a tracker it did not hand out, or one from before a deletion, is counted as Rasa does.
- SQLite connections: SQLAlchemy 1.4 opens a new SQLite connection for every session (two a
  turn, each re-reading the schema); a small pool keeps them open. Same database, same rows.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import weakref
from pathlib import Path
from typing import Any, Iterator, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import speedup_switch
from bot.operator import store as operator_store

FORGET_ACTION = "utter_conversation_deleted"
DAY_SECONDS = 24 * 60 * 60
logger = logging.getLogger(__name__)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets readers and the writer work at once; NORMAL syncs at checkpoints instead of on
    # every commit. A power cut may lose the last turns, never corrupt the file.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def asked_to_be_forgotten(tracker: DialogueStateTracker) -> bool:
    """Whether the deletion was confirmed since the person's latest message."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name == FORGET_ACTION:
            return True
    return False


class PrivateSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that can forget a sender and drop old conversations."""

    def __init__(self, *args: Any, dialect: Text = "sqlite", db: Text = "rasa.db", **kwargs: Any) -> None:
        if dialect == "sqlite" and db not in ("", ":memory:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(*args, dialect=dialect, db=db, **kwargs)
        self._shortcuts = speedup_switch.enabled()
        if dialect == "sqlite" and self._shortcuts:
            self._pool_sqlite_connections()
        operator_store.create_tables(self.engine)
        # sender -> (the tracker object last read or saved, how many of its events are stored)
        self._stored: dict[Text, tuple[weakref.ref, int]] = {}
        events = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        # Rasa's `_event_query` for the latest session, as one statement built once.
        session_start = (
            sa.select(sa.func.max(events.c.timestamp))
            .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        self._latest_session = (
            sa.select(events.c.data)
            .where(events.c.sender_id == sender, sa.or_(events.c.timestamp >= session_start, session_start.is_(None)))
            .order_by(events.c.id)
        )

    def _pool_sqlite_connections(self) -> None:
        # Rasa uses the store from one thread at a time; the operator page from several.
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=2, connect_args={"check_same_thread": False})
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        if fetch_events_from_all_sessions or not self._shortcuts:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:  # Rasa's session: it sets PostgreSQL's schema
            rows = session.execute(self._latest_session, {"sender_id": sender_id}).all()
        if not self.domain or not rows:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(data) for (data,) in rows], self.domain.slots)
        self._remember(tracker, len(rows))
        return tracker

    def _remember(self, tracker: DialogueStateTracker, stored: int) -> None:
        sender = tracker.sender_id

        def forget(reference: weakref.ref) -> None:  # the tracker is gone: so is its entry
            if self._stored.get(sender, (None, 0))[0] is reference:
                self._stored.pop(sender, None)

        self._stored[sender] = (weakref.ref(tracker, forget), stored)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        reference, stored = self._stored.get(tracker.sender_id, (None, 0))
        if not self._shortcuts or reference is None or reference() is not tracker:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_be_forgotten(tracker):
            deleted = self.delete_sender(tracker.sender_id)
            logger.info("Forgot a conversation at its sender's request (%d events).", deleted)
            return
        await super().save(tracker)
        self._remember(tracker, len(tracker.events))
        self._record_latest_turn(tracker)

    def _record_latest_turn(self, tracker: DialogueStateTracker) -> None:
        tail = []
        for event in reversed(tracker.events):
            tail.append(event)
            if isinstance(event, UserUttered):
                break
        turn = operator_store.latest_turn([event.as_dict() for event in reversed(tail)])
        if turn is None:
            return
        try:
            operator_store.record_turn(self.engine, tracker.sender_id, turn)
        except Exception as error:  # the page's figures must never cost a turn
            logger.error("Could not record a turn for the operator page: %s", type(error).__name__)

    def delete_sender(self, sender_id: Text) -> int:
        """Deletes every event of one sender; returns how many."""
        self._stored.pop(sender_id, None)
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            operator_store.delete_senders(session.connection(), [sender_id])
            session.commit()
        return int(deleted)

    def delete_older_than(self, days: float, now: Optional[float] = None) -> tuple[int, int]:
        """Deletes conversations whose latest event is older than `days`; (senders, events)."""
        cutoff = (now if now is not None else time.time()) - days * DAY_SECONDS
        with self.session_scope() as session:
            stale = [
                sender
                for (sender,) in session.query(self.SQLEvent.sender_id)
                .group_by(self.SQLEvent.sender_id)
                .having(sa.func.max(self.SQLEvent.timestamp) < cutoff)
                .all()
            ]
            for sender in stale:
                self._stored.pop(sender, None)
            events = 0
            for start in range(0, len(stale), 500):
                chunk = stale[start : start + 500]
                events += session.query(self.SQLEvent).filter(self.SQLEvent.sender_id.in_(chunk)).delete(synchronize_session=False)
            operator_store.delete_senders(session.connection(), stale)
            session.commit()
        return len(stale), int(events)

    def count_events(self, sender_id: Optional[Text] = None) -> int:
        with self.session_scope() as session:
            query = session.query(self.SQLEvent)
            if sender_id is not None:
                query = query.filter(self.SQLEvent.sender_id == sender_id)
            return int(query.count())
