"""Rasa's Telegram connector, fixed for aiogram 2.15 and pointed at a configurable Bot API.

credentials.yml:

    bot.channels.telegram.TelegramInput:
      access_token: "123456:ABC..."          # from @BotFather
      verify: "your_bot_username"
      webhook_url: "https://your.host/webhooks/telegram/webhook"
      secret_token: "..."                    # `make telegram-secret` makes one; or ${TELEGRAM_SECRET_TOKEN}
      api_base_url: "https://api.telegram.org"  # optional; tests point it at a fake API

What it changes from Rasa's own:
- Only Telegram can post updates. The webhook is registered with `secret_token`, which Telegram
  echoes in the `X-Telegram-Bot-Api-Secret-Token` header of every update; a POST without the
  matching header gets 403 before its body is parsed, so a forged update (another person's chat
  id) sends, stores and logs nothing. Rejections are counted (`GET /webhooks/telegram/`). The
  channel refuses to start without a well-formed secret.
- Rasa registers the webhook with `asyncio.run`, which leaves aiogram's HTTP session bound to
  a loop that is then closed, so every later reply failed with "Event loop is closed". The
  session is closed after registering; the next call opens one on the server's loop.
- Buttons become an inline keyboard in rows of two; a tap (callback query) is answered, so the
  button stops spinning, and its payload goes to the assistant.
- The sender's Telegram language (`language_code`) is passed as metadata, so crisis services
  fit where they probably are when nothing better is known.
- /start greets; stickers, photos and voice notes get "please type it"; update types without a
  chat are acknowledged and ignored; a body that is not an Update is a 400. Nothing raises out
  of the webhook, since Telegram would resend the same update again and again; a turn that
  produces no reply gets the safety net (bot/channels/safety_net.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from aiogram.bot.api import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update
from aiogram.utils.exceptions import TelegramAPIError
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from rasa.core.channels.telegram import TelegramOutput as RasaTelegramOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.input_guard import clean_metadata
from bot.channels.safety_net import handle_with_safety_net
from bot.credentials import same_secret
from bot.safety import referral

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.telegram.org"
BUTTONS_PER_ROW = 2
# Telegram commands mapped to the assistant's own payloads.
COMMANDS = {"/start": "/greet", "/help": "/ask_capabilities", "/menu": "/show_menu"}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What Telegram accepts as a secret_token (Bot API, setWebhook).
SECRET_TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")
MISSING_SECRET = (
    "The Telegram channel needs a secret_token in credentials.yml (1-256 letters, digits, _ or -), "
    "so that only Telegram can post to its webhook. `make telegram-secret` makes one."
)


class TelegramOutput(RasaTelegramOutput):
    """Sends through the configured Bot API server; buttons in rows of two."""

    def __init__(self, access_token: Optional[Text], api_base_url: Text = DEFAULT_API_BASE_URL) -> None:
        super().__init__(access_token)
        self.server = TelegramAPIServer.from_base(api_base_url)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        keyboard = InlineKeyboardMarkup()
        row: List[InlineKeyboardButton] = []
        for button in buttons:
            row.append(InlineKeyboardButton(button["title"], callback_data=button["payload"]))
            if len(row) == BUTTONS_PER_ROW:
                keyboard.row(*row)
                row = []
        if row:
            keyboard.row(*row)
        await self.send_message(recipient_id, text, reply_markup=keyboard)


class TelegramInput(RasaTelegramInput):
    """Telegram webhook at /webhooks/telegram/webhook."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("access_token"),
            credentials.get("verify"),
            credentials.get("webhook_url"),
            api_base_url=credentials.get("api_base_url") or DEFAULT_API_BASE_URL,
            secret_token=credentials.get("secret_token"),
        )

    def __init__(
        self,
        access_token: Optional[Text],
        verify: Optional[Text],
        webhook_url: Optional[Text],
        debug_mode: bool = False,
        api_base_url: Text = DEFAULT_API_BASE_URL,
        secret_token: Optional[Text] = None,
    ) -> None:
        if not isinstance(secret_token, str) or not SECRET_TOKEN_FORMAT.fullmatch(secret_token):
            raise RasaException(MISSING_SECRET)
        super().__init__(access_token, verify, webhook_url, debug_mode)
        self.api_base_url = api_base_url
        self.secret_token = secret_token
        self.rejected_updates = 0
        self._bot_username: Optional[Text] = None

    def get_output_channel(self) -> TelegramOutput:
        channel = TelegramOutput(self.access_token, self.api_base_url)
        try:
            asyncio.run(self._register_webhook(channel))
        except TelegramAPIError as error:
            raise RasaException(f"Failed to set channel webhook: {error}") from error
        return channel

    async def _register_webhook(self, channel: TelegramOutput) -> None:
        try:
            await self._set_webhook(channel)
        finally:
            # The session belongs to asyncio.run's loop, which closes on return.
            await channel.close()

    async def _set_webhook(self, channel: TelegramOutput) -> bool:
        # aiogram 2.15 predates secret_token (Bot API 6.1), so the raw method call carries it.
        return bool(await channel.request("setWebhook", {"url": self.webhook_url, "secret_token": self.secret_token}))

    def _from_telegram(self, request: Request) -> bool:
        if same_secret(request.headers.get(SECRET_HEADER), self.secret_token):
            return True
        self.rejected_updates += 1
        return False

    async def _is_our_bot(self, channel: TelegramOutput) -> bool:
        if self._bot_username is None:
            self._bot_username = (await channel.get_me()).username
        return self._bot_username == self.verify

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)
        out_channel = self.get_output_channel()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "rejected_updates": self.rejected_updates})

        @telegram_webhook.route("/set_webhook", methods=["POST"])
        async def set_webhook(request: Request) -> HTTPResponse:
            if not self._from_telegram(request):  # the operator sends the same header
                return response.json({"error": "forbidden"}, status=403)
            if await self._set_webhook(out_channel):
                logger.info("Webhook Setup Successful")
                return response.text("Webhook setup successful")
            logger.warning("Webhook Setup Failed")
            return response.text("Invalid webhook")

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            if not self._from_telegram(request):
                return response.json({"error": "forbidden"}, status=403)
            try:
                body = request.json
                update = Update(**body) if isinstance(body, dict) and isinstance(body.get("update_id"), int) else None
            except Exception:  # bad JSON, or fields of the wrong shape
                update = None
            if update is None:
                return response.json({"error": "The body must be a Telegram Update object."}, status=400)
            try:
                if not await self._is_our_bot(out_channel):
                    logger.debug("Invalid access token, check it matches Telegram")
                    return response.text("failed")
                await self._handle(update, out_channel, on_new_message)
            except Exception as error:  # Telegram resends on errors; log the kind, never the text
                logger.error("Handling a Telegram update failed: %s", type(error).__name__)
                logger.debug("Telegram failure details", exc_info=True)
            return response.text("success")

        return telegram_webhook

    async def _handle(
        self,
        update: Update,
        out_channel: TelegramOutput,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        if update.callback_query is not None:
            query = update.callback_query
            await out_channel.answer_callback_query(query.id)
            chat_id = query.message.chat.id if query.message else query.from_user.id
            text, user = query.data or "", query.from_user
        else:
            msg = update.message or update.edited_message
            if msg is None or msg.chat is None:
                return  # channel posts, polls, membership changes: nothing to answer
            chat_id, user = msg.chat.id, msg.from_user
            if msg.text is None:
                await out_channel.send_message(chat_id, referral.messages()["not_text"])
                return
            text = msg.text.replace("/bot", "")
            command = text.split(" ", 1)[0].split("@", 1)[0]
            text = COMMANDS.get(command, text)
        metadata = clean_metadata({"language_code": getattr(user, "language_code", None)})
        await handle_with_safety_net(on_new_message, text, out_channel, str(chat_id), self.name(), metadata)
