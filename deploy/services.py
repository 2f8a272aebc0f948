"""Throwaway PostgreSQL, Redis and nginx instances: own directory, free port, started from the
installed binaries (Debian packages), removed afterwards. Used by the cluster (`make
run-cluster`) and the tests; never a server someone else left running."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

from bot.settings import request_max_bytes, tf_threads

# Every Rasa process this project starts, with settings.mk's TensorFlow threads: Rasa runs one
# message at a time in its event loop, and TF's idle thread pools took CPU from the action
# server (docs/benchmarks.md).
RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_INTER_OP_PARALLELISM_THREADS": tf_threads(),
    "TF_INTRA_OP_PARALLELISM_THREADS": tf_threads(),
    "SANIC_REQUEST_MAX_SIZE": str(request_max_bytes()),
}
# Rasa's command line with the project's declared patches (bot/rasa_cli.py).
RASA_SERVER = [sys.executable, "-m", "bot.rasa_cli"]


def rasa_server_command(
    port: int, credentials: str, endpoints: str, api_token: str, *extra: str, model: str = "models/trust.tar.gz"
) -> list[str]:
    """`rasa run` as the project starts it: on 127.0.0.1, with the HTTP API behind `api_token`."""
    return [
        *RASA_SERVER,
        "run",
        "-m",
        model,
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--credentials",
        credentials,
        "--endpoints",
        endpoints,
        "--enable-api",
        "--auth-token",
        api_token,
        *extra,
    ]


def rasa_env(**extra: str) -> dict[str, str]:
    """This process's environment with `RASA_ENV` and `extra` on top."""
    return {**os.environ, **RASA_ENV, **extra}


def listening_addresses(port: int) -> set[str]:
    """The local addresses on which a socket of this machine listens on TCP `port` (Linux)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, raw))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 400, process: subprocess.Popen | None = None) -> None:
    """Waits until `url` answers at all (any HTTP status), failing early if `process` exits."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


def stop_processes(processes: Iterable[subprocess.Popen], timeout: float = 60) -> None:
    """Asks every process to stop, then kills those still running after `timeout` seconds."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def _postgres_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL binaries are missing: apt-get install postgresql")
    return os.path.dirname(found[-1])


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    db: str
    control: list[str]  # pg_ctl with its data directory and options; stop() and start() use it

    def endpoint(self) -> dict:
        return {
            "type": "bot.tracker_store.PrivateSQLTrackerStore",
            "dialect": "postgresql",
            "url": self.host,
            "port": self.port,
            "username": self.user,
            "db": self.db,
        }

    def stop(self) -> None:
        subprocess.run(self.control + ["-m", "immediate", "stop"], check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run(self.control + ["-w", "start"], check=True, capture_output=True)


@contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """PostgreSQL with trust auth on 127.0.0.1:<free port>. As root, it runs as `postgres`."""
    bindir = _postgres_bin()
    directory = tempfile.mkdtemp(prefix="trust-pg-")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    data = os.path.join(directory, "data")
    port = free_port()
    user = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    try:
        subprocess.run(prefix + [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", user, "--no-sync"], check=True, capture_output=True)
        options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        control = prefix + [f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(directory, "log")]
        subprocess.run(control + ["-w", "start"], check=True, capture_output=True)
        subprocess.run(
            prefix + [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", user, "trust"], check=True, capture_output=True
        )
        yield Postgres("127.0.0.1", port, user, "trust", control)
    finally:
        subprocess.run(prefix + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Redis:
    host: str
    port: int


@contextmanager
def throwaway_redis() -> Iterator[Redis]:
    """Redis on 127.0.0.1:<free port>, keeping nothing on disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: apt-get install redis-server")
    directory = tempfile.mkdtemp(prefix="trust-redis-")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield Redis("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def throwaway_nginx(config_text: str) -> Iterator[str]:
    """nginx with the given configuration (its `{prefix}` placeholders filled), in the foreground."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        raise RuntimeError("nginx is missing: apt-get install nginx-light (make test and run-cluster install it)")
    prefix = tempfile.mkdtemp(prefix="trust-nginx-")
    for sub in ("logs", "tmp"):
        os.makedirs(os.path.join(prefix, sub), exist_ok=True)
    config = os.path.join(prefix, "nginx.conf")
    with open(config, "w") as handle:
        handle.write(config_text.replace("{prefix}", prefix))
    process = subprocess.Popen(
        [binary, "-p", prefix, "-c", config, "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(prefix, "logs", "stderr"), "w"),
    )
    try:
        yield prefix
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")
