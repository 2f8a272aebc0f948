"""Crisis detection speed over a large mixed corpus. Prints figures; asserts nothing.

    python -m bot.safety.benchmark [ROUNDS]     (make bench-safety)

1. The pattern layer alone, in microseconds per message: every labelled case (disclosures and
   negatives), plus long and disguised variants, repeated ROUNDS times.
2. The whole assessment a message gets in the assistant (sentence encoder, learned layer and
   patterns; the memory of recent messages bypassed), in milliseconds: chat-length messages
   (under 300 characters) from the same corpus, and 5,000-character messages (the most a
   channel reads), including 300 one-word sentences, one sentence of 1,000 words and emoji.
"""

from __future__ import annotations

import random
import statistics
import string
import sys
import time

from bot.paths import REPO_ROOT
from bot.safety.assess import decide
from bot.safety.classifier import get_learned_layer
from bot.safety.detector import get_detector
from bot.yaml_data import load_yaml


def corpus() -> list[str]:
    cases = load_yaml(REPO_ROOT / "tests" / "data" / "crisis_cases.yml")
    texts = [t for abouts in cases["disclosures"].values() for group in abouts.values() for t in group]
    texts += [t for group in cases["negatives"].values() for t in group]
    long = [" ".join(texts[i : i + 12]) for i in range(0, len(texts), 12)]
    spaced = [" ".join(t) for t in texts[:50]]
    return texts + long + spaced


def _percentiles(timings: list[float], prefix: str = "") -> dict[str, float]:
    timings = sorted(timings)
    return {
        f"{prefix}mean_us": statistics.fmean(timings),
        f"{prefix}p50_us": timings[len(timings) // 2],
        f"{prefix}p95_us": timings[int(len(timings) * 0.95)],
        f"{prefix}p99_us": timings[int(len(timings) * 0.99)],
        f"{prefix}max_us": timings[-1],
    }


def run(rounds: int = 5) -> dict[str, float]:
    """Every timing of every round, and (`best_*`) each message's fastest round: the second
    filters out the moments this shared VM's scheduler gives the core to someone else."""
    detector = get_detector()
    messages = corpus()
    for text in messages[:50]:
        detector.detect(text)
    per_message: list[list[float]] = [[] for _ in messages]
    for _ in range(rounds):
        for index, text in enumerate(messages):
            start = time.perf_counter()
            detector.detect(text)
            per_message[index].append((time.perf_counter() - start) * 1e6)
    result: dict[str, float] = {"messages": len(messages) * rounds}
    result.update(_percentiles([t for timings in per_message for t in timings]))
    result.update(_percentiles([min(timings) for timings in per_message], "best_"))
    return result


CHAT_LENGTH = 300
LONGEST_READ = 5_000


def long_messages() -> dict[str, str]:
    """Messages of the most the channels read (5,000 characters), by what they are."""
    texts = corpus()
    stories = " ".join(texts)
    return {
        "stories": stories[:LONGEST_READ],
        "more stories": stories[LONGEST_READ : 2 * LONGEST_READ],
        "300 one-word sentences": ". ".join(["Okay"] * 300)[:LONGEST_READ],
        "a 1,000-word sentence": " ".join(["so"] * 995 + ["i", "want", "to", "kill", "myself"])[:LONGEST_READ],
        # The most words 5,000 characters hold, in one run-on sentence; drawn at random, since
        # repeated word windows are encoded once.
        "2,500 one-letter words": (" ".join(random.Random(0).choices(string.ascii_lowercase, k=2489)) + " i want to kill myself")[
            :LONGEST_READ
        ],
        "emoji": ("🙂" * LONGEST_READ)[:LONGEST_READ],
        "one sentence 80 times": ("My partner keeps lying to me and I check his phone every night. " * 80)[:LONGEST_READ],
    }


def _assess_once(text: str) -> float:
    detector, learned = get_detector(), get_learned_layer()
    start = time.perf_counter()
    decide(detector.detect(text), learned.read(text), 0.0, 0.0)
    return (time.perf_counter() - start) * 1000


def run_assessment(rounds: int = 3) -> tuple[dict[str, float], dict[str, float]]:
    """Milliseconds for the whole assessment of chat-length and of 5,000-character messages:
    the figures, and each long message's time."""
    chat = [t for t in corpus() if len(t) < CHAT_LENGTH]
    for text in chat[:30]:
        _assess_once(text)
    timings = sorted(_assess_once(text) for _ in range(rounds) for text in chat)
    each_long = {name: _assess_once(text) for name, text in long_messages().items()}
    longest = sorted(each_long.values())
    return {
        "chat_messages": len(timings),
        "chat_p50_ms": timings[len(timings) // 2],
        "chat_p95_ms": timings[int(len(timings) * 0.95)],
        "chat_p99_ms": timings[int(len(timings) * 0.99)],
        "chat_max_ms": timings[-1],
        "long_messages": len(longest),
        "long_p50_ms": longest[len(longest) // 2],
        "long_max_ms": longest[-1],
    }, each_long


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    result = run(rounds)
    print("crisis patterns: " + ", ".join(f"{k}={v:.0f}" for k, v in result.items()))
    assessment, each_long = run_assessment(max(1, rounds // 2))
    print(
        "whole assessment (encoder + learned layer + patterns): "
        + ", ".join(f"{k}={v:.1f}" if k.endswith("ms") else f"{k}={v:.0f}" for k, v in assessment.items())
    )
    print("5,000-character messages, ms: " + ", ".join(f"{name} {ms:.0f}" for name, ms in each_long.items()))
