"""The length and per-sender rate limits every channel applies (bot/channels/limits.py)."""

import asyncio

from bot.channels.limits import MAX_TEXT_READ, ChannelLimits, SenderRateLimiter
from bot.channels.safety_net import handle_with_safety_net, held_back_reply
from bot.safety import referral

DISCLOSURE = "my husband hits me and I am scared"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Collecting:
    def __init__(self) -> None:
        self.sent = []

    def name(self):
        return "test"

    async def send_response(self, recipient_id, message):
        self.sent.append(message)


def test_a_sender_gets_the_burst_then_one_message_per_refill_interval():
    clock = FakeClock()
    limiter = SenderRateLimiter(per_minute=30, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # every sender has a bucket of its own
    clock.now += 1.9
    assert not limiter.allow("a")
    clock.now += 0.2  # 2.1 s since the burst ran out: one token at 30 a minute
    assert limiter.allow("a") and not limiter.allow("a")
    clock.now += 600
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]  # refills to the burst, no more


def test_the_least_recently_seen_senders_are_forgotten_first():
    limiter = SenderRateLimiter(per_minute=1, burst=1, clock=FakeClock(), max_senders=2)
    assert limiter.allow("a") and limiter.allow("b") and limiter.allow("c")
    assert len(limiter._buckets) == 2 and "a" not in limiter._buckets
    assert not limiter.allow("c")


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRUST_MAX_MESSAGE_CHARS", "500")
    monkeypatch.setenv("TRUST_SENDER_PER_MINUTE", "6")
    monkeypatch.setenv("TRUST_SENDER_BURST", "2")
    assert ChannelLimits.from_env() == ChannelLimits(max_message_chars=500, per_minute=6.0, burst=2)


def test_an_over_long_message_gets_a_polite_reply_with_the_menu():
    limits = ChannelLimits(max_message_chars=100)
    reply = held_back_reply("I keep checking her phone. " * 10, "s", limits, SenderRateLimiter(30, 15))
    assert "longer than I can read in one go (more than 100 characters)" in reply["text"]
    assert reply["buttons"]
    assert held_back_reply("I keep checking her phone.", "s", limits, SenderRateLimiter(30, 15)) is None


def test_a_sender_over_the_rate_gets_asked_to_wait():
    limiter = SenderRateLimiter(per_minute=1, burst=1, clock=FakeClock())
    assert held_back_reply("hi", "s", ChannelLimits(), limiter) is None
    assert "wait a few seconds" in held_back_reply("hi", "s", ChannelLimits(), limiter)["text"]


def test_a_disclosure_is_never_held_back_by_either_limit():
    limiter = SenderRateLimiter(per_minute=1, burst=1, clock=FakeClock())
    limiter.allow("s")
    assert held_back_reply(DISCLOSURE, "s", ChannelLimits(), limiter) is None
    long_disclosure = "I keep checking her phone. " * 100 + DISCLOSURE
    assert held_back_reply(long_disclosure, "t", ChannelLimits(max_message_chars=100), SenderRateLimiter(30, 15)) is None


def test_the_messages_exist_and_take_the_limit():
    texts = referral.messages()
    assert "{limit}" in texts["too_long"] and texts["slow_down"].strip()


def test_held_back_messages_never_reach_the_assistant_and_the_rest_do(monkeypatch):
    from bot.channels import safety_net

    limiter = SenderRateLimiter(per_minute=1, burst=2, clock=FakeClock())
    monkeypatch.setattr(safety_net, "rate_limiter", lambda: limiter)
    monkeypatch.setattr(safety_net, "limits", lambda: ChannelLimits(max_message_chars=50))
    reached = []

    async def on_new_message(message):
        reached.append(message.text)
        await message.output_channel.send_response(message.sender_id, {"text": "answer"})

    async def run():
        for text in ["hello", "x" * 60, "third", DISCLOSURE, "y" * (MAX_TEXT_READ + 5) + " " + DISCLOSURE]:
            out = Collecting()
            await handle_with_safety_net(on_new_message, text, out, "s", "test", {})
            yield out.sent

    async def collect():
        return [sent async for sent in run()]

    sent = asyncio.run(collect())
    assert reached == ["hello", DISCLOSURE]  # the last disclosure lies past what is read at all
    assert "longer than I can read" in sent[1][0]["text"]
    assert "wait a few seconds" in sent[2][0]["text"]
