"""The threat model in docs/security.md, line by line: only Telegram can post to the Telegram
webhook, REST integrations need their token, and `make run` listens on loopback only."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from bot.paths import REPO_ROOT
from deploy.services import free_port, listening_addresses, wait_for
from tests.servers import post
from tests.test_production import stored_events
from tests.test_telegram import exchange, text_update


def outward_address():
    """This machine's address on its network, or None when it has only loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def refused_from_the_network(port):
    """True when nothing answers on `port` at this machine's network address."""
    address = outward_address()
    if address is None:
        return True
    try:
        with socket.create_connection((address, port), timeout=3):
            return False
    except OSError:
        return True


def only_loopback(port):
    addresses = listening_addresses(port)
    return bool(addresses) and all(a in ("127.0.0.1", "::1") for a in addresses)


# Telegram


def test_the_secret_reaches_set_webhook(assistant):
    registrations = [params for method, params in assistant.telegram.calls if method == "setWebhook"]
    assert registrations and all(p.get("secret_token") == assistant.telegram_secret for p in registrations)


@pytest.mark.parametrize("secret", ["", "wrong-secret", "x" * 300])
def test_a_forged_update_gets_403_and_nothing_is_sent_or_stored(assistant, secret):
    chat = 880000 + len(secret)
    status, _ = assistant.telegram_update(text_update(chat, "hello, I keep checking his phone"), secret=secret)
    assert status == 403
    assert assistant.telegram.sent(chat) == [] and stored_events(assistant, str(chat)) == 0


def test_a_forged_delete_cannot_erase_someone_elses_conversation(assistant):
    chat = 881001
    status, sent = exchange(assistant, chat, text_update(chat, "my boss lied to me"))
    assert status == 200 and sent
    kept = stored_events(assistant, str(chat))
    for text in ("please delete my conversation", "/affirm"):
        assert assistant.telegram_update(text_update(chat, text), secret="guessed")[0] == 403
    assert stored_events(assistant, str(chat)) == kept
    _, sent = exchange(assistant, chat, text_update(chat, "what are the signs?"))
    assert "Struggling to hand work over" in "\n".join(m["text"] for m in sent)


def test_rejections_are_counted_without_their_text(assistant):
    def rejected():
        with urllib.request.urlopen(assistant.rasa_url + "/webhooks/telegram/", timeout=10) as response:
            return json.loads(response.read())["rejected_updates"]

    before = rejected()
    assistant.telegram_update(text_update(881002, "a forged zebra-quilted update"), secret="nope")
    assert rejected() == before + 1
    assert "zebra-quilted" not in assistant.log_file.read_text(errors="replace")


def test_set_webhook_again_needs_the_secret(assistant):
    url = assistant.rasa_url + "/webhooks/telegram/set_webhook"
    assert post(url, b"")[0] == 403
    before = assistant.telegram.count("setWebhook")
    status, _ = post(url, b"", headers={"X-Telegram-Bot-Api-Secret-Token": assistant.telegram_secret})
    assert status == 200 and assistant.telegram.count("setWebhook") == before + 1


# REST


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer wrong", "Basic abc", pytest.param("Bearer " + "x" * 400, id="long")])
def test_rest_without_the_token_gets_401_and_no_tracker(assistant, authorization):
    sender = f"intruder-{uuid.uuid4().hex}"
    body = json.dumps({"sender": sender, "message": "i want to talk about my partner"}).encode()
    headers = {} if authorization is None else {"Authorization": authorization}
    status, answer = post(assistant.rasa_url + "/webhooks/rest/webhook", body, headers=headers)
    assert status == 401 and "Bearer" in answer["error"]
    assert stored_events(assistant, sender) == 0


def test_rest_cannot_read_or_continue_another_senders_conversation_without_the_token(assistant):
    sender = f"owner-{uuid.uuid4().hex}"
    assistant.rest(sender, "my boss lied to me")
    kept = stored_events(assistant, sender)
    body = json.dumps({"sender": sender, "message": "please delete my conversation"}).encode()
    status, answer = post(assistant.rasa_url + "/webhooks/rest/webhook", body)
    assert status == 401 and not isinstance(answer, list)
    assert stored_events(assistant, sender) == kept


