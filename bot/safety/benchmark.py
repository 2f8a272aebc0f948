"""Crisis detector speed: microseconds per message over a large mixed corpus.

    python -m bot.safety.benchmark [ROUNDS]     (make bench-safety)

The corpus is every labelled case (disclosures and negatives), plus long and disguised
variants, repeated ROUNDS times. Prints figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time

from bot.paths import REPO_ROOT
from bot.safety.detector import get_detector
from bot.yaml_data import load_yaml


def corpus() -> list[str]:
    cases = load_yaml(REPO_ROOT / "tests" / "data" / "crisis_cases.yml")
    texts = [t for abouts in cases["disclosures"].values() for group in abouts.values() for t in group]
    texts += [t for group in cases["negatives"].values() for t in group]
    long = [" ".join(texts[i : i + 12]) for i in range(0, len(texts), 12)]
    spaced = [" ".join(t) for t in texts[:50]]
    return texts + long + spaced


def run(rounds: int = 5) -> dict[str, float]:
    detector = get_detector()
    messages = corpus()
    for text in messages[:50]:
        detector.detect(text)
    timings = []
    for _ in range(rounds):
        for text in messages:
            start = time.perf_counter()
            detector.detect(text)
            timings.append((time.perf_counter() - start) * 1e6)
    timings.sort()
    return {
        "messages": len(timings),
        "mean_us": statistics.fmean(timings),
        "p50_us": timings[len(timings) // 2],
        "p95_us": timings[int(len(timings) * 0.95)],
        "p99_us": timings[int(len(timings) * 0.99)],
        "max_us": timings[-1],
    }


if __name__ == "__main__":
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print("crisis detector: " + ", ".join(f"{k}={v:.0f}" for k, v in result.items()))
