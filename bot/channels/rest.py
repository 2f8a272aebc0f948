"""Rasa's REST channel with request validation and no message text in its logs.

credentials.yml: `bot.channels.rest.RestInput:` with an optional `token:`. Same URL and JSON as
Rasa's own (`POST /webhooks/rest/webhook` with `sender`, `message`, optional `metadata`), but
a body that is not a JSON object, or a sender that is not a short string or number, is a 400
with a reason; a message that is not text is treated as empty. Streaming is not offered.
A turn that produces no reply gets the safety net (bot/channels/safety_net.py).

REST is how other servers talk to the assistant, so when it faces a network it needs a
credential: with a token (`token:` in credentials, else `TRUST_REST_TOKEN`), a POST without
`Authorization: Bearer <token>` gets 401 before its body is parsed, and no tracker is touched.
Without one, `make run` keeps Rasa on 127.0.0.1 (docs/security.md).
"""

from __future__ import annotations

import os
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.input_guard import clean_metadata, clean_text
from bot.channels.safety_net import handle_with_safety_net
from bot.credentials import has_bearer_token

MAX_SENDER_LENGTH = 128
TOKEN_VARIABLE = "TRUST_REST_TOKEN"


def _error(reason: str, status: int = 400) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


class RestInput(InputChannel):
    """`POST /webhooks/rest/webhook` -> the assistant's replies as a JSON list."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        token = (credentials or {}).get("token") or os.environ.get(TOKEN_VARIABLE)
        return cls(token=str(token) if token else None)

    def __init__(self, token: Optional[Text] = None) -> None:
        self.token = token

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.token and not has_bearer_token(request.headers.get("Authorization"), self.token):
                return response.json(
                    {"error": "This endpoint needs Authorization: Bearer <token>."}, status=401, headers={"WWW-Authenticate": "Bearer"}
                )
            try:
                body = request.json
            except Exception:  # Sanic raises its own BadRequest type for bad JSON
                return _error("The body must be JSON.")
            if not isinstance(body, dict):
                return _error('The body must be a JSON object: {"sender": "...", "message": "..."}.')
            sender = body.get("sender")
            if isinstance(sender, int) and not isinstance(sender, bool):
                sender = str(sender)
            if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_LENGTH:
                return _error(f'"sender" must be a non-empty string of at most {MAX_SENDER_LENGTH} characters.')
            collector = CollectingOutputChannel()
            await handle_with_safety_net(
                on_new_message,
                clean_text(body.get("message")),
                collector,
                sender,
                self.name(),
                clean_metadata(body.get("metadata")),
            )
            return response.json(collector.messages)

        return webhook
