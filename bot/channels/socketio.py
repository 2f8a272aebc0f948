"""Rasa's socketio channel (used by the web chat page) with an origin check and safe parsing.

credentials.yml:

    bot.channels.socketio.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
      metadata_key: customData
      allowed_origins: [http://localhost:8080]

Browsers send an Origin header; a connection from a page on any other origin is refused, so
another site cannot talk to the assistant in a visitor's name. Clients that send no Origin
(scripts, tests) are let in, as CORS would. A malformed event gets a clear reply instead of
an exception in the server log; a turn that produces no reply gets the safety net
(bot/channels/safety_net.py).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOOutput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput

from bot.channels.input_guard import clean_metadata, clean_text
from bot.channels.safety_net import handle_with_safety_net
from bot.safety import referral
from bot.settings import web_origins

logger = logging.getLogger(__name__)


def default_origins() -> list[str]:
    """The chat page's origins: `TRUST_WEB_ORIGINS` (set by `make run` from settings.mk, with
    its WEB_PORT), else settings.mk's own."""
    given = os.environ.get("TRUST_WEB_ORIGINS", "").split()
    return given or web_origins()


class SocketIOInput(RasaSocketIOInput):
    """socketio with `allowed_origins` and tolerant message parsing."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        channel.allowed_origins = list(credentials.get("allowed_origins") or default_origins())
        return channel

    def __init__(self, *args: Any, allowed_origins: Optional[List[Text]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_origins = list(allowed_origins or [])

    def origin_allowed(self, origin: Optional[Text]) -> bool:
        return origin is None or not self.allowed_origins or origin in self.allowed_origins

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> SocketBlueprint:
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        rasa_connect = sio.handlers[self.namespace or "/"]["connect"]

        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if not self.origin_allowed(environ.get("HTTP_ORIGIN")):
                logger.warning("Refused a socketio connection from an origin not in allowed_origins.")
                return False
            return await rasa_connect(sid, environ, auth)

        async def handle_message(sid: Text, data: Any) -> None:
            output_channel = SocketIOOutput(sio, self.bot_message_evt)
            if not isinstance(data, dict):
                data = {"message": data}
            if self.session_persistence:
                sender_id = data.get("session_id")
                if not isinstance(sender_id, str) or not sender_id:
                    await sio.emit(
                        self.bot_message_evt,
                        {"text": referral.messages()["lost_session"]},
                        room=sid,
                    )
                    return
            else:
                sender_id = sid
            metadata = data.get(self.metadata_key)
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = None
            await handle_with_safety_net(
                on_new_message,
                clean_text(data.get("message")),
                output_channel,
                sender_id,
                self.name(),
                clean_metadata(metadata),
            )

        sio.on("connect", connect, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return socketio_webhook
