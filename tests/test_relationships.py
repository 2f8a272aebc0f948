"""Which relationship a message is about when it names several (bot/relationships.py), read
through the project's spaCy pipeline as the NLU reads it."""

import pytest

from bot.relationships import main_mention, mentions_in, person_word
from bot.spacy_pipeline import build_pipeline


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline()


def about(nlp, text):
    main = main_mention(mentions_in(nlp(text)))
    return (main.kind, person_word(main)) if main else (None, None)


@pytest.mark.parametrize(
    "text, kind, person",
    [
        ("me and my husband have been married 11 years. he says work is busy but his boss says otherwise", "romantic", "husband"),
        ("My wife and I work at the same company and she stays late with her manager a lot", "romantic", "wife"),
        ("my boss keeps promising me a raise. my husband says I should just leave", "work", "boss"),
        ("my friend's husband cheated on her and now she can't trust anyone", "friendship", "friend"),
        ("i cant trust my bf, he lied about where he was", "romantic", "bf"),
        ("my mother-in-law goes behind my back to my husband and he thinks im paranoid about her", "family", "mother-in-law"),
        ("nobody at work can be trusted, it's a toxic workplace", "work", None),
        ("I don't trust anyone anymore", None, None),
        # "my parents" is also a cause phrase (childhood); the relationship word is still read.
        ("my parents dont trust me anymore since i lied about where i was", "family", "parents"),
        ("my twin tells her husband everything i tell her, even about my health", "family", "twin"),
        ("been seeing this guy for a few weeks and he introduced me to his mates already", "romantic", None),
    ],
)
def test_the_story_is_about_the_person_the_writer_calls_mine(nlp, text, kind, person):
    assert about(nlp, text) == (kind, person)
