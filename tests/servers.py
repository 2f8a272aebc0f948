"""Starting the whole assistant for end-to-end tests: action server, Rasa (REST, socketio and
Telegram against a fake Bot API) and the chat page, each on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import os
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

from bot.channels.telegram import SECRET_HEADER as TELEGRAM_SECRET_HEADER
from bot.paths import REPO_ROOT
from deploy.services import free_port, rasa_env, rasa_server_command, stop_processes, wait_for
from tests.fake_telegram import BOT_USERNAME, TOKEN, FakeTelegram

RASA = str(REPO_ROOT / ".venv" / "bin" / "rasa")
STARTUP_SECONDS = 300


def post(
    url: str, body: bytes, content_type: str = "application/json", timeout: float = 60, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type, **(headers or {})})
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
    tracker_db: Path
    api_token: str
    rest_token: str
    telegram_secret: str
    processes: dict[str, subprocess.Popen]
    commands: dict[str, list[str]]
    env: dict[str, str]
    action_url: str

    def _start(self, name: str) -> None:
        logs = open(self.log_file, "a")
        self.processes[name] = subprocess.Popen(self.commands[name], cwd=REPO_ROOT, env=self.env, stdout=logs, stderr=logs)

    def stop(self, name: str, kill: bool = False) -> None:
        process = self.processes[name]
        process.kill() if kill else process.terminate()
        process.wait(timeout=30)

    def start(self, name: str) -> None:
        """Starts a stopped part again and waits until it answers."""
        self._start(name)
        health = {"actions": self.action_url + "/health", "rasa": self.rasa_url + "/"}[name]
        wait_for(health, process=self.processes[name])
        if name == "rasa":
            self.wait_until_answering()

    def wait_until_answering(self) -> None:
        """Rasa answers "/" before its model answers messages; wait for a real reply."""
        deadline = time.time() + STARTUP_SECONDS
        while not self.rest("warm-up", "hi")[1] and time.time() < deadline:
            time.sleep(1)

    def rest(self, sender: str, message: Any, metadata: Any = None) -> tuple[int, Any]:
        body = {"sender": sender, "message": message, "metadata": metadata or {}}
        return self.rest_post(json.dumps(body).encode())

    def rest_post(self, body: bytes) -> tuple[int, Any]:
        """A raw body to the REST webhook, with the integration's token."""
        return post(self.rasa_url + "/webhooks/rest/webhook", body, headers={"Authorization": f"Bearer {self.rest_token}"})

    def telegram_update(self, update: Any, secret: str | None = None) -> tuple[int, Any]:
        """An update as Telegram posts it, with the webhook's secret header (or `secret`)."""
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        header = {TELEGRAM_SECRET_HEADER: self.telegram_secret if secret is None else secret}
        return post(self.rasa_url + "/webhooks/telegram/webhook", body, headers=header)


def _credentials(page_origins: list[str], telegram: FakeTelegram, rasa_port: int, secret: str) -> dict[str, Any]:
    credentials = yaml.safe_load((REPO_ROOT / "credentials.yml").read_text())
    credentials["bot.channels.socketio.SocketIOInput"]["allowed_origins"] = page_origins
    credentials["bot.channels.telegram.TelegramInput"] = {
        "access_token": TOKEN,
        "verify": BOT_USERNAME,
        "webhook_url": f"http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook",
        "api_base_url": telegram.base_url,
        "secret_token": secret,
    }
    return credentials


@contextmanager
def running_assistant(tmp: Path) -> Iterator[Assistant]:
    """Everything started and answering; stopped on exit."""
    action_port, rasa_port, page_port = free_port(), free_port(), free_port()
    page_origins = [f"http://127.0.0.1:{page_port}", f"http://localhost:{page_port}"]
    tracker_db = tmp / "trackers.db"
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump(
            {
                "action_endpoint": {"url": f"http://127.0.0.1:{action_port}/webhook"},
                "tracker_store": {"type": "bot.tracker_store.PrivateSQLTrackerStore", "dialect": "sqlite", "db": str(tracker_db)},
            }
        )
    )
    api_token, rest_token, telegram_secret = os.urandom(16).hex(), os.urandom(16).hex(), os.urandom(16).hex()
    env = rasa_env(
        TRUST_REST_TOKEN=rest_token,
        TRUST_REFERRAL_LOG=str(tmp / "referrals.jsonl"),
        PYTHONPATH=str(REPO_ROOT),
    )
    log_file = tmp / "servers.log"
    with FakeTelegram() as telegram:
        credentials = tmp / "credentials.yml"
        credentials.write_text(yaml.safe_dump(_credentials(page_origins, telegram, rasa_port, telegram_secret)))
        commands = {
            "actions": ["env", "SANIC_HOST=127.0.0.1", RASA, "run", "actions", "--port", str(action_port)],
            "rasa": rasa_server_command(rasa_port, str(credentials), str(endpoints), api_token, "--cors", *page_origins),
            "page": [sys.executable, "-m", "bot.web.server", "--port", str(page_port), "--rasa-port", str(rasa_port)],
        }
        assistant = Assistant(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            page_url=f"http://127.0.0.1:{page_port}/",
            telegram=telegram,
            referral_log=tmp / "referrals.jsonl",
            log_file=log_file,
            tracker_db=tracker_db,
            api_token=api_token,
            rest_token=rest_token,
            telegram_secret=telegram_secret,
            processes={},
            commands=commands,
            env=env,
            action_url=f"http://127.0.0.1:{action_port}",
        )
        for name in commands:
            assistant._start(name)
        try:
            wait_for(assistant.action_url + "/health", process=assistant.processes["actions"])
            wait_for(f"http://127.0.0.1:{page_port}/health", process=assistant.processes["page"])
            wait_for(assistant.rasa_url + "/", process=assistant.processes["rasa"])
            assistant.wait_until_answering()
            yield assistant
        finally:
            stop_processes(assistant.processes.values())
