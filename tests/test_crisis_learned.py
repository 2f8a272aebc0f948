"""The learned crisis layer: its corpus, how it reads a message, and the one decision both
layers make together. Figures on the frozen split come from `make eval-safety`."""

from collections import Counter

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neural_network import MLPClassifier

from bot.encoder import get_encoder
from bot.safety import assess as assess_module
from bot.safety.assess import Assessor, decide
from bot.safety.classifier import (
    KINDS,
    MAX_UNITS,
    WINDOW_WORDS,
    ClassifierReading,
    CrisisClassifier,
    UnitNetwork,
    clauses,
    encode_messages,
    get_learned_layer,
    message_units,
    split_message,
)
from bot.safety.corpus import ABOUT, CASES_FILE, build_corpus, is_frozen, load_families, split_frames
from bot.safety.detector import CrisisDetection
from bot.safety.lexical import LETTER_NGRAMS, WORD_NGRAMS, LexicalModel
from bot.safety.train import NETWORK_ALPHA, NETWORK_EPOCHS, NETWORK_HIDDEN, fit_network
from bot.yaml_data import load_yaml


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


@pytest.fixture(scope="module")
def assessor():
    return assess_module.get_assessor()


def test_corpus_families_follow_the_schema():
    families = load_families()
    ids = [f.id for f in families]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    for family in families:
        assert set(family.kinds) <= set(KINDS), family.id
        assert family.about in ABOUT, family.id
        assert family.texts and all(t.strip() for t in family.texts), family.id
        assert not family.child or family.kinds, family.id
    assert {k for f in families for k in f.kinds} == set(KINDS)
    # A text in two families could sit on both sides of a fold or of the frozen split.
    texts = Counter(" ".join(t.lower().split()) for f in families for t in f.texts)
    assert not [t for t, n in texts.items() if n > 1]
    # The issue asks for 1,500 of each written for the project (the counts below add their stories).
    assert sum(len(f.texts) for f in families if f.kinds) >= 1500
    assert sum(len(f.texts) for f in families if not f.kinds) >= 1500


def test_corpus_size_and_the_frozen_split(corpus):
    every = corpus.training + corpus.frozen
    disclosures = [e for e in every if e.is_crisis]
    hard_negatives = [e for e in every if not e.is_crisis and not e.family.startswith("nlu-")]
    print(
        f"\ncorpus: {len(disclosures)} disclosures, {len(hard_negatives)} hard negatives, "
        f"{sum(e.long for e in every)} of all messages set in long stories"
    )
    assert len(disclosures) >= 1500
    assert len(hard_negatives) >= 1500
    training_families = {e.family for e in corpus.training}
    frozen_families = {e.family for e in corpus.frozen}
    assert not training_families & frozen_families
    assert all(is_frozen(f) for f in frozen_families)
    assert any(e.is_crisis for e in corpus.frozen) and any(not e.is_crisis for e in corpus.frozen)
    # The frozen split's stories are set in frames that no training message uses.
    training_frames, frozen_frames = split_frames()
    assert training_frames == corpus.training_frames and not set(training_frames) & set(frozen_frames)
    frozen_long = [e for e in corpus.frozen if e.long]
    assert frozen_long and all(
        any(e.text.startswith(before) and e.text.endswith(after) for before, after in frozen_frames) for e in frozen_long
    )


def test_a_message_is_read_as_sentences_clauses_and_whole():
    units = message_units("My bf lied again. I'm so tired, and honestly I want to disappear forever.")
    # A sentence is read without its closing full stop, as people as often leave it off.
    assert "My bf lied again" in units and "My bf lied again." not in units
    assert "honestly I want to disappear forever" in units
    assert units[-1] == "My bf lied again. I'm so tired, and honestly I want to disappear forever."
    assert message_units("i don't feel safe at home...") == message_units("i don't feel safe at home")
    assert clauses("hello") == []


def test_long_and_odd_messages_are_read_in_bounded_units():
    thousand_words = " ".join(["word"] * 990 + ["i", "want", "to", "kill", "myself"])
    units = message_units(thousand_words)
    assert max(len(u.split()) for u in units) <= WINDOW_WORDS
    assert any("kill myself" in u for u in units)
    one_word_sentences = message_units(". ".join(["Okay"] * 300))
    assert len(one_word_sentences) <= 240
    assert message_units("") == [] and message_units("🙂🙂🙂") == ["🙂🙂🙂"]
    # A message too long for passes of its own is read from its sentences' passes alone.
    assert split_message(thousand_words)[2] == []
    assert split_message("He lied again. I feel stupid.")[2] == ["He lied again. I feel stupid."]


