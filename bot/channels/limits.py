"""Limits every channel applies before a message reaches the assistant.

- Length: a message longer than `max_message_chars` gets a polite "send it in shorter parts"
  reply instead of being classified; text beyond `MAX_TEXT_READ` is not read at all.
- Rate: each sender has a token bucket (`per_minute` sustained, `burst` at once); a message
  beyond it gets a polite "slow down" reply and is not processed.

A crisis disclosure is never held back by either limit: the detector reads the message first
and a disclosure goes through to the assistant, which refers it as always.

Set by environment variables (defaults in brackets): TRUST_MAX_MESSAGE_CHARS [2000],
TRUST_SENDER_PER_MINUTE [30], TRUST_SENDER_BURST [15]. Buckets live in each Rasa process; with
several processes behind round robin a sender's effective rate is that many times higher
(nginx also limits each client address, see deploy/nginx.conf.template).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

# Characters read at all: more than Telegram allows (4,096). A disclosure in an over-long
# message goes to the assistant whole, and reading it grows with its length: this bound keeps
# one such message from stalling a Rasa process (docs/benchmarks.md has the figures).
MAX_TEXT_READ = 5_000
MAX_TRACKED_SENDERS = 100_000


@dataclass(frozen=True)
class ChannelLimits:
    max_message_chars: int = 2000
    per_minute: float = 30.0
    burst: int = 15

    @classmethod
    def from_env(cls) -> "ChannelLimits":
        return cls(
            max_message_chars=int(os.environ.get("TRUST_MAX_MESSAGE_CHARS", cls.max_message_chars)),
            per_minute=float(os.environ.get("TRUST_SENDER_PER_MINUTE", cls.per_minute)),
            burst=int(os.environ.get("TRUST_SENDER_BURST", cls.burst)),
        )


class SenderRateLimiter:
    """A token bucket per sender; the least recently seen senders are forgotten first."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic, max_senders: int = MAX_TRACKED_SENDERS
    ) -> None:
        self.per_second = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_senders = max_senders
        self._buckets: "OrderedDict[str, tuple[float, float]]" = OrderedDict()

    def allow(self, sender_id: str) -> bool:
        """Takes a token for this sender if one is left."""
        now = self.clock()
        tokens, last = self._buckets.pop(sender_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.per_second)
        allowed = tokens >= 1.0
        self._buckets[sender_id] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_senders:
            self._buckets.popitem(last=False)
        return allowed


@lru_cache(maxsize=1)
def limits() -> ChannelLimits:
    return ChannelLimits.from_env()


@lru_cache(maxsize=1)
def rate_limiter() -> SenderRateLimiter:
    return SenderRateLimiter(limits().per_minute, limits().burst)
