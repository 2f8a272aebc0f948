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


def test_the_intent_classifier_trains_persists_loads_and_ranks(tmp_path):
    """EncoderIntentClassifier end to end on a toy set: trained on the encoder's vectors, saved
    in Rasa's model storage, loaded again and giving the same ranking; nothing to read (an
    empty message) gives no intent, so the fallback answers it."""
    import numpy as np
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.constants import TOKENS_NAMES
    from rasa.nlu.tokenizers.tokenizer import Token
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.components import EncoderIntentClassifier, SentenceEncoderFeaturizer

    def example(text, intent=None):
        message = Message(data={TEXT: text, **({INTENT: intent} if intent else {})})
        message.set(TOKENS_NAMES[TEXT], [Token(word, 0) for word in text.split()])
        return message

    greetings = ["hi there", "hello", "hey, good evening", "good morning to you", "hiya"]
    signs = [
        "what are the signs of trust issues",
        "how do trust issues show up",
        "signs I don't trust people",
        "what does distrust look like",
    ]
    training = TrainingData([example(t, "greet") for t in greetings] + [example(t, "ask_signs") for t in signs])
    featurizer = SentenceEncoderFeaturizer({"alias": "sentence_encoder"}, "featurizer")
    featurizer.process_training_data(training)
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intents")
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**EncoderIntentClassifier.get_default_config()}
    classifier = EncoderIntentClassifier.create(config, storage, resource, context)
    classifier.train(training)
    loaded = EncoderIntentClassifier.load(config, storage, resource, context)

    asked = [example("hey hey"), example("how would I know if I have trust issues?"), example("")]
    featurizer.process(asked)
    loaded.process(asked)
    assert asked[0].get(INTENT)["name"] == "greet" and asked[1].get(INTENT)["name"] == "ask_signs"
    assert asked[2].get(INTENT) == {"name": None, "confidence": 0.0}
    ranking = [r["confidence"] for r in asked[1].get("intent_ranking")]
    assert np.isclose(sum(ranking), 1.0) and ranking == sorted(ranking, reverse=True)
    again = [example("how would I know if I have trust issues?")]
    featurizer.process(again)
    classifier.process(again)  # the model that trained, before saving
    assert again[0].get(INTENT) == asked[1].get(INTENT)


def test_vocabulary_entities_keep_a_relationship_inside_a_cause_phrase():
    from rasa.nlu.constants import SPACY_DOCS
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.components import VocabularyEntityExtractor
    from bot.spacy_pipeline import build_pipeline

    text = "my parents dont trust me anymore, they check my phone every night"
    message = Message(data={TEXT: text})
    message.set(SPACY_DOCS[TEXT], build_pipeline()(text))
    VocabularyEntityExtractor({}).process([message])
    found = {(e["entity"], e["value"]) for e in message.get(ENTITIES)}
    assert {("relationship", "family"), ("person", "parents"), ("cause", "childhood")} <= found


@pytest.mark.parametrize(
    "assessment, intent, expected",
    [
        # An abuse check-in about the writer on a controlling-behaviour story: the controlling answer stands.
        ({"check_in": True, "kinds": ("abuse",), "about": "self"}, "concern_controlling", "concern_controlling"),
        # Anything more is still asked or referred.
        ({"check_in": True, "kinds": ("abuse",), "about": "self"}, "concern_romantic", "crisis_check_in"),
        ({"check_in": True, "kinds": ("abuse",), "about": "other"}, "concern_controlling", "crisis_check_in"),
        ({"check_in": True, "kinds": ("abuse", "immediate_danger"), "about": "self"}, "concern_controlling", "crisis_check_in"),
        ({"check_in": True, "kinds": ("suicide",), "about": "self"}, "concern_controlling", "crisis_check_in"),
        ({"refer": True, "kinds": ("abuse",), "about": "self"}, "concern_controlling", "crisis_disclosure"),
    ],
)
def test_an_abuse_check_in_on_a_controlling_story_is_answered_by_the_controlling_reply(monkeypatch, assessment, intent, expected):
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu import components
    from bot.safety.assess import Assessment

    monkeypatch.setattr(components, "get_assessor", lambda: lambda text: Assessment(**assessment))
    override = components.CrisisOverride(components.CrisisOverride.get_default_config())
    message = Message(data={TEXT: "he reads my messages and i have to ask before i see my friends"})
    message.set(INTENT, {"name": intent, "confidence": 0.6})
    override.process([message])
    assert message.get(INTENT)["name"] == expected
