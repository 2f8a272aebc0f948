"""The settings shared by the Makefile, the cluster, the channels and the tests, read from
`settings.mk` (the one file that holds them)."""

from __future__ import annotations

from functools import lru_cache

from bot.paths import REPO_ROOT

SETTINGS_FILE = REPO_ROOT / "settings.mk"


@lru_cache(maxsize=1)
def shared_settings() -> dict[str, str]:
    """`NAME = value` lines of settings.mk (comments and blank lines skipped)."""
    settings = {}
    for line in SETTINGS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            settings[name.strip()] = value.strip()
    return settings


def web_origins(port: int | None = None) -> list[str]:
    """The chat page's origins, on `port` (default: WEB_PORT)."""
    settings = shared_settings()
    port = port or int(settings["WEB_PORT"])
    return [f"http://{host}:{port}" for host in settings["WEB_HOSTS"].split()]


def tf_threads() -> str:
    return shared_settings()["TF_THREADS"]


def request_max_bytes() -> int:
    return int(shared_settings()["REQUEST_MAX_BYTES"])
