"""The project's NLU components as plain functions (no trained model needed)."""

import pytest

from bot.nlu.components import is_unreadable


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂", "\x00\x01\x02\xff", "x" * 10_000, "/nonexistent_intent", "?!"])
def test_unreadable_messages_are_recognised(text):
    assert is_unreadable(text)


@pytest.mark.parametrize("text", ["y", "no", "hi", "my boss lied to me", "ça va", "i want to kill myself " * 200])
def test_readable_messages_are_left_to_the_classifier(text):
    assert not is_unreadable(text)


def test_the_sentence_feature_is_the_encoders_vector_and_the_crisis_layer_reuses_the_pass(monkeypatch):
    """One encoder run a message serves the NLU's dense feature and the crisis layer."""
    import numpy as np
    from rasa.nlu.constants import TOKENS_NAMES
    from rasa.nlu.tokenizers.tokenizer import Token
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.encoder import get_encoder
    from bot.nlu.components import SentenceEncoderFeaturizer
    from bot.safety.assess import Assessor
    from bot.safety.classifier import get_learned_layer

    featurizer = SentenceEncoderFeaturizer({"alias": None}, "encoder_featurizer")
    text = "my husband lied about where he was again and I can't stop checking his phone"
    encoder = get_encoder()
    expected_vector = encoder.encode([text])[0]
    passes = []
    original = encoder.token_states
    monkeypatch.setattr(encoder, "token_states", lambda texts: passes.append(list(texts)) or original(texts))

    def tokenized(text):
        message = Message(data={TEXT: text})
        message.set(TOKENS_NAMES[TEXT], [Token(word, 0) for word in text.split()])
        return message

    message = tokenized(text)
    empty = tokenized("")
    featurizer.process([message, empty])
    assert empty.get_dense_features(TEXT, []) == (None, None)  # as the sparse featurizers do
    _, sentence = message.get_dense_features(TEXT, [])
    assert sentence.features.shape == (1, 384)
    assert np.allclose(sentence.features[0], expected_vector, atol=1e-5)
    Assessor()(text)  # the crisis layer reads the same message
    assert passes == [[text]]
    assert len(get_learned_layer().encoded(text).passes) == 1
    training = TrainingData([tokenized(text), tokenized("hi")])
    featurizer.process_training_data(training)
    trained = training.training_examples[0].get_dense_features(TEXT, [])[1]
    assert np.allclose(trained.features, sentence.features, atol=1e-5)  # training and serving agree
