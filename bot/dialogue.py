"""What answers each intent outside the forms, read from the rules in
data/rules/conversation.yml, so that an aside inside a form is answered exactly as it is
outside one (actions/actions.py, ActionAnswerAside) without a second copy of the mapping."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from bot.paths import REPO_ROOT
from bot.yaml_data import load_yaml

RULES_FILE = REPO_ROOT / "data" / "rules" / "conversation.yml"
# Actions Rasa answers from the ResponseSelector's choice within a retrieval intent.
RETRIEVAL_ACTIONS = {"utter_chitchat": "chitchat", "utter_faq": "faq"}


@lru_cache(maxsize=1)
def answers_by_intent() -> dict[str, list[str]]:
    """intent -> the actions that answer it, from the unconditional one-intent rules."""
    found: dict[str, list[str]] = {}
    for rule in load_yaml(RULES_FILE)["rules"]:
        steps = rule.get("steps") or []
        if rule.get("condition") or len(steps) < 2 or "intent" not in steps[0]:
            continue
        if all("action" in step for step in steps[1:]):
            found.setdefault(steps[0]["intent"], [step["action"] for step in steps[1:]])
    return found


def retrieval_response(latest_message: Mapping[str, Any], retrieval_intent: str) -> str | None:
    """The response the ResponseSelector chose for the latest message (e.g. utter_faq/online_therapy)."""
    selectors = latest_message.get("response_selector") or {}
    chosen = (selectors.get(retrieval_intent) or selectors.get("default") or {}).get("response") or {}
    if chosen.get("utter_action"):
        return chosen["utter_action"]
    key = chosen.get("intent_response_key")
    return f"utter_{key}" if key else None
