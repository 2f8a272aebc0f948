"""A bounded load test against the running assistant: 50 conversations of 10 turns, all at
once. Asserts correctness only (no errors, well-formed replies, every crisis turn referred);
the latency figures are printed, never asserted."""

import asyncio

from bench.loadgen import run_load


def test_fifty_concurrent_conversations_without_errors(assistant):
    result = asyncio.run(run_load(assistant.rasa_url, concurrency=50, conversations=50, token=assistant.rest_token))
    summary = result.summary()
    print(f"\nload test: {summary}")
    assert summary["messages"] == 500 and not result.errors, result.errors[:5]
    assert result.empty_replies == 0  # this assistant answers every message
    assert result.crisis_turns > 0 and result.crisis_referred == result.crisis_turns
