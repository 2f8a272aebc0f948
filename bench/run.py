"""`make bench`: the assistant next to the stock `rasa init` assistant, on this machine, in one run.

1. REST latency (p50/p95/p99) and messages per second at 1, 10 and 50 concurrent
   conversations, sent back to back (closed loop: saturation) and paced by a 1-3 s think time
   between a reply and the next message (people reading and typing), for this assistant
   (action server, SQLite tracker store, one Rasa process) and for `rasa init`'s assistant
   trained in a temporary folder, driven by the same load generator (bench/loadgen.py) with
   the same messages; and the ratio between them. Both assistants are up at once and each
   level runs on one and then the other, so a pair sees the machine in the same state.
2. The crisis detector in microseconds per message (bot/safety/benchmark.py).
3. Training time from scratch (empty Rasa cache) and model size, for both.

Results: results/bench.json and a table in the terminal. Figures only; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import operator as operator_benchmark
from bench.loadgen import ThinkTime, format_table, run_load
from bot.paths import REPO_ROOT
from bot.safety import benchmark as detector_benchmark
from deploy.services import RASA_SERVER, free_port, rasa_env, stop_processes, wait_for

RASA = str(REPO_ROOT / ".venv" / "bin" / "rasa")
# (concurrent conversations, conversations in all, think time or None for back to back)
LEVELS = [(1, 10, None), (10, 30, None), (50, 100, None), (10, 20, ThinkTime()), (50, 100, ThinkTime())]
RESULTS = REPO_ROOT / "results" / "bench.json"


# This assistant runs as in production, its REST channel checking a bearer token.
REST_TOKEN = os.urandom(16).hex()


def _env(cache: Path, training: bool = False) -> dict[str, str]:
    env = rasa_env(PYTHONPATH=str(REPO_ROOT), RASA_CACHE_DIRECTORY=str(cache), TRUST_REST_TOKEN=REST_TOKEN)
    if training:  # training uses every core, as `make train` does
        for name in ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS"):
            env.pop(name)
    return env


def train(cwd: Path, args: list[str], env: dict[str, str], log: Any, models_dir: Path) -> tuple[float, Path]:
    started = time.perf_counter()
    subprocess.run([RASA, *args], cwd=cwd, env=env, stdout=log, stderr=log, check=True)
    seconds = time.perf_counter() - started
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return seconds, models[-1]


def measure_side_by_side(ours_url: str, stock_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each level on this assistant and then on rasa init, so both see the machine as it is
    at that moment (this VM's speed drifts by a third over minutes)."""
    ours, stock = [], []
    for url in (ours_url, stock_url):
        asyncio.run(run_load(url, 1, 3, url == ours_url, token=REST_TOKEN))  # warm-up
    for concurrency, conversations, think_time in LEVELS:
        for url, rows in ((ours_url, ours), (stock_url, stock)):
            result = asyncio.run(run_load(url, concurrency, conversations, url == ours_url, think_time, token=REST_TOKEN))
            rows.append(result.summary())
    return ours, stock


