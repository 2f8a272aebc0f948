"""How fast the operator page's queries answer on a store of 100,000 conversations.

    python -m bench.operator [--conversations 100000]   (make bench-operator; make bench runs it too)

Generates the store in a temporary SQLite file (Rasa's events for every user turn, and the
summary rows bot/tracker_store.py writes, spread over 120 days) and a referral log, then
times what a page view runs: the figures for 7, 30 and 90 days and the review list with its
text. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from bot.operator.figures import daily_csv, figures, review_rows
from bot.operator.page import render
from bot.operator.store import DAY_SECONDS, Turn, conversations, turns
from bot.tracker_store import PrivateSQLTrackerStore
from bot.web.operator import label_intents

OUTCOMES = [
    ("understood", 0.93, "action_show_signs"),
    ("understood", 0.88, "action_show_causes"),
    ("fallback", 0.4, "utter_default"),
    ("low_confidence", 0.5, "action_show_therapy"),
    ("crisis", 1.0, "action_crisis_referral"),
    ("check_in", 1.0, "action_crisis_check_in"),
]
WEIGHTS = [50, 20, 10, 8, 2, 2]
KINDS = ["suicide", "abuse", "sexual_violence", "self_harm", "danger"]


def generate(directory: Path, count: int, seed: int = 3) -> tuple[PrivateSQLTrackerStore, Path, int]:
    rng = random.Random(seed)
    store = PrivateSQLTrackerStore(dialect="sqlite", db=str(directory / "trackers.db"))
    events_table = store.SQLEvent.__table__
    now = time.time()
    turn_rows: list[dict[str, Any]] = []
    conversation_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    referrals: list[str] = []
    total_turns = 0

    def flush() -> None:
        if not conversation_rows:
            return
        with store.engine.begin() as connection:
            connection.execute(events_table.insert(), event_rows)
            connection.execute(turns.insert(), turn_rows)
            connection.execute(conversations.insert(), conversation_rows)
        for rows in (event_rows, turn_rows, conversation_rows):
            rows.clear()

    for number in range(count):
        sender = f"bench-{number:06d}"
        channel = rng.choice(["rest", "socketio", "telegram"])
        start = now - rng.uniform(0, 120 * DAY_SECONDS)
        reply = None
        for index in range(rng.randint(1, 4)):
            outcome, confidence, reply = rng.choices(OUTCOMES, WEIGHTS)[0]
            at = start + 60 * index
            text = f"generated message {number}-{index}"
            turn = Turn(at, channel, "ask_signs", "ask_signs", confidence, outcome, reply)
            turn_rows.append(turn.row(sender))
            event_rows.append(
                {
                    "sender_id": sender,
                    "type_name": "user",
                    "timestamp": at,
                    "intent_name": "ask_signs",
                    "action_name": None,
                    "data": json.dumps({"event": "user", "text": text, "timestamp": at}),
                }
            )
            if outcome in ("crisis", "check_in"):
                event = "referral" if outcome == "crisis" else "check_in"
                referrals.append(
                    json.dumps({"event": event, "kind": rng.choice(KINDS), "country": "US", "channel": channel, "at": int(at)})
                )
            total_turns += 1
        conversation_rows.append(
            {
                "sender_id": sender,
                "channel": channel,
                "started": start,
                "started_day": int(start // DAY_SECONDS),
                "last_at": start + 60 * index,
                "last_step": reply,
            }
        )
        if len(conversation_rows) >= 5000:
            flush()
    flush()
    log = directory / "referrals.jsonl"
    log.write_text("\n".join(referrals) + "\n")
    return store, log, total_turns


def timed(call: Callable[[], Any], runs: int = 5) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def run(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trust-operator-bench-") as name:
        started = time.perf_counter()
        store, log, total_turns = generate(Path(name), count)
        generated = time.perf_counter() - started
        engine = store.engine
        results: dict[str, Any] = {"conversations": count, "turns": total_turns, "generate_s": round(generated, 1)}
        for days in (7, 30, 90):
            results[f"figures_{days}d_ms"] = timed(lambda days=days: figures(engine, log, days))
        results["review_ms"] = timed(lambda: review_rows(engine, with_text=True))
        intents = label_intents()
        results["page_view_90d_ms"] = timed(lambda: render(figures(engine, log, 90), review_rows(engine, True), True, intents))
        results["csv_90d_ms"] = timed(lambda: daily_csv(figures(engine, log, 90)))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    args = parser.parse_args()
    results = run(args.conversations)
    print(
        f"operator page on {results['conversations']:,} conversations ({results['turns']:,} turns; "
        f"generated in {results['generate_s']} s), median / max of 5 runs:"
    )
    for key, value in results.items():
        if key.endswith("_ms"):
            print(f"  {key[:-3]:<22} {value[0]:7.1f} ms / {value[1]:7.1f} ms")


if __name__ == "__main__":
    main()
