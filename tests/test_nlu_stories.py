"""Long, real-style messages kept apart from the training data (tests/data/nlu_stories_test.yml,
read by bot/nlu_stories.py): answered on topic, and about the right relationship."""

import re

import pytest

from bot import nlu_stories
from bot.paths import REPO_ROOT
from bot.yaml_data import load_yaml


def _words(text):
    return set(re.findall(r"[a-z']+", text.lower()))


def _training_texts():
    texts = set()
    for path in (REPO_ROOT / "data" / "nlu").glob("*.yml"):
        for block in load_yaml(path).get("nlu", []):
            texts |= {line[2:].strip().lower() for line in block.get("examples", "").splitlines() if line.startswith("- ")}
    return texts


@pytest.mark.parametrize("messages_file", [nlu_stories.MESSAGES_FILE, nlu_stories.DEV_MESSAGES_FILE])
def test_the_messages_are_long_labelled_and_not_training_examples(messages_file):
    messages = load_yaml(messages_file)["messages"]
    assert len(messages) >= 40
    assert sum(len(m["text"].split()) >= 30 for m in messages) >= 30
    training = _training_texts()
    assert not [m["text"] for m in messages if " ".join(m["text"].split()).lower() in training]
    # Nor a rewording of one: no training example of eight words or more shares 30% of its words
    # with a held-out message (word sets, Jaccard).
    held_out = [_words(m["text"]) for m in messages]
    near = [
        text
        for text in training
        if len(_words(text)) >= 8 and any(len(_words(text) & other) / len(_words(text) | other) >= 0.3 for other in held_out)
    ]
    assert not near
    domain_intents = set(load_yaml(REPO_ROOT / "domain.yml")["intents"])
    for message in messages:
        assert message["accept"] and set(message["accept"]) <= domain_intents
        assert message["relationship"] in (None, "romantic", "friendship", "family", "work")


@pytest.mark.slow
def test_long_messages_are_answered_on_topic_and_about_the_right_relationship(capfd):
    """The relationship target (90%) is met. The on-topic target is 90% and is not met yet
    (76.1% measured in round 10, docs/nlu.md): the floor here is the measured figure, so a
    change that makes long messages understood less often fails. Reading them prints none of
    them (a held-out message seen is a held-out message tuned on)."""
    readings = nlu_stories.read_all()
    printed = "".join(capfd.readouterr())
    printed_messages = sum(r.text[:60] in printed for r in readings)  # a count: a failure must not show them either
    assert printed_messages == 0
    figures = nlu_stories.summary(readings)
    print(
        f"\n{figures['messages']} held-out multi-sentence messages: {figures['on_topic']:.1%} on topic; right relationship "
        f"for {figures['right_relationship']:.1%} of the {figures['with_relationship']} that name one"
    )
    assert figures["on_topic"] >= 0.76
    assert figures["right_relationship"] >= 0.90
