"""The project's NLU components as plain functions (no trained model needed)."""

import pytest

from bot.nlu.components import is_unreadable


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂", "\x00\x01\x02\xff", "x" * 10_000, "/nonexistent_intent", "?!"])
def test_unreadable_messages_are_recognised(text):
    assert is_unreadable(text)


@pytest.mark.parametrize("text", ["y", "no", "hi", "my boss lied to me", "ça va", "i want to kill myself " * 200])
def test_readable_messages_are_left_to_the_classifier(text):
    assert not is_unreadable(text)
