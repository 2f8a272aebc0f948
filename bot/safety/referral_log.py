"""Counting crisis referrals and check-in questions by kind, country and channel. Never the
message text."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from bot.paths import REPO_ROOT

logger = logging.getLogger(__name__)
_lock = threading.Lock()
counts: Counter[tuple[str, str, str, str]] = Counter()


def referral_log_path() -> Path:
    return Path(os.environ.get("TRUST_REFERRAL_LOG", REPO_ROOT / "var" / "referrals.jsonl"))


def record_referral(kinds: Iterable[str], country: str | None, channel: str | None, event: str = "referral") -> None:
    """Count one referral (or check-in, `event="check_in"`) per kind, in memory and as a JSON
    line (event, kind, country, channel, time)."""
    kinds = list(kinds)
    country = country or "unknown"
    channel = channel or "unknown"
    path = referral_log_path()
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            for kind in kinds:
                counts[(event, kind, country, channel)] += 1
                line = {"event": event, "kind": kind, "country": country, "channel": channel, "at": int(time.time())}
                handle.write(json.dumps(line) + "\n")
    logger.info("crisis %s: kinds=%s country=%s channel=%s", event, ",".join(kinds), country, channel)
