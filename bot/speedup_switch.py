"""Which of the Rasa speedups (bot/rasa_speedups.py) may run here, decided without importing
what they patch: the tracker store asks too, and must not pull TensorFlow into the page
server or the retention commands."""

from __future__ import annotations

import os

import rasa

PINNED_RASA_VERSION = "3.6.21"
SWITCH = "TRUST_RASA_SPEEDUPS"
PATCHES = ("validate", "events", "ted", "graph")


def chosen_patches() -> tuple[str, ...]:
    """The patches `TRUST_RASA_SPEEDUPS` asks for: all when unset or 1, none when 0, else a
    comma-separated list of PATCHES (for measuring one at a time)."""
    value = os.environ.get(SWITCH, "1").strip()
    if value == "1":
        return PATCHES
    if value == "0":
        return ()
    return tuple(name for name in PATCHES if name in {part.strip() for part in value.split(",")})


def enabled() -> bool:
    """Whether the patches may be used here: not switched off, and Rasa is the pinned release.
    The tracker store's own shortcuts (bot/tracker_store.py) follow the same switch."""
    return bool(chosen_patches()) and rasa.__version__ == PINNED_RASA_VERSION
