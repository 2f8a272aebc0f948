"""Turning whatever a client sent into a message text and metadata the assistant can use.

Shared by the channels in this package. Nothing here raises: bad input becomes an empty
message (which the assistant answers with its "say it another way" reply) or no metadata.
"""

from __future__ import annotations

from typing import Any, Dict

# Metadata the actions read (bot/safety/referral.py picks crisis services from them).
METADATA_KEYS = ("country", "locale", "language", "language_code")
MAX_METADATA_VALUE = 35


def clean_text(value: Any) -> str:
    """The message text: strings as sent, numbers as digits, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def clean_metadata(value: Any) -> Dict[str, str]:
    """Only the known keys with short string values; anything else is dropped."""
    if not isinstance(value, dict):
        return {}
    return {key: value[key].strip()[:MAX_METADATA_VALUE] for key in METADATA_KEYS if isinstance(value.get(key), str) and value[key].strip()}
