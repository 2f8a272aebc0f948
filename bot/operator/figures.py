"""The operator page's figures for a period: per day, by kind, country and channel, where
conversations end, and the review list. Plain functions on an SQLAlchemy engine and the
referral log, so they can be tested and benchmarked without a server."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.operator.store import DAY_SECONDS, REVIEW_OUTCOMES, conversations, event_text, turn_event_data, turns

PERIODS = (7, 30, 90)
# A conversation idle this long has ended, for "where conversations end".
LEFT_AFTER_SECONDS = 30 * 60
REVIEW_ROWS = 50


def day_label(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY_SECONDS))


@dataclass
class Period:
    days: int
    now: float

    @property
    def last_day(self) -> int:
        return int(self.now // DAY_SECONDS)

    @property
    def first_day(self) -> int:
        return self.last_day - self.days + 1

    @property
    def since(self) -> float:
        return self.first_day * DAY_SECONDS

    def day_range(self) -> list[int]:
        return list(range(self.first_day, self.last_day + 1))


def read_referrals(path: Path, period: Period) -> list[dict[str, Any]]:
    """The referral log's lines in the period (a missing log is an empty one; a broken line is skipped)."""
    found = []
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        return found
    with handle:
        for line in handle:
            try:
                entry = json.loads(line)
                at = float(entry["at"])
            except (ValueError, KeyError, TypeError):
                continue
            if period.since <= at < (period.last_day + 1) * DAY_SECONDS:
                found.append(entry)
    return found


