"""Throwaway PostgreSQL (and later Redis) instances for tests: own data directory, free port,
started from the installed binaries, removed afterwards. Never a server someone left running."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from tests.servers import free_port


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

    def endpoint(self) -> dict:
        return {"type": "bot.tracker_store.PrivateSQLTrackerStore", "dialect": "postgresql", "url": self.host,
                "port": self.port, "username": self.user, "db": self.db}


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
        subprocess.run(prefix + [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", user, "--no-sync"],
                       check=True, capture_output=True)
        options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(prefix + [f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(directory, "log"),
                                 "-w", "start"], check=True, capture_output=True)
        subprocess.run(prefix + [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", user, "trust"],
                       check=True, capture_output=True)
        yield Postgres("127.0.0.1", port, user, "trust")
    finally:
        subprocess.run(prefix + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