def test_a_repeated_sentence_is_read_once_and_the_last_of_countless_sentences_is_read():
    okay = ". ".join(["Okay"] * 300) + ". I want to kill myself."
    assert message_units(okay) == ["Okay", "I want to kill myself"]
    encoded_texts: list[str] = []

    class CountingEncoder:
        def token_states(self, texts):
            encoded_texts.extend(texts)
            return get_encoder().token_states(texts)

    assert len(encode_messages(CountingEncoder(), [okay])[0].unit_vectors()) == 2
    assert sorted(encoded_texts) == ["I want to kill myself", "Okay"]
    countless = ". ".join(f"thing{i}" for i in range(400)) + ". I want to kill myself."
    units = message_units(countless)
    assert len(units) == MAX_UNITS and units[0] == "thing0" and units[-1] == "I want to kill myself"
    layer = get_learned_layer()
    assert layer.read(countless).score >= layer.classifier.refer_threshold


def reading(score, kinds=("suicide",), other=False, child=False):
    return ClassifierReading(score, kinds, other, child)


def test_the_patterns_decide_when_they_match_and_the_learned_layer_otherwise():
    matched = CrisisDetection(kinds=("abuse",), about_self=True)
    assert decide(matched, reading(-0.5), 0.1, 0.05).refer
    assert decide(matched, reading(-0.5), 0.1, 0.05).kinds == ("abuse",)
    nothing = CrisisDetection()
    referred = decide(nothing, reading(0.2, ("immediate_danger", "suicide")), 0.1, 0.05)
    assert referred.refer and referred.kinds == ("immediate_danger", "suicide") and referred.source == "classifier"
    asked = decide(nothing, reading(0.07, ("abuse", "suicide"), other=True), 0.1, 0.05)
    assert asked.check_in and not asked.refer and asked.kinds == ("abuse",) and asked.about == "other"
    assert not decide(nothing, reading(0.01), 0.1, 0.05).check_in


def test_a_named_subject_is_referred_when_the_learned_layer_is_unsure_and_asked_about_otherwise():
    named = CrisisDetection(about_self=True, mentions=("self_harm",))
    referred = decide(named, reading(0.06, ("suicide",)), 0.1, 0.05)
    assert referred.refer and referred.kinds == ("suicide", "self_harm") and referred.source == "mention"
    asked = decide(named, reading(-0.3), 0.1, 0.05)
    assert asked.check_in and not asked.refer and asked.kinds == ("self_harm",) and asked.about == "self"


def test_every_case_file_disclosure_is_referred_with_its_kind(assessor):
    """The pattern layer's own cases (a training figure: both layers learned from them), now that
    words such as "suicidal" only name the subject and leave the decision to the learned layer."""
    cases = load_yaml(CASES_FILE)["disclosures"]
    every = [(kind, text) for kind, abouts in cases.items() for texts in abouts.values() for text in texts]
    missed = [text for kind, text in every if not assessor(text).refer or kind not in assessor(text).kinds]
    assert not missed, missed


@pytest.mark.parametrize(
    "text",
    [
        "is it true that self harm is more common in teenage girls? asking for a school project",
        "what does self harm actually mean, my daughter's school sent a letter about it",
    ],
)
def test_a_subject_named_without_a_disclosure_is_asked_about_not_referred(assessor, text):
    found = assessor(text)
    assert found.check_in and not found.refer


def test_the_trained_classifier_has_thresholds_from_cross_validation():
    classifier = CrisisClassifier.load()
    assert classifier.check_in_threshold <= classifier.refer_threshold
    assert classifier.disclosures.shape[1] == 384 and len(classifier.negatives) > len(classifier.disclosures)
    assert np.allclose(np.linalg.norm(classifier.disclosures, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("i bought a gun last week and i know what it's for", "suicide"),
        ("my husband grabbed me by the throat last night", "abuse"),
        ("I'm 14 and my stepdad comes into my room at night and touches me", "sexual_violence"),
        # Disclosures that name their subject (a mention, which the learned layer confirms):
        ("i've been having really bad s*icidal thoughts since he left me", "suicide"),
        ("i self harm when we fight, it's the only thing that helps", "self_harm"),
        ("i think i'm in an abusive relationship, he controls everything and i'm scared of him", "abuse"),
    ],
)
def test_disclosures_are_referred_with_their_kind(assessor, text, kind):
    found = assessor(text)
    assert found.refer and kind in found.kinds