def figures(engine: sa.engine.Engine, referral_log: Path, days: int, now: float | None = None) -> dict[str, Any]:
    """Everything the page and its JSON show for the last `days` days (today included)."""
    period = Period(days, time.time() if now is None else now)
    day_keys = period.day_range()
    started: Counter[int] = Counter()
    messages: Counter[int] = Counter()
    outcomes: dict[int, Counter[str]] = defaultdict(Counter)
    with engine.connect() as connection:
        for day, count in connection.execute(
            sa.select(conversations.c.started_day, sa.func.count())
            .where(conversations.c.started_day >= period.first_day)
            .group_by(conversations.c.started_day)
        ):
            started[day] = count
        for day, outcome, count in connection.execute(
            sa.select(turns.c.day, turns.c.outcome, sa.func.count())
            .where(turns.c.day >= period.first_day)
            .group_by(turns.c.day, turns.c.outcome)
        ):
            messages[day] += count
            outcomes[day][outcome] += count
        guessed = connection.execute(
            sa.select(turns.c.guessed_intent, sa.func.count())
            .where(turns.c.day >= period.first_day, turns.c.outcome.in_(REVIEW_OUTCOMES))
            .group_by(turns.c.guessed_intent)
        ).all()
        by_channel = connection.execute(
            sa.select(conversations.c.channel, sa.func.count())
            .where(conversations.c.started_day >= period.first_day)
            .group_by(conversations.c.channel)
        ).all()
        ends = connection.execute(
            sa.select(conversations.c.last_step, sa.func.count())
            .where(conversations.c.last_at >= period.since, conversations.c.last_at < period.now - LEFT_AFTER_SECONDS)
            .group_by(conversations.c.last_step)
        ).all()
    referrals = read_referrals(referral_log, period)
    by_day_kind: dict[str, dict[int, Counter[str]]] = {"referral": defaultdict(Counter), "check_in": defaultdict(Counter)}
    by_country: dict[str, Counter[str]] = {"referral": Counter(), "check_in": Counter()}
    by_referral_channel: dict[str, Counter[str]] = {"referral": Counter(), "check_in": Counter()}
    for entry in referrals:
        event = "check_in" if entry.get("event") == "check_in" else "referral"
        by_day_kind[event][int(float(entry["at"]) // DAY_SECONDS)][str(entry.get("kind"))] += 1
        by_country[event][str(entry.get("country") or "unknown")] += 1
        by_referral_channel[event][str(entry.get("channel") or "unknown")] += 1
    kinds = sorted({k for event in by_day_kind.values() for counter in event.values() for k in counter})
    fell_back = {day: outcomes[day]["fallback"] + outcomes[day]["low_confidence"] for day in day_keys}

    def ranked(rows: Any) -> list[list[Any]]:
        return sorted([[str(name or "unknown"), int(count)] for name, count in rows], key=lambda r: (-r[1], r[0]))

    return {
        "days": days,
        "from": day_label(period.first_day),
        "to": day_label(period.last_day),
        "daily": [
            {
                "date": day_label(day),
                "conversations": started[day],
                "messages": messages[day],
                "fell_back": fell_back[day],
                "referrals": {kind: by_day_kind["referral"][day][kind] for kind in kinds},
                "check_ins": {kind: by_day_kind["check_in"][day][kind] for kind in kinds},
            }
            for day in day_keys
        ],
        "kinds": kinds,
        "totals": {
            "conversations": sum(started[d] for d in day_keys),
            "messages": sum(messages[d] for d in day_keys),
            "fell_back": sum(fell_back.values()),
            "referrals": sum(sum(by_day_kind["referral"][d].values()) for d in day_keys),
            "check_ins": sum(sum(by_day_kind["check_in"][d].values()) for d in day_keys),
        },
        "fell_back_by_guessed_intent": ranked(guessed),
        "conversations_by_channel": ranked(by_channel),
        "referrals_by_country": ranked(by_country["referral"].items()),
        "referrals_by_channel": ranked(by_referral_channel["referral"].items()),
        "check_ins_by_country": ranked(by_country["check_in"].items()),
        "check_ins_by_channel": ranked(by_referral_channel["check_in"].items()),
        "conversation_ends": ranked(ends),
    }


def review_rows(engine: sa.engine.Engine, with_text: bool, limit: int = REVIEW_ROWS) -> list[dict[str, Any]]:
    """The newest turns the assistant did not understand. Crisis and check-in turns are never
    among them; the text is read from Rasa's events only when `with_text`."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                turns.c.id,
                turns.c.sender_id,
                turns.c.at,
                turns.c.channel,
                turns.c.guessed_intent,
                turns.c.confidence,
                turns.c.outcome,
                turns.c.label,
                (turn_event_data() if with_text else sa.null()).label("data"),
            )
            .where(turns.c.outcome.in_(REVIEW_OUTCOMES))
            .order_by(turns.c.at.desc())
            .limit(limit)
        ).all()
    return [
        {
            "id": row.id,
            "when": time.strftime("%Y-%m-%d %H:%M", time.gmtime(row.at)),
            "channel": row.channel or "unknown",
            "guessed_intent": row.guessed_intent or "unknown",
            "confidence": None if row.confidence is None else round(float(row.confidence), 2),
            "outcome": row.outcome,
            "label": row.label,
            **({"text": event_text(row.data)} if with_text else {}),
        }
        for row in rows
    ]


def set_label(engine: sa.engine.Engine, turn_id: int, intent: str | None) -> bool:
    """Labels a review row with an intent (None clears it); False when there is no such row."""
    with engine.begin() as connection:
        result = connection.execute(turns.update().where(turns.c.id == turn_id, turns.c.outcome.in_(REVIEW_OUTCOMES)).values(label=intent))
    return result.rowcount == 1


def daily_csv(figures_: dict[str, Any]) -> str:
    """The daily figures as CSV: one row a day, a column per kind of referral and check-in."""
    kinds = figures_["kinds"]
    header = ["date", "conversations", "messages", "fell_back", "referrals", "check_ins"]
    header += [f"referrals_{k}" for k in kinds] + [f"check_ins_{k}" for k in kinds]
    lines = [",".join(header)]
    for day in figures_["daily"]:
        values = [
            day["date"],
            day["conversations"],
            day["messages"],
            day["fell_back"],
            sum(day["referrals"].values()),
            sum(day["check_ins"].values()),
        ]
        values += [day["referrals"][k] for k in kinds] + [day["check_ins"][k] for k in kinds]
        lines.append(",".join(str(v) for v in values))
    return "\n".join(lines) + "\n"
