"""Plain functions behind the check-in question (no Rasa needed)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping


def interrupted_form(events: Iterable[Mapping[str, Any]]) -> str | None:
    """The form a check-in interrupted in this turn: the last form that was active when the
    latest user message arrived and was deactivated after it; None when no form was."""
    events = list(events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    deactivated_now = any(e.get("event") == "active_loop" and not e.get("name") for e in events[last_user + 1 :])
    if not deactivated_now:
        return None
    for event in reversed(events[: last_user + 1]):
        if event.get("event") == "active_loop":
            return event.get("name") or None
    return None
