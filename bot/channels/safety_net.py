"""How every channel hands a message to the assistant, and what it sends when that fails.

Before the turn: the length and per-sender rate limits (bot/channels/limits.py), which never
hold back a crisis disclosure. After it: when the turn produced no reply at all (the action
server is down, the database is unreachable, a bug), an apology, and the crisis referral when
the message was a disclosure. All of it runs inside the Rasa server, so it does not depend on
the action server.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot import knowledge
from bot.channels.limits import MAX_TEXT_READ, ChannelLimits, SenderRateLimiter, limits, rate_limiter
from bot.safety import referral
from bot.safety.assess import assess

logger = logging.getLogger(__name__)


def safety_net_replies(text: Any, metadata: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Replies (Rasa's `{"text", "buttons"}` shape) for a turn that produced none."""
    texts = referral.messages()
    # assess remembers recent messages: the turn's own assessment is reused, not recomputed.
    found = assess(text if isinstance(text, str) else "")
    # Unsure is treated as a disclosure here: with part of the system down, nobody could
    # answer a check-in question, so the numbers are sent.
    if not (found.refer or found.check_in):
        return [{"text": texts["trouble_short"], "buttons": knowledge.menu_buttons()}]
    logger.warning("No reply was produced for a crisis disclosure; sending the referral from the channel.")
    referral_found = referral.compose_referral(found.kinds, found.about, referral.person_country(metadata), found.involves_child)
    return [{"text": texts["trouble"]}, {"text": referral_found.text, "buttons": referral_found.buttons}]


def held_back_reply(text: str, sender_id: str, channel_limits: ChannelLimits, limiter: SenderRateLimiter) -> Optional[Dict[str, Any]]:
    """The reply for a message the limits hold back, or None to let it through."""
    within_rate = limiter.allow(sender_id)
    too_long = len(text) > channel_limits.max_message_chars
    if within_rate and not too_long:
        return None
    found = assess(text)
    if found.refer or found.check_in:
        return None  # a disclosure, or a message to ask about, always reaches the assistant
    logger.info("Held back a message: %s", "too long" if too_long else "sender over the rate limit")
    texts = referral.messages()
    if too_long:
        return {"text": texts["too_long"].format(limit=channel_limits.max_message_chars), "buttons": knowledge.menu_buttons()}
    return {"text": texts["slow_down"]}


class CountingOutput(OutputChannel):
    """Wraps a channel's output for one turn and counts the messages sent through it."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    def name(self) -> Text:  # type: ignore[override]
        return self.inner.name()

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)


async def handle_with_safety_net(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    text: Text,
    output: OutputChannel,
    sender_id: Text,
    input_channel: Text,
    metadata: Optional[Dict[Text, Any]],
) -> None:
    """Runs one turn unless the limits hold the message back; if the turn sent nothing (or
    failed), sends the safety-net replies."""
    text = text[:MAX_TEXT_READ]
    held_back = held_back_reply(text, sender_id, limits(), rate_limiter())
    if held_back is not None:
        await output.send_response(sender_id, held_back)
        return
    counting = CountingOutput(output)
    try:
        await on_new_message(UserMessage(text, counting, sender_id, input_channel=input_channel, metadata=metadata))
    except Exception as error:  # keep serving; the kind of failure, never the text, goes to the log
        logger.error("Handling a %s message failed: %s", input_channel, type(error).__name__)
        logger.debug("Failure details", exc_info=True)
    if counting.sent == 0:
        for reply in safety_net_replies(text, metadata):
            await output.send_response(sender_id, reply)
