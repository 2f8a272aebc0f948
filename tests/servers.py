"""Starting the whole assistant for end-to-end tests: action server, Rasa (REST, socketio and
Telegram against a fake Bot API) and the chat page, each on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from bot.paths import REPO_ROOT
from tests.fake_telegram import BOT_USERNAME, TOKEN, FakeTelegram

RASA = str(REPO_ROOT / ".venv" / "bin" / "rasa")
STARTUP_SECONDS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = STARTUP_SECONDS, process: subprocess.Popen | None = None) -> None:
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


def post(url: str, body: bytes, content_type: str = "application/json", timeout: float = 60) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


@dataclass
class Assistant:
    rasa_url: str
    page_url: str
    telegram: FakeTelegram
    referral_log: Path
    log_file: Path

    def rest(self, sender: str, message: Any, metadata: Any = None) -> tuple[int, Any]:
        body = {"sender": sender, "message": message, "metadata": metadata or {}}
        return post(self.rasa_url + "/webhooks/rest/webhook", json.dumps(body).encode())

    def telegram_update(self, update: Any) -> tuple[int, Any]:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        return post(self.rasa_url + "/webhooks/telegram/webhook", body)


def _credentials(page_origins: list[str], telegram: FakeTelegram, rasa_port: int) -> dict[str, Any]:
    credentials = yaml.safe_load((REPO_ROOT / "credentials.yml").read_text())
    credentials["bot.channels.socketio.SocketIOInput"]["allowed_origins"] = page_origins
    credentials["bot.channels.telegram.TelegramInput"] = {
        "access_token": TOKEN,
        "verify": BOT_USERNAME,
        "webhook_url": f"http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook",
        "api_base_url": telegram.base_url,
    }
    return credentials


@contextmanager
def running_assistant(tmp: Path) -> Iterator[Assistant]:
    """Everything started and answering; stopped on exit."""
    action_port, rasa_port, page_port = free_port(), free_port(), free_port()
    page_origins = [f"http://127.0.0.1:{page_port}", f"http://localhost:{page_port}"]
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    env = dict(
        os.environ,
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        TRUST_REFERRAL_LOG=str(tmp / "referrals.jsonl"),
        PYTHONPATH=str(REPO_ROOT),
    )
    log_file = tmp / "servers.log"
    with FakeTelegram() as telegram, open(log_file, "w") as logs:
        credentials = tmp / "credentials.yml"
        credentials.write_text(yaml.safe_dump(_credentials(page_origins, telegram, rasa_port)))
        commands = [
            [RASA, "run", "actions", "--port", str(action_port)],
            [RASA, "run", "-m", "models/trust.tar.gz", "--port", str(rasa_port), "--credentials", str(credentials),
             "--endpoints", str(endpoints), "--cors", *page_origins],
            [sys.executable, "-m", "bot.web.server", "--port", str(page_port), "--rasa-port", str(rasa_port)],
        ]
        processes = [subprocess.Popen(c, cwd=REPO_ROOT, env=env, stdout=logs, stderr=logs) for c in commands]
        try:
            wait_for(f"http://127.0.0.1:{action_port}/health", process=processes[0])
            wait_for(f"http://127.0.0.1:{rasa_port}/", process=processes[1])
            wait_for(f"http://127.0.0.1:{page_port}/health", process=processes[2])
            assistant = Assistant(
                rasa_url=f"http://127.0.0.1:{rasa_port}",
                page_url=f"http://127.0.0.1:{page_port}/",
                telegram=telegram,
                referral_log=tmp / "referrals.jsonl",
                log_file=log_file,
            )
            deadline = time.time() + STARTUP_SECONDS
            while not assistant.rest("warm-up", "hi")[1] and time.time() < deadline:
                time.sleep(1)
            yield assistant
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
