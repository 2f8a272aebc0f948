"""Rasa's REST channel with request validation and no message text in its logs.

credentials.yml: `bot.channels.rest.RestInput:` (takes no settings). Same URL and JSON as
Rasa's own (`POST /webhooks/rest/webhook` with `sender`, `message`, optional `metadata`), but
a body that is not a JSON object, or a sender that is not a short string or number, is a 400
with a reason; a message that is not text is treated as empty. Streaming is not offered.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.input_guard import clean_metadata, clean_text

logger = logging.getLogger(__name__)
MAX_SENDER_LENGTH = 128
TROUBLE_REPLY = "Sorry, something went wrong on my side. Please try again in a moment."


def _error(reason: str, status: int = 400) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


class RestInput(InputChannel):
    """`POST /webhooks/rest/webhook` -> the assistant's replies as a JSON list."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
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
            message = UserMessage(
                clean_text(body.get("message")),
                collector,
                sender,
                input_channel=self.name(),
                metadata=clean_metadata(body.get("metadata")),
            )
            try:
                await on_new_message(message)
            except Exception as error:  # keep serving; the reason, never the text, goes to the log
                logger.error("Handling a REST message failed: %s", type(error).__name__)
                logger.debug("REST failure details", exc_info=True)
                if not collector.messages:
                    collector.messages.append({"recipient_id": sender, "text": TROUBLE_REPLY})
            return response.json(collector.messages)

        return webhook
