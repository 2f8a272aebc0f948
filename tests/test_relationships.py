"""Which relationship a message is about when it names several (bot/relationships.py), read
through the project's spaCy pipeline as the NLU reads it."""

import pytest

from bot.relationships import Mention, main_mention, person_word
from bot.spacy_pipeline import build_pipeline


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline()


def about(nlp, text):
    doc = nlp(text)
    mentions = [
        Mention(e.ent_id_, e.text, e.start_char, doc[e.start - 1].text if e.start else "", doc[e.end].text if e.end < len(doc) else "")
        for e in doc.ents
        if e.label_ == "relationship"
    ]
    main = main_mention(mentions)
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
    ],
)
def test_the_story_is_about_the_person_the_writer_calls_mine(nlp, text, kind, person):
    assert about(nlp, text) == (kind, person)
