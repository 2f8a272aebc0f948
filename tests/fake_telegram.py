"""A fake Telegram Bot API on 127.0.0.1 for the channel tests.

Implements what the assistant calls: getMe, setWebhook, sendMessage, answerCallbackQuery.
Every call is recorded (method and decoded parameters) so tests can assert on what the bot
sent. Requests are checked the way Telegram checks them: a known token, a chat id, text of
at most 4096 characters, callback data of at most 64 bytes.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USERNAME = "trust_test_bot"
TOKEN = "123456:TEST-token_for-fake-api"
PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")


def _form(content_type: str, body: bytes) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        return {part.get_param("name", header="content-disposition"): part.get_content() for part in message.iter_parts()}
    return dict(parse_qsl(body.decode()))


class FakeTelegram:
    """Start with `with FakeTelegram() as api:`; `api.base_url` goes in credentials."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._message_id = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(*fake.handle(self.path, self.headers.get("Content-Type", ""), body))

            do_GET = do_POST  # noqa: N815

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeTelegram":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        match = PATH.match(path.split("?")[0])
        if not match or match["token"] != TOKEN:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        params = _form(content_type, body)
        method = match["method"]
        with self._lock:
            self.calls.append((method, params))
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 123456, "is_bot": True, "first_name": "Trust", "username": BOT_USERNAME}}
        if method in ("setWebhook", "deleteWebhook", "answerCallbackQuery"):
            return 200, {"ok": True, "result": True}
        if method == "sendMessage":
            text = str(params.get("text", ""))
            if not params.get("chat_id") or not text or len(text) > 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty or too long"}
            markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
            for row in (markup or {}).get("inline_keyboard", []):
                for button in row:
                    if len(button.get("callback_data", "").encode()) > 64:
                        return 400, {"ok": False, "error_code": 400, "description": "Bad Request: BUTTON_DATA_INVALID"}
            with self._lock:
                self._message_id += 1
                message_id = self._message_id
            chat = {"id": int(params["chat_id"]), "type": "private"}
            result = {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": text}
            return 200, {"ok": True, "result": result}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def sent(self, chat_id: int) -> list[dict[str, Any]]:
        """sendMessage calls to one chat, with `reply_markup` decoded."""
        with self._lock:
            calls = [params for method, params in self.calls if method == "sendMessage" and str(params.get("chat_id")) == str(chat_id)]
        return [dict(p, reply_markup=json.loads(p["reply_markup"]) if p.get("reply_markup") else None) for p in calls]

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for m, _ in self.calls if m == method)
