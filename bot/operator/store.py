"""One summary row per user turn and per conversation, written next to Rasa's events by the
tracker store (bot/tracker_store.py) and read by the operator page.

The rows hold what the page counts (day, channel, the intent and its confidence, what the
assistant did), never message text: the review list reads a turn's text from Rasa's own
events, and only when the deployer turns review on. A conversation's rows go with it when it
is deleted or ages out (`delete_senders`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

DAY_SECONDS = 24 * 60 * 60
# Below this the classifier was guessing, though not unsure enough for the fallback (config.yml).
LOW_CONFIDENCE = 0.6
CRISIS_INTENT = "crisis_disclosure"
CHECK_IN_INTENT = "crisis_check_in"
FALLBACK_INTENT = "nlu_fallback"
CRISIS_ACTION = "action_crisis_referral"
CHECK_IN_ACTION = "action_crisis_check_in"
FALLBACK_ACTION = "action_default_fallback"
# Actions that are not a step of the conversation a person sees.
BOOKKEEPING_ACTIONS = {"action_listen", "action_session_start", "action_deactivate_loop", "action_restart"}
# What the review list shows: turns the assistant did not understand.
REVIEW_OUTCOMES = ("fallback", "low_confidence")

metadata = sa.MetaData()

turns = sa.Table(
    "operator_turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),  # the user event's timestamp, which finds its text
    sa.Column("day", sa.Integer, nullable=False),  # days since 1970-01-01, UTC
    sa.Column("channel", sa.String(64)),
    sa.Column("intent", sa.String(255)),
    sa.Column("guessed_intent", sa.String(255)),  # the classifier's best intent other than the fallback
    sa.Column("confidence", sa.Float),
    sa.Column("outcome", sa.String(16), nullable=False),  # understood, low_confidence, fallback, crisis, check_in
    sa.Column("reply", sa.String(255)),  # the last action that answered it
    sa.Column("label", sa.String(255)),  # the intent an operator gave it on the review list
    sa.UniqueConstraint("sender_id", "at", name="operator_turn_once"),
    sa.Index("operator_turns_day", "day", "outcome"),
    sa.Index("operator_turns_review", "outcome", "at"),
)

conversations = sa.Table(
    "operator_conversations",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("started_day", sa.Integer, nullable=False, index=True),
    sa.Column("last_at", sa.Float, nullable=False, index=True),
    sa.Column("last_step", sa.String(255)),  # the assistant's last action: where the person left
)


# Rasa's own events table (SQLTrackerStore), only the columns read here: a turn's text stays there.
rasa_events = sa.table("events", sa.column("sender_id"), sa.column("type_name"), sa.column("timestamp"), sa.column("data"))


def turn_event_data() -> Any:
    """Rasa's stored JSON of the user event a row of `turns` stands for, as a column expression."""
    return (
        sa.select(rasa_events.c.data)
        .where(rasa_events.c.sender_id == turns.c.sender_id, rasa_events.c.type_name == "user", rasa_events.c.timestamp == turns.c.at)
        .limit(1)
        .scalar_subquery()
    )


def event_text(data: str | None) -> str:
    """The text of a stored user event's JSON ("" when there is none)."""
    return (json.loads(data).get("text") or "") if data else ""


@dataclass(frozen=True)
class Turn:
    at: float
    channel: str | None
    intent: str | None
    guessed_intent: str | None
    confidence: float | None
    outcome: str
    reply: str | None

    def row(self, sender_id: str) -> dict[str, Any]:
        return {
            "sender_id": sender_id,
            "at": self.at,
            "day": int(self.at // DAY_SECONDS),
            "channel": self.channel,
            "intent": self.intent,
            "guessed_intent": self.guessed_intent,
            "confidence": self.confidence,
            "outcome": self.outcome,
            "reply": self.reply,
        }


def outcome_of(intent: str | None, confidence: float | None, text: str, actions: Sequence[str]) -> str:
    """What became of a turn, for counting: crisis and check-in first, then not understood."""
    if intent == CRISIS_INTENT or CRISIS_ACTION in actions:
        return "crisis"
    if intent == CHECK_IN_INTENT or CHECK_IN_ACTION in actions:
        return "check_in"
    if intent == FALLBACK_INTENT or FALLBACK_ACTION in actions:
        return "fallback"
    if not text.startswith("/") and confidence is not None and confidence < LOW_CONFIDENCE:
        return "low_confidence"
    return "understood"


def latest_turn(events: Sequence[dict[str, Any]]) -> Turn | None:
    """The summary of the latest user turn among `events` (Rasa's event dicts), or None."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            break
    else:
        return None
    user = events[index]
    actions = [e.get("name") for e in events[index + 1 :] if e.get("event") == "action"]
    steps = [a for a in actions if a and a not in BOOKKEEPING_ACTIONS]
    parse = user.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    confidence = (parse.get("intent") or {}).get("confidence")
    ranking = [r.get("name") for r in parse.get("intent_ranking") or [] if r.get("name")]
    guessed = next((name for name in ranking if name != FALLBACK_INTENT), intent)
    text = user.get("text") or ""
    return Turn(
        float(user.get("timestamp") or 0.0),
        user.get("input_channel"),
        intent,
        guessed,
        None if confidence is None else float(confidence),
        outcome_of(intent, confidence, text, actions),
        steps[-1] if steps else None,
    )


def _upsert(engine: sa.engine.Engine, table: sa.Table, row: dict[str, Any], keys: list[str], update: list[str]) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(**row)
    return statement.on_conflict_do_update(index_elements=keys, set_={c: statement.excluded[c] for c in update})


def record_turn(engine: sa.engine.Engine, sender_id: str, turn: Turn) -> None:
    """Writes (or rewrites, when a turn's tracker is saved again) the turn's and its
    conversation's rows."""
    row = turn.row(sender_id)
    conversation = {
        "sender_id": sender_id,
        "channel": turn.channel,
        "started": turn.at,
        "started_day": row["day"],
        "last_at": turn.at,
        "last_step": turn.reply,
    }
    with engine.begin() as connection:
        connection.execute(
            _upsert(engine, turns, row, ["sender_id", "at"], ["channel", "intent", "guessed_intent", "confidence", "outcome", "reply"])
        )
        connection.execute(_upsert(engine, conversations, conversation, ["sender_id"], ["last_at", "last_step"]))


def delete_senders(connection: Any, sender_ids: Iterable[str]) -> None:
    """Removes every summary row of these conversations (inside the caller's transaction)."""
    senders = list(sender_ids)
    for start in range(0, len(senders), 500):
        chunk = senders[start : start + 500]
        connection.execute(turns.delete().where(turns.c.sender_id.in_(chunk)))
        connection.execute(conversations.delete().where(conversations.c.sender_id.in_(chunk)))


def create_tables(engine: sa.engine.Engine) -> None:
    metadata.create_all(engine, checkfirst=True)
