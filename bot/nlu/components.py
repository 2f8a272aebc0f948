"""Rasa NLU graph components of the project.

- `SentenceEncoderFeaturizer` gives each message the sentence encoder's vector
  (all-MiniLM-L6-v2, bot/encoder.py) as a dense sentence feature. The encoding is the crisis
  layer's (bot/safety/classifier.py): one encoder run a message serves both.
- `EncoderIntentClassifier` reads the intent from that vector (a logistic regression), so the
  NLU starts from a model that knows English instead of learning it from the training
  sentences alone (docs/nlu.md).
- `VocabularyEntityExtractor` turns the entities of the project's spaCy pipeline (its entity
  ruler, built from bot/knowledge/vocabulary.yml) into Rasa entities: `relationship` (only the
  one the message is about, bot/relationships.py) with `person`, `modality`, `cause` and
  `country`, each with its normalised value.
- `UnreadableMessageGuard` sends messages nobody meant as words (empty, emoji only, binary
  junk, one 10,000-letter "word", unknown /payloads) to the `nlu_fallback` intent, so they get
  the "say it another way" reply instead of whatever the classifier guessed from nothing.
  A disclosure inside such a message is still caught: `CrisisOverride` runs after it.
- `CrisisOverride` assesses every message with both crisis layers (bot/safety/assess.py: the
  patterns and the learned layer on the sentence encoder). On a disclosure it sets the
  `crisis_disclosure` intent with confidence 1.0 and the kinds as `crisis_kind` entities,
  whatever the classifier thought; when the learned layer is unsure it sets `crisis_check_in`,
  so the assistant asks. It must come after every intent classifier.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_CONFIDENCE,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.encoder import EXPECTED_SHA256, get_encoder
from bot.relationships import main_mention, mentions_in, person_word
from bot.safety.assess import Assessment, get_assessor
from bot.safety.classifier import READING_VERSION, encode_messages, get_learned_layer

logger = logging.getLogger(__name__)

CRISIS_INTENT = "crisis_disclosure"
CHECK_IN_INTENT = "crisis_check_in"
FALLBACK_INTENT = "nlu_fallback"
BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LONGEST_WORD = 60
CRISIS_KIND_ENTITY = "crisis_kind"
CRISIS_ABOUT_ENTITY = "crisis_about"
CRISIS_CHILD_ENTITY = "crisis_child"
RELATIONSHIP = "relationship"
PERSON_ENTITY = "person"
VOCABULARY_LABELS = ("modality", "cause", "country")  # doc.ents; relationships are a span group


def _entity(name: str, value: str, start: int, end: int, extractor: str) -> Dict[Text, Any]:
    return {
        ENTITY_ATTRIBUTE_TYPE: name,
        ENTITY_ATTRIBUTE_VALUE: value,
        ENTITY_ATTRIBUTE_START: start,
        ENTITY_ATTRIBUTE_END: end,
        ENTITY_ATTRIBUTE_CONFIDENCE: 1.0,
        EXTRACTOR: extractor,
    }


def _set_intent(message: Message, intent: Dict[Text, Any], ranking: List[Dict[Text, Any]]) -> None:
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)


class _UntrainedComponent(GraphComponent):
    """A component with nothing to train or persist: built from its config alone."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = config

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "_UntrainedComponent":
        return cls(config)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """The sentence encoder's vector of the message text as a dense sentence feature."""

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEncoderFeaturizer":
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to configure beyond the featurizer alias."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The encoder's files and how a message is read: Rasa's training cache reuses features
        only while both are unchanged."""
        return f"{sorted(EXPECTED_SHA256.items())}:{READING_VERSION}"

    def _add(self, message: Message, vector: Any) -> None:
        self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)

    def process(self, messages: List[Message]) -> List[Message]:
        layer = get_learned_layer()
        for message in messages:
            # Like the sparse featurizers, nothing for a message without tokens (empty, blank):
            # Rasa's DIET-based components expect sentence features only beside sequence ones.
            if message.get(TOKENS_NAMES[TEXT]):
                self._add(message, layer.encoded(message.get(TEXT)).sentence_vector())
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        examples = [m for m in training_data.training_examples if m.get(TEXT) is not None and m.get(TOKENS_NAMES[TEXT])]
        encoded = encode_messages(get_encoder(), [m.get(TEXT) for m in examples])
        for message, encoding in zip(examples, encoded):
            self._add(message, encoding.sentence_vector())
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class EncoderIntentClassifier(GraphComponent):
    """Intents by a logistic regression on the sentence encoder's vector (the featurizer named
    in `featurizers`). Chosen over DIET by 5-fold cross-validation on the training data
    (docs/nlu.md): DIET learns English from the project's thousand sentences, this classifier
    starts from a model trained on a billion sentence pairs. When a message is more than the
    question it asks ("my boss lied to me, what are the signs?"), the question's own reading
    counts half (from the same encoder pass). In cross-validation this changed nothing overall
    (0.819 accuracy either way, docs/nlu.md); it is kept because the question asked is what
    the person wants answered."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"featurizers": ["sentence_encoder"], "C": 30.0, "max_iter": 5000, "ranking_length": 10}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classes: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None,
        bias: Optional[np.ndarray] = None,
    ) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.classes = classes
        self.weights = weights
        self.bias = bias

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EncoderIntentClassifier":
        return cls(config, model_storage, resource)

    def _vector(self, message: Message) -> Optional[np.ndarray]:
        _, sentence = message.get_dense_features(TEXT, self.config["featurizers"])
        return None if sentence is None else sentence.features[0]

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        rows = [(self._vector(m), m.get(INTENT)) for m in training_data.intent_examples]
        rows = [(vector, intent) for vector, intent in rows if vector is not None and intent]
        if len({intent for _, intent in rows}) < 2:
            return self._resource
        features = np.stack([vector for vector, _ in rows])
        model = LogisticRegression(C=float(self.config["C"]), max_iter=int(self.config["max_iter"]), class_weight="balanced")
        model.fit(features, [intent for _, intent in rows])
        weights, bias = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes: softmax([0, z]) is its sigmoid(z)
            weights, bias = np.vstack([np.zeros_like(weights), weights]), np.concatenate([[0.0], bias])
        self.classes, self.weights, self.bias = model.classes_, weights.astype(np.float32), bias.astype(np.float32)
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / "intent_classifier.npz", classes=self.classes, weights=self.weights, bias=self.bias)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "EncoderIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                saved = np.load(directory / "intent_classifier.npz", allow_pickle=False)
                return cls(config, model_storage, resource, saved["classes"], saved["weights"], saved["bias"])
        except (ValueError, FileNotFoundError):
            return cls(config, model_storage, resource)

    def _probabilities(self, vector: np.ndarray) -> np.ndarray:
        logits = self.weights @ vector + self.bias
        probabilities = np.exp(logits - logits.max())
        return probabilities / probabilities.sum()

    def process(self, messages: List[Message]) -> List[Message]:
        if self.classes is None:
            return messages
        layer = get_learned_layer()
        for message in messages:
            vector = self._vector(message)
            if vector is None:  # nothing to read (an empty message): no intent, as DIET gives
                _set_intent(message, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, [])
                continue
            probabilities = self._probabilities(vector)
            question = layer.encoded(message.get(TEXT)).question_vector()
            if question is not None:
                probabilities = (probabilities + self._probabilities(question)) / 2
            order = np.argsort(-probabilities)[: int(self.config["ranking_length"])]
            ranking = [{INTENT_NAME_KEY: str(self.classes[i]), PREDICTED_CONFIDENCE_KEY: float(probabilities[i])} for i in order]
            _set_intent(message, ranking[0], ranking)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class VocabularyEntityExtractor(_UntrainedComponent):
    """Entities from the spaCy pipeline's entity ruler, with the ruler's id as the value. Of the
    relationships a message names, only the one it is about is kept (bot/relationships.py), with
    the writer's own word for that person as the `person` entity."""

    def process(self, messages: List[Message]) -> List[Message]:
        name = self.__class__.__name__
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            if doc is None:
                continue
            found = [
                _entity(ent.label_, ent.ent_id_, ent.start_char, ent.end_char, name)
                for ent in doc.ents
                if ent.label_ in VOCABULARY_LABELS and ent.ent_id_
            ]
            mentions = mentions_in(doc)
            main = main_mention(mentions)
            if main is not None:
                end = main.start + len(main.text)
                found.append(_entity(RELATIONSHIP, main.kind, main.start, end, name))
                person = person_word(main)
                if person:
                    found.append(_entity(PERSON_ENTITY, person, main.start, end, name))
            if found:
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class UnreadableMessageGuard(_UntrainedComponent):
    """Routes messages nobody could have meant as words to the fallback intent."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if not is_unreadable(message.get(TEXT) or ""):
                continue
            intent = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            _set_intent(message, intent, [intent])
        return messages


def is_unreadable(text: str) -> bool:
    """No letter or digit; binary control characters; a "word" longer than any real one; or
    a /payload. Valid payloads are set again by Rasa's RegexMessageHandler, which runs after
    the pipeline, so only payloads naming no intent of the domain stay in the fallback."""
    if text.startswith("/") or BINARY_CONTROL.search(text) or not any(char.isalnum() for char in text):
        return True
    return max((len(word) for word in text.split()), default=0) > LONGEST_WORD


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CrisisOverride(_UntrainedComponent):
    """Sets the crisis intent whenever the crisis detector finds a disclosure."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # A classifier-only crisis guess (the detector found nothing) is kept only at or above
        # this confidence; below it, idioms like "my feet are killing me" would be referred.
        # An abuse check-in about the writer is not asked when the classifier reads the message
        # as this intent: its answer (what coercive control is, the domestic abuse line and an
        # "I'm not safe right now" button) asks the same, more gently (docs/nlu.md).
        return {
            "intent": CRISIS_INTENT,
            "check_in_intent": CHECK_IN_INTENT,
            "classifier_only_threshold": 0.98,
            "abuse_check_in_answered_by": "concern_controlling",
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self.intent = config["intent"]
        self.check_in_intent = config["check_in_intent"]
        self.classifier_only_threshold = float(config["classifier_only_threshold"])
        self.abuse_check_in_answered_by = config["abuse_check_in_answered_by"]
        self.assess = get_assessor()

    def _demote_unconfirmed_guess(self, message: Message) -> None:
        """DIET's own crisis guesses stand only when very sure; a check-in is only ever asked
        when the assessment says so."""
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        if name not in (self.intent, self.check_in_intent):
            return
        if name == self.intent and (intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= self.classifier_only_threshold:
            return
        ranking = [r for r in message.get(INTENT_RANKING_KEY, []) if r.get(INTENT_NAME_KEY) not in (self.intent, self.check_in_intent)]
        if ranking:
            _set_intent(message, ranking[0], ranking)

    def _check_in_answered_by_intent(self, found: Assessment, message: Message) -> bool:
        """An abuse check-in about the writer, on a message the classifier reads as the intent
        that answers it (controlling behaviour)."""
        if found.refer or set(found.kinds) != {"abuse"} or found.about not in ("self", None):
            return False
        return (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == self.abuse_check_in_answered_by

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text: Optional[str] = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            found = self.assess(text)
            if not (found.refer or found.check_in):
                self._demote_unconfirmed_guess(message)
                continue
            if self._check_in_answered_by_intent(found, message):
                logger.info("crisis check-in (%s): kinds=abuse, answered by %s", found.source, self.abuse_check_in_answered_by)
                continue
            logger.info(
                "crisis %s (%s): kinds=%s about=%s",
                "disclosure" if found.refer else "check-in",
                found.source,
                ",".join(found.kinds),
                found.about,
            )
            chosen = self.intent if found.refer else self.check_in_intent
            intent = {INTENT_NAME_KEY: chosen, PREDICTED_CONFIDENCE_KEY: 1.0}
            ranking = [intent] + [r for r in message.get(INTENT_RANKING_KEY, []) if r.get(INTENT_NAME_KEY) not in (self.intent, chosen)]
            _set_intent(message, intent, ranking)
            name = self.__class__.__name__
            crisis_entities = [_entity(CRISIS_KIND_ENTITY, kind, 0, len(text), name) for kind in found.kinds]
            crisis_entities.append(_entity(CRISIS_ABOUT_ENTITY, found.about or "self", 0, len(text), name))
            if found.involves_child:
                crisis_entities.append(_entity(CRISIS_CHILD_ENTITY, "yes", 0, len(text), name))
            message.set(ENTITIES, message.get(ENTITIES, []) + crisis_entities, add_to_output=True)
        return messages
