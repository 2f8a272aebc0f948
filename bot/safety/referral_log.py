"""Counting crisis referrals by kind, country and channel. Never the message text."""

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
counts: Counter[tuple[str, str, str]] = Counter()


def referral_log_path() -> Path:
    return Path(os.environ.get("TRUST_REFERRAL_LOG", REPO_ROOT / "var" / "referrals.jsonl"))


def record_referral(kinds: Iterable[str], country: str | None, channel: str | None) -> None:
    """Count one referral per kind, in memory and as a JSON line (kind, country, channel, time)."""
    kinds = list(kinds)
    country = country or "unknown"
    channel = channel or "unknown"
    path = referral_log_path()
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            for kind in kinds:
                counts[(kind, country, channel)] += 1
                handle.write(json.dumps({"kind": kind, "country": country, "channel": channel, "at": int(time.time())}) + "\n")
    logger.info("crisis referral: kinds=%s country=%s channel=%s", ",".join(kinds), country, channel)
