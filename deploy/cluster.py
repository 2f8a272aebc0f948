"""Several Rasa processes behind nginx on one machine, as in production (`make run-cluster`).

    python -m deploy.cluster [--rasa 2] [--port 5005]

Starts a throwaway PostgreSQL (tracker store) and Redis (lock store), one stateless action
server, N Rasa servers with endpoints.production.yml, and nginx in front (deploy/nginx.conf.
template). Ctrl-C stops everything and removes the throwaway data. On many machines the same
parts map one to one: see "Scaling out" in the README.

Only nginx faces the network (on `TRUST_BIND`, loopback by default); the Rasa processes and
the action server listen on 127.0.0.1. REST always needs a token: `TRUST_REST_TOKEN`, or one
made at start and printed once (docs/security.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from bot.paths import REPO_ROOT
from bot.settings import request_max_bytes
from deploy.services import (
    Postgres,
    free_port,
    rasa_env,
    rasa_server_command,
    stop_processes,
    throwaway_nginx,
    throwaway_postgres,
    throwaway_redis,
    wait_for,
)

RASA = str(REPO_ROOT / ".venv" / "bin" / "rasa")
NGINX_TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"


@dataclass
class Cluster:
    public_url: str
    rasa_urls: list[str]
    action_url: str
    api_token: str
    rest_token: str
    postgres: Postgres
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)


def nginx_config(bind: str, port: int, rasa_ports: list[int], rate: int, burst: int) -> str:
    servers = " ".join(f"server 127.0.0.1:{p};" for p in rasa_ports)
    listen = f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"
    text = NGINX_TEMPLATE.read_text()
    values = {"{listen}": listen, "{servers}": servers, "{rate}": rate, "{burst}": burst, "{max_body}": request_max_bytes()}
    for key, value in values.items():
        text = text.replace(key, str(value))
    return text


@contextmanager
def running_cluster(
    rasa_count: int = 2,
    port: int | None = None,
    api_token: str | None = None,
    rate: int = 20,
    burst: int = 40,
    log: IO | None = None,
    bind: str = "127.0.0.1",
    rest_token: str | None = None,
) -> Iterator[Cluster]:
    log = log or sys.stdout
    with ExitStack() as stack:
        postgres = stack.enter_context(throwaway_postgres())
        redis = stack.enter_context(throwaway_redis())
        action_port, rasa_ports, public_port = free_port(), [free_port() for _ in range(rasa_count)], port or free_port()
        api_token = api_token or os.urandom(16).hex()
        rest_token = rest_token or os.urandom(16).hex()
        env = rasa_env(
            PYTHONPATH=str(REPO_ROOT),
            TRUST_REST_TOKEN=rest_token,
            ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
            DB_HOST=postgres.host,
            DB_PORT=str(postgres.port),
            DB_USER=postgres.user,
            DB_PASSWORD="",
            DB_NAME=postgres.db,
            REDIS_HOST=redis.host,
            REDIS_PORT=str(redis.port),
        )
        # Create the tables once, so the Rasa processes do not race to create them.
        from bot.tracker_store import PrivateSQLTrackerStore

        PrivateSQLTrackerStore(dialect="postgresql", host=postgres.host, port=postgres.port, username=postgres.user, db=postgres.db)
        public_host = "127.0.0.1" if bind in ("0.0.0.0", "::") else f"[{bind}]" if ":" in bind else bind
        cluster = Cluster(
            f"http://{public_host}:{public_port}",
            [f"http://127.0.0.1:{p}" for p in rasa_ports],
            f"http://127.0.0.1:{action_port}",
            api_token,
            rest_token,
            postgres,
        )

        def start(name: str, command: list[str], **extra_env: str) -> None:
            cluster.processes[name] = subprocess.Popen(command, cwd=REPO_ROOT, env={**env, **extra_env}, stdout=log, stderr=log)

        start("actions", [RASA, "run", "actions", "--port", str(action_port)], SANIC_HOST="127.0.0.1")
        for index, rasa_port in enumerate(rasa_ports):
            start(f"rasa{index}", rasa_server_command(rasa_port, "credentials.yml", "endpoints.production.yml", api_token))
        try:
            stack.enter_context(throwaway_nginx(nginx_config(bind, public_port, rasa_ports, rate, burst)))
            wait_for(cluster.action_url + "/health", process=cluster.processes["actions"])
            for index, url in enumerate(cluster.rasa_urls):
                wait_for(url + "/", process=cluster.processes[f"rasa{index}"])
            yield cluster
        finally:
            stop_processes(cluster.processes.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa", type=int, default=2, help="how many Rasa processes")
    parser.add_argument("--port", type=int, default=5005, help="nginx's port (REST, socketio, Telegram)")
    args = parser.parse_args()
    given_rest_token = os.environ.get("TRUST_REST_TOKEN")
    with running_cluster(
        args.rasa, args.port, os.environ.get("TRUST_API_TOKEN"), bind=os.environ.get("TRUST_BIND", "127.0.0.1"), rest_token=given_rest_token
    ) as cluster:
        print(
            f"\nCluster up: nginx on {cluster.public_url} -> Rasa {', '.join(cluster.rasa_urls)}; "
            f"actions {cluster.action_url}. Ctrl-C stops it.",
            flush=True,
        )
        if not given_rest_token:
            print(f"REST needs Authorization: Bearer {cluster.rest_token} (set TRUST_REST_TOKEN to choose it).", flush=True)
        try:
            while all(p.poll() is None for p in cluster.processes.values()):
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
