"""A REST load generator: many scripted conversations at once against a Rasa server.

Each conversation is ten turns from `SCRIPTS`, some with a crisis disclosure in the middle.
Two ways to drive them: back to back (closed loop: the next message leaves as soon as the
reply arrives, which measures the server at saturation), or paced by a think time (each
simulated person waits a random 1-3 s after a reply before sending, as people read and type;
real people usually take longer).
Every reply is checked: HTTP 200 and a JSON list of messages each with content (text, buttons,
an image; an error otherwise); empty lists are counted apart; crisis turns must carry a
referral (only for assistants that refer: `expect_referrals`).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

CRISIS_TURN = "i want to kill myself"
SCRIPTS = [
    [
        "hi",
        '/choose_relationship{"relationship":"romantic"}',
        "/ask_signs",
        "why am I like this?",
        CRISIS_TURN,
        "/crisis_safe",
        "how do I rebuild trust?",
        "what therapy could help?",
        "thanks",
        "bye",
    ],
    [
        "hello",
        "my boss takes credit for my work",
        "what are the signs?",
        "what causes this?",
        "how can I fix it?",
        "tell me about couples therapy",
        "my partner hits me",
        "yes",
        "thank you",
        "goodbye",
    ],
    [
        "hey",
        "my sister reads my diary",
        "/ask_causes",
        "/ask_rebuild",
        "/ask_therapy",
        "I feel alone",
        "what is CBT?",
        "/show_menu",
        "thanks",
        "bye",
    ],
]
REFERRAL_MARKERS = ("Are you safe right now?", "Are they safe right now")
CRISIS_TURNS = {CRISIS_TURN, "my partner hits me"}


@dataclass(frozen=True)
class ThinkTime:
    """Seconds a simulated person waits after a reply before the next message."""

    low: float = 1.0
    high: float = 3.0

    def label(self) -> str:
        return f"{self.low:g}-{self.high:g} s"


@dataclass
class LoadResult:
    concurrency: int
    conversations: int
    turns: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    empty_replies: int = 0  # HTTP 200 with an empty list: the assistant chose to say nothing
    crisis_turns: int = 0
    crisis_referred: int = 0
    think_time: ThinkTime | None = None

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms) or [0.0]

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

        return {
            "think_time": self.think_time.label() if self.think_time else "none",
            "concurrency": self.concurrency,
            "conversations": self.conversations,
            "messages": len(self.latencies_ms),
            "errors": len(self.errors),
            "empty_replies": self.empty_replies,
            "p50_ms": round(pct(0.50), 1),
            "p95_ms": round(pct(0.95), 1),
            "p99_ms": round(pct(0.99), 1),
            "mean_ms": round(statistics.fmean(ordered), 1),
            "messages_per_second": round(len(self.latencies_ms) / self.seconds, 1) if self.seconds else 0.0,
            "crisis_referred": f"{self.crisis_referred}/{self.crisis_turns}",
        }


REPLY_CONTENT = ("text", "buttons", "image", "attachment", "custom")  # what Rasa's REST replies carry


def well_formed(replies: Any) -> bool:
    return isinstance(replies, list) and all(isinstance(r, dict) and any(r.get(key) for key in REPLY_CONTENT) for r in replies)


async def _conversation(
    session: aiohttp.ClientSession, url: str, script: list[str], result: LoadResult, expect_referrals: bool, rng: random.Random
) -> None:
    sender = f"load-{uuid.uuid4().hex}"
    think = result.think_time
    if think:  # people do not all arrive in the same instant
        await asyncio.sleep(rng.uniform(0, think.high))
    for turn, message in enumerate(script):
        if think and turn:
            await asyncio.sleep(rng.uniform(think.low, think.high))
        started = time.perf_counter()
        try:
            async with session.post(url, json={"sender": sender, "message": message}) as response:
                body = await response.text()
                status = response.status
        except Exception as error:  # a refused or dropped connection is an error to count
            result.errors.append(f"{type(error).__name__}")
            continue
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        try:
            replies = json.loads(body)
        except ValueError:
            replies = None
        if status != 200 or not well_formed(replies):
            result.errors.append(f"status {status}: {body[:120]}")
            continue
        if not replies:
            result.empty_replies += 1
        if expect_referrals and message in CRISIS_TURNS:
            result.crisis_turns += 1
            text = "\n".join(r.get("text") or "" for r in replies)
            result.crisis_referred += any(marker in text for marker in REFERRAL_MARKERS)


async def run_load(
    rasa_url: str,
    concurrency: int,
    conversations: int,
    expect_referrals: bool = True,
    think_time: ThinkTime | None = None,
    seed: int = 7,
    token: str | None = None,
) -> LoadResult:
    """`conversations` conversations, `concurrency` of them at a time; back to back unless a
    think time is given. `token`: the REST channel's bearer token, when it needs one."""
    url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
    result = LoadResult(concurrency, conversations, len(SCRIPTS[0]), 0.0, think_time=think_time)
    rng = random.Random(seed)
    gate = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)

    async def one(index: int) -> None:
        async with gate:
            await _conversation(session, url, SCRIPTS[index % len(SCRIPTS)], result, expect_referrals, rng)

    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency), headers=headers) as session:
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(conversations)))
        result.seconds = time.perf_counter() - started
    return result


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