def test_rest_with_the_token_works(assistant):
    status, replies = assistant.rest(f"integration-{uuid.uuid4().hex}", "hi")
    assert status == 200 and replies


# Where the servers listen


def test_the_test_assistant_listens_on_loopback_only(assistant):
    for url in (assistant.rasa_url, assistant.action_url, assistant.page_url):
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert only_loopback(port) and refused_from_the_network(port), url


def _make(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("TRUST_BIND", "TRUST_REST_TOKEN")}
    return subprocess.Popen(
        ["make", *args],
        cwd=REPO_ROOT,
        env={**environment, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow  # make run sets up first, which may train
def test_make_run_refuses_a_network_bind_without_a_rest_token():
    process = _make("run", "TRUST_BIND=0.0.0.0")
    output, _ = process.communicate(timeout=600)
    assert process.returncode != 0 and "set TRUST_REST_TOKEN" in output


@pytest.mark.slow
def test_the_servers_of_make_run_listen_on_loopback_only(tmp_path):
    rasa_port, web_port = free_port(), free_port()
    if listening_addresses(5055):
        pytest.fail("port 5055, the action server's in endpoints.yml, is taken by another process")
    process = _make("run", f"RASA_PORT={rasa_port}", f"WEB_PORT={web_port}")
    try:
        wait_for("http://127.0.0.1:5055/health", seconds=600, process=process)
        wait_for(f"http://127.0.0.1:{web_port}/health", seconds=120, process=process)
        wait_for(f"http://127.0.0.1:{rasa_port}/", seconds=600, process=process)
        for port in (5055, rasa_port, web_port):
            assert only_loopback(port) and refused_from_the_network(port), port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        time.sleep(1)


# Without a running assistant


def test_the_telegram_channel_refuses_to_start_without_a_well_formed_secret():
    from rasa.shared.exceptions import RasaException

    from bot.channels.telegram import TelegramInput

    base = {"access_token": "1:x", "verify": "bot", "webhook_url": "https://example.org/webhooks/telegram/webhook"}
    for secret in (None, "", "has spaces", "x" * 257, "ünïcode", 12345):
        with pytest.raises(RasaException, match="make telegram-secret"):
            TelegramInput.from_credentials({**base, "secret_token": secret})
    assert TelegramInput.from_credentials({**base, "secret_token": "A-z_09" * 10}).secret_token == "A-z_09" * 10


def test_bearer_tokens_are_compared_exactly():
    from bot.credentials import has_bearer_token

    assert has_bearer_token("Bearer s3cret", "s3cret") and has_bearer_token("bearer  s3cret", "s3cret")
    for header in (None, "", "s3cret", "Bearer", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "Bearer é"):
        assert not has_bearer_token(header, "s3cret"), header


def test_the_rest_token_comes_from_credentials_or_the_environment(monkeypatch):
    from bot.channels.rest import RestInput

    monkeypatch.delenv("TRUST_REST_TOKEN", raising=False)
    assert RestInput.from_credentials(None).token is None
    assert RestInput.from_credentials({"token": "from-credentials"}).token == "from-credentials"
    monkeypatch.setenv("TRUST_REST_TOKEN", "from-environment")
    assert RestInput.from_credentials({}).token == "from-environment"


def test_make_telegram_secret_makes_one_and_prints_it_once(tmp_path):
    from bot.channels.telegram import SECRET_TOKEN_FORMAT

    target = tmp_path / "secrets" / "telegram"
    first = subprocess.run(
        ["make", "-s", "telegram-secret", f"TELEGRAM_SECRET={target}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    secret = target.read_text().strip()
    assert SECRET_TOKEN_FORMAT.fullmatch(secret) and len(secret) >= 32 and f"secret_token: {secret}" in first
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    again = subprocess.run(
        ["make", "-s", "telegram-secret", f"TELEGRAM_SECRET={target}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert secret not in again and target.read_text().strip() == secret