@pytest.mark.parametrize(
    "text",
    [
        "how do I learn to trust my girlfriend again after she lied about her ex?",
        "my boss keeps taking credit for my work and I don't trust anyone in the office now",
        # "suicide awareness" is a figure of speech in patterns.yml: a topic, not a mention.
        "my cousin is doing a fundraiser walk for suicide awareness, should i join even though we're not close",
        "",
        "🙂🙂🙂",
    ],
)
def test_ordinary_messages_are_not_referred(assessor, text):
    assert not assessor(text).refer


def test_a_disclosure_in_one_clause_of_a_long_story_is_caught(assessor):
    story = (
        "We've been together six years and he's always been jealous, but this year it got worse. "
        "He reads my messages, he tells me what to wear, and last week he hit me so hard I couldn't "
        "go to work. I don't know why I'm even writing this, maybe I just want someone to know."
    )
    found = assessor(story)
    assert found.refer and "abuse" in found.kinds


@pytest.mark.parametrize(
    "message",
    [
        ". ".join(["Okay"] * 300) + ". I want to kill myself.",
        " ".join(["so"] * 995) + " i want to kill myself",
        " ".join(["a"] * 2489) + " i want to kill myself",
        "🙂 " * 500 + "he raped me",
    ],
)
def test_odd_and_huge_messages_still_catch_the_disclosure(assessor, message):
    assert assessor(message[:5000]).refer


def test_a_message_is_assessed_once_however_often_it_is_asked_about(monkeypatch):
    assessor = Assessor()
    calls = []
    original = assessor.learned.read
    monkeypatch.setattr(assessor.learned, "read", lambda text: calls.append(text) or original(text))
    for _ in range(3):
        assessor("my girlfriend read my diary and I can't trust her")
    assert len(calls) == 1


def test_the_surface_word_model_reads_as_sklearn_tfidf_does_and_survives_saving(tmp_path):
    disclosures = ["i want to kill myself", "he hits me every night", "i cut myself again", "i want to kil myslef"]
    negatives = ["this job is killing me", "he hit the gym every night", "i cut my hair again", "my boyfriend lies to me"]
    model = LexicalModel.fit(disclosures, negatives)
    texts = ["i wanna kil myself tonight", "i love my job", "", "🙂🙂", "HE HITS ME!!"]

    def reference(terms: np.ndarray, idf: np.ndarray, **options) -> sparse.csr_matrix:
        vectorizer = TfidfVectorizer(vocabulary={str(t): i for i, t in enumerate(terms)}, sublinear_tf=True, **options)
        vectorizer.fit(["x"])
        vectorizer.idf_ = idf
        return vectorizer.transform(texts)

    features = sparse.hstack(
        [
            reference(model.word_terms, model.word_idf, ngram_range=WORD_NGRAMS),
            reference(model.letter_terms, model.letter_idf, analyzer="char_wb", ngram_range=LETTER_NGRAMS),
        ]
    ).tocsr()
    expected = 1.0 / (1.0 + np.exp(-(features @ model.weights + model.bias)))
    assert np.allclose(model.probabilities(texts), expected, atol=1e-6)
    assert model.probabilities(texts)[0] > 0.5 > model.probabilities(texts)[1]
    np.savez(tmp_path / "lexical.npz", **model.arrays())
    loaded = LexicalModel.from_arrays(dict(np.load(tmp_path / "lexical.npz")))
    assert np.array_equal(loaded.probabilities(texts), model.probabilities(texts))


def test_the_small_network_reads_as_sklearn_does_and_survives_saving(tmp_path):
    encoder = get_encoder()
    disclosures = encoder.encode(["i want to kill myself", "he hits me every night", "i cut myself again", "i'm going to end it tonight"])
    negatives = encoder.encode(["this job is killing me", "he hit the gym every night", "i cut my hair again", "my boyfriend lies to me"])
    network = fit_network(disclosures, negatives)
    reference = MLPClassifier(hidden_layer_sizes=(NETWORK_HIDDEN,), alpha=NETWORK_ALPHA, max_iter=NETWORK_EPOCHS, random_state=0)
    reference.fit(np.vstack([negatives, disclosures]), np.r_[np.zeros(4), np.ones(4)])
    units = encoder.encode(["i want to die", "my job is so boring", "🙂"])
    assert np.allclose(network.probabilities(units), reference.predict_proba(units)[:, 1], atol=1e-5)
    assert network.probabilities(units)[0] > 0.5 > network.probabilities(units)[1]
    np.savez(tmp_path / "network.npz", **network.arrays())
    loaded = UnitNetwork.from_arrays(dict(np.load(tmp_path / "network.npz")))
    assert np.array_equal(loaded.probabilities(units), network.probabilities(units))
