"""A tracker store seeded, through the project's own store, with conversations whose figures
are known, and a referral log to match: for the operator page's tests."""

from __future__ import annotations

import asyncio
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.operator.store import DAY_SECONDS
from bot.tracker_store import PrivateSQLTrackerStore

KINDS = ["suicide", "abuse", "sexual_violence", "self_harm"]
CHANNELS = ["rest", "socketio", "telegram"]
# kind of turn -> (intent, confidence, ranking after the top, reply action, outcome)
TURN_KINDS = {
    "understood": ("ask_signs", 0.93, [], "action_show_signs", "understood"),
    "button": ("ask_causes", 1.0, [], "action_show_causes", "understood"),
    "fallback": ("nlu_fallback", 0.45, [("ask_rebuild", 0.31), ("ask_therapy", 0.2)], "utter_default", "fallback"),
    "low": ("ask_therapy", 0.52, [("ask_rebuild", 0.3)], "action_show_therapy", "low_confidence"),
    "crisis": ("crisis_disclosure", 1.0, [("ask_signs", 0.4)], "action_crisis_referral", "crisis"),
    "check_in": ("crisis_check_in", 1.0, [("ask_signs", 0.5)], "action_crisis_check_in", "check_in"),
    # The classifier fell back, but the crisis layer referred: a crisis turn, never reviewed.
    "crisis_unsure": ("nlu_fallback", 0.3, [("ask_signs", 0.2)], "action_crisis_referral", "crisis"),
}
WEIGHTS = {"understood": 10, "button": 4, "fallback": 3, "low": 2, "crisis": 1, "check_in": 1, "crisis_unsure": 1}


@dataclass
class SeededTurn:
    sender: str
    at: float
    kind: str
    text: str
    outcome: str


@dataclass
class Seeded:
    db: Path
    endpoints: Path
    referral_log: Path
    turns: list[SeededTurn] = field(default_factory=list)
    referrals: list[dict] = field(default_factory=list)

    def store(self) -> PrivateSQLTrackerStore:
        return PrivateSQLTrackerStore(dialect="sqlite", db=str(self.db))

    def expected(self, days: int, now: float | None = None) -> dict[str, int]:
        """The totals the page must show for the last `days` days, counted from the seed."""
        now = time.time() if now is None else now
        first_day = int(now // DAY_SECONDS) - days + 1
        inside = [t for t in self.turns if int(t.at // DAY_SECONDS) >= first_day]
        starts: dict[str, float] = {}
        for turn in self.turns:
            starts[turn.sender] = min(starts.get(turn.sender, turn.at), turn.at)
        lines = [r for r in self.referrals if int(r["at"] // DAY_SECONDS) >= first_day]
        return {
            "conversations": sum(1 for at in starts.values() if int(at // DAY_SECONDS) >= first_day),
            "messages": len(inside),
            "fell_back": sum(1 for t in inside if t.outcome in ("fallback", "low_confidence")),
            "referrals": sum(1 for r in lines if r["event"] == "referral"),
            "check_ins": sum(1 for r in lines if r["event"] == "check_in"),
        }


def _user_event(turn: SeededTurn, channel: str) -> UserUttered:
    intent, confidence, ranking, _, _ = TURN_KINDS[turn.kind]
    top = {"name": intent, "confidence": confidence}
    parse = {"intent": top, "intent_ranking": [top] + [{"name": n, "confidence": c} for n, c in ranking], "entities": [], "text": turn.text}
    return UserUttered(turn.text, top, [], parse, timestamp=turn.at, input_channel=channel)


def seed(tmp: Path, conversations: int = 300, seed_value: int = 11, now: float | None = None) -> Seeded:
    """`conversations` conversations over the last 95 days, 1-4 turns each, saved turn by turn.
    Runs in a thread of its own, so it works beside Playwright's event loop too."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(_seed, tmp, conversations, seed_value, now).result()


def _seed(tmp: Path, conversations: int, seed_value: int, now: float | None) -> Seeded:
    now = time.time() if now is None else now
    rng = random.Random(seed_value)
    seeded = Seeded(tmp / "trackers.db", tmp / "endpoints.yml", tmp / "referrals.jsonl")
    seeded.endpoints.write_text(
        yaml.safe_dump({"tracker_store": {"type": "bot.tracker_store.PrivateSQLTrackerStore", "dialect": "sqlite", "db": str(seeded.db)}})
    )
    store = seeded.store()
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    for number in range(conversations):
        sender = f"seeded-{number}"
        channel = rng.choice(CHANNELS)
        start = now - rng.uniform(2 * 3600, 95 * DAY_SECONDS)
        tracker = DialogueStateTracker(sender, [])
        tracker.update(ActionExecuted("action_session_start", timestamp=start - 1))
        tracker.update(SessionStarted(timestamp=start - 1))
        tracker.update(ActionExecuted("action_listen", timestamp=start - 1))
        for index in range(rng.randint(1, 4)):
            kind = rng.choices(kinds, weights)[0]
            at = start + 60 * index
            text = f"/{TURN_KINDS[kind][0]}" if kind == "button" else f"seeded {kind} message number {number}-{index}"
            turn = SeededTurn(sender, at, kind, text, TURN_KINDS[kind][4])
            seeded.turns.append(turn)
            tracker.update(_user_event(turn, channel))
            tracker.update(ActionExecuted(TURN_KINDS[kind][3], timestamp=at + 0.1))
            tracker.update(BotUttered("(a reply)", timestamp=at + 0.2))
            tracker.update(ActionExecuted("action_listen", timestamp=at + 0.3))
            asyncio.run(store.save(tracker))
            if kind in ("crisis", "check_in", "crisis_unsure"):
                seeded.referrals.append(
                    {
                        "event": "check_in" if kind == "check_in" else "referral",
                        "kind": rng.choice(KINDS),
                        "country": rng.choice(["US", "GB", "unknown"]),
                        "channel": channel,
                        "at": int(at),
                    }
                )
    seeded.referral_log.write_text("".join(json.dumps(r) + "\n" for r in seeded.referrals))
    return seeded
