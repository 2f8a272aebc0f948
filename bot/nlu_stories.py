"""How the NLU reads long, real-style messages: on topic and about the right relationship.

    python -m bot.nlu_stories [--model MODEL] [--messages FILE] [--out FILE]

reads tests/data/nlu_stories_test.yml (written for the project, kept apart from the training
data; `--messages tests/data/nlu_stories_dev.yml` reads the development set, whose figure is a
tuning figure) with the trained model and prints the share answered on topic (the predicted intent is
one of the message's `accept`) and, of those naming a relationship, the share whose
`relationship` slot would be the right one (the slot's mappings: the relationship entity
first, then the concern intent). The crisis override may turn a message into a check-in; that
counts as off topic here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from bot.paths import REPO_ROOT
from bot.yaml_data import load_yaml

MESSAGES_FILE = REPO_ROOT / "tests" / "data" / "nlu_stories_test.yml"
DEV_MESSAGES_FILE = REPO_ROOT / "tests" / "data" / "nlu_stories_dev.yml"
MODEL_FILE = REPO_ROOT / "models" / "trust.tar.gz"
DOMAIN_FILE = REPO_ROOT / "domain.yml"


@dataclass(frozen=True)
class Reading:
    text: str
    accept: tuple[str, ...]
    relationship: str | None
    intent: str
    slot: str | None

    @property
    def on_topic(self) -> bool:
        return self.intent in self.accept

    @property
    def right_relationship(self) -> bool:
        return self.slot == self.relationship


def relationship_slot(parse: dict) -> str | None:
    """What the domain's `relationship` slot mappings (domain.yml) would set from this parse:
    the first mapping that finds a value wins, and an entity mapping takes the last entity."""
    intent = (parse.get("intent") or {}).get("name")
    for mapping in load_yaml(DOMAIN_FILE)["slots"]["relationship"]["mappings"]:
        if mapping["type"] == "from_entity":
            found = [e["value"] for e in parse.get("entities", []) if e.get("entity") == mapping["entity"]]
            if found:
                return found[-1]
        elif mapping["type"] == "from_intent" and mapping["intent"] == intent:
            return mapping["value"]
    return None


def read_all(model: Path = MODEL_FILE, messages: Path = MESSAGES_FILE) -> list[Reading]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    # Outside Rasa's command line nothing configures structlog, whose default prints every debug
    # event, and the parse event carries the message: the held-out messages stay out of the output.
    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    readings = []
    for item in load_yaml(messages)["messages"]:
        parse = asyncio.run(agent.parse_message(item["text"]))
        readings.append(
            Reading(item["text"], tuple(item["accept"]), item["relationship"], parse["intent"]["name"], relationship_slot(parse))
        )
    return readings


def summary(readings: list[Reading]) -> dict[str, float | int]:
    named = [r for r in readings if r.relationship]
    return {
        "messages": len(readings),
        "on_topic": sum(r.on_topic for r in readings) / len(readings),
        "with_relationship": len(named),
        "right_relationship": sum(r.right_relationship for r in named) / len(named),
    }


def report(readings: list[Reading]) -> str:
    """The figures, then each miss as predicted intent / relationship against the expected."""
    figures = summary(readings)
    lines = [
        f"{figures['messages']} held-out multi-sentence messages: {figures['on_topic']:.1%} on topic; "
        f"right relationship for {figures['right_relationship']:.1%} of the {figures['with_relationship']} that name one"
    ]
    for r in readings:
        if not (r.on_topic and (r.relationship is None or r.right_relationship)):
            lines.append(f"  {r.intent} / {r.slot}  expected {' or '.join(r.accept)} / {r.relationship}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL_FILE)
    parser.add_argument("--messages", type=Path, default=MESSAGES_FILE)
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args()
    text = report(read_all(args.model, args.messages))
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