def main() -> None:
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M")}
    with tempfile.TemporaryDirectory(prefix="trust-bench-") as tmp_name:
        tmp = Path(tmp_name)
        log = open(tmp / "bench.log", "w")
        print("crisis detector ...", flush=True)
        results["detector_us"] = {k: round(v, 1) for k, v in detector_benchmark.run(3).items()}

        print("training this assistant from scratch ...", flush=True)
        ours = tmp / "ours"
        ours.mkdir()
        seconds, model = train(
            REPO_ROOT,
            ["train", "--out", str(ours / "models"), "--fixed-model-name", "bench"],
            _env(tmp / "cache-ours", training=True),
            log,
            ours / "models",
        )
        results["ours_training"] = {"seconds": round(seconds, 1), "model_mb": round(model.stat().st_size / 1e6, 1)}

        print("rasa init (trains its model) ...", flush=True)
        stock = tmp / "stock"
        stock.mkdir()
        seconds, stock_model = train(
            tmp, ["init", "--no-prompt", "--init-dir", str(stock)], _env(tmp / "cache-stock", training=True), log, stock / "models"
        )
        results["stock_training"] = {"seconds": round(seconds, 1), "model_mb": round(stock_model.stat().st_size / 1e6, 1)}

        print("load on this assistant and rasa init, level by level ...", flush=True)
        action_port, rasa_port, stock_port = free_port(), free_port(), free_port()
        endpoints = tmp / "endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
            f"tracker_store:\n  type: bot.tracker_store.PrivateSQLTrackerStore\n  dialect: sqlite\n  db: {tmp}/trackers.db\n"
        )
        processes = [
            subprocess.Popen(
                [RASA, "run", "actions", "--port", str(action_port)],
                cwd=REPO_ROOT,
                env={**_env(tmp / "cache-ours"), "SANIC_HOST": "127.0.0.1"},
                stdout=log,
                stderr=log,
            ),
            subprocess.Popen(
                [
                    *RASA_SERVER,
                    "run",
                    "-m",
                    str(model),
                    "--interface",
                    "127.0.0.1",
                    "--port",
                    str(rasa_port),
                    "--endpoints",
                    str(endpoints),
                    "--credentials",
                    "credentials.yml",
                ],
                cwd=REPO_ROOT,
                env=_env(tmp / "cache-ours"),
                stdout=log,
                stderr=log,
            ),
            subprocess.Popen(
                [RASA, "run", "-m", str(stock_model), "--interface", "127.0.0.1", "--port", str(stock_port)],
                cwd=stock,
                env=_env(tmp / "cache-stock"),
                stdout=log,
                stderr=log,
            ),
        ]
        try:
            for url in (f"http://127.0.0.1:{action_port}/health", f"http://127.0.0.1:{rasa_port}/", f"http://127.0.0.1:{stock_port}/"):
                wait_for(url)
            results["ours_load"], results["stock_load"] = measure_side_by_side(
                f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{stock_port}"
            )
        finally:
            stop_processes(processes)
    for ours_row, stock_row in zip(results["ours_load"], results["stock_load"]):
        ours_row["p50_vs_stock"] = round(ours_row["p50_ms"] / stock_row["p50_ms"], 2) if stock_row["p50_ms"] else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    print("operator page queries on 100,000 generated conversations ...", flush=True)
    results["operator"] = operator_benchmark.run(100_000)
    RESULTS.write_text(json.dumps(results, indent=2))
    print_report(results)


def print_report(results: dict[str, Any]) -> None:
    columns = [
        "assistant",
        "think_time",
        "concurrency",
        "messages",
        "errors",
        "empty_replies",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "messages_per_second",
        "p50_vs_stock",
        "crisis_referred",
    ]
    rows = [dict(r, assistant="this one") for r in results["ours_load"]]
    rows += [dict(r, assistant="rasa init", crisis_referred="-") for r in results["stock_load"]]
    print("\n" + format_table(rows, columns))
    d = results["detector_us"]
    print(
        f"\ncrisis detector: p50 {d['p50_us']} us, p95 {d['p95_us']} us, p99 {d['p99_us']} us over {d['messages']:.0f} "
        f"timings; each message's best round: p99 {d['best_p99_us']} us"
    )
    for name in ("ours", "stock"):
        t = results[f"{name}_training"]
        print(f"training ({'this one' if name == 'ours' else 'rasa init'}): {t['seconds']} s, model {t['model_mb']} MB")
    o = results["operator"]
    print(
        f"operator page on {o['conversations']:,} conversations: one page view (90 days) p50 "
        f"{o['page_view_90d_ms'][0]:.0f} ms, max {o['page_view_90d_ms'][1]:.0f} ms"
    )
    print(f"\nwritten to {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
