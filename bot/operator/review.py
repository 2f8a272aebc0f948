"""Labelled review rows as a Rasa NLU file of candidates (`make export-review`).

    python -m bot.operator.review [--endpoints endpoints.yml] [--out results/review_candidates.yml]

Only turns an operator labelled on /operator, never a crisis or check-in turn (they are never
on the review list). The file is for a person to check, line by line, before moving examples
into data/nlu/: it is not read by training.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

from bot.operator.store import REVIEW_OUTCOMES, event_text, turn_event_data, turns

HEADER = (
    "# Candidates from real conversations, labelled on the operator page.\n"
    "# Check each one (and remove anything that identifies a person) before adding it to data/nlu/.\n"
)


def labelled_examples(engine: sa.engine.Engine) -> dict[str, list[str]]:
    """intent -> the texts of the review rows labelled with it, oldest first."""
    query = (
        sa.select(turns.c.label, turn_event_data())
        .where(turns.c.label.is_not(None), turns.c.outcome.in_(REVIEW_OUTCOMES))
        .order_by(turns.c.at)
    )
    examples: dict[str, list[str]] = defaultdict(list)
    with engine.connect() as connection:
        for label, data in connection.execute(query):
            text = " ".join(event_text(data).split())
            if text and text not in examples[label]:
                examples[label].append(text)
    return dict(sorted(examples.items()))


def nlu_yaml(examples: dict[str, list[str]]) -> str:
    """Rasa 3 NLU training data, one example a line (whitespace and line breaks folded)."""
    lines = [HEADER + 'version: "3.1"', "nlu:"]
    for intent, texts in examples.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in texts]
    if not examples:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    from bot.privacy import open_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", default="endpoints.yml")
    parser.add_argument("--out", default="results/review_candidates.yml")
    args = parser.parse_args(argv)
    examples = labelled_examples(open_store(args.endpoints).engine)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(nlu_yaml(examples), encoding="utf-8")
    print(f"{sum(map(len, examples.values()))} labelled examples for {len(examples)} intents -> {out}")


if __name__ == "__main__":
    main()
