"""Can long messages be read better without a larger encoder? An experiment, not part of the assistant.

    PYTHONPATH=. .venv/bin/python experiments/long_messages.py fallback [--seeds 0 1]
    PYTHONPATH=. .venv/bin/python experiments/long_messages.py features [--seeds 0 1]
    PYTHONPATH=. .venv/bin/python experiments/long_messages.py windows

- fallback: would a lower fallback threshold for messages of 30 words or more answer more of
  them? The intent regression (as EncoderIntentClassifier, without its question rule) in seeded
  stratified 5-fold CV of data/nlu: the share answered right, answered wrong and falling back
  at each threshold, for short and long messages; and the development set of long messages.
- features: does the regression read long messages better with more of the message's own
  passes beside its vector (the mean or the maximum of its sentences' vectors, its question's
  vector)? No extra encoder pass: these are the crisis layer's unit vectors. The same CV.
- windows: do disclosures of two or more sentences read worse inside a story, where a message
  of more than three sentences has no unit spanning sentences? make eval-safety's
  cross-validation on the training families (never the frozen split), corpus disclosures by
  their number of sentences, read alone and in their story.

The held-out sets are never read here. Round 13's readings are in docs/nlu.md and
docs/crisis-detection.md.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from bot.encoder import get_encoder
from bot.paths import REPO_ROOT
from bot.safety import classifier as crisis_classifier

LONG_WORDS = 30
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3)


def intent_data() -> tuple[list[str], list[str], np.ndarray, list[dict]]:
    """The NLU's intent examples (texts, the sorted intent names, each text's intent index) and
    the development set of long messages: what every intent experiment reads."""
    import yaml
    from rasa.shared.nlu.training_data.loading import load_data

    examples = [(m.get("text"), m.get("intent")) for m in load_data("data/nlu").intent_examples if m.get("intent")]
    intents = sorted({intent for _, intent in examples})
    labels = np.array([intents.index(intent) for _, intent in examples])
    development = yaml.safe_load(open(REPO_ROOT / "tests" / "data" / "nlu_stories_dev.yml"))["messages"]
    return [text for text, _ in examples], intents, labels, development


def message_features(texts: list[str]) -> dict[str, np.ndarray]:
    """Per message: its own vector (the NLU's feature), the normalised mean and the maximum of
    its sentences' vectors, and its question's vector (its own vector when it asks none)."""
    rows: dict[str, list[np.ndarray]] = {"whole": [], "mean": [], "max": [], "question": []}
    for start in range(0, len(texts), 256):
        for message in crisis_classifier.encode_messages(get_encoder(), texts[start : start + 256]):
            whole, units = message.sentence_vector(), message.unit_vectors()
            sentences = [i for i, u in enumerate(message.units) if u.is_whole_chunk(message.chunks)]
            read = units[sentences] if sentences else whole[None, :]
            mean = read.mean(0)
            question = message.question_vector()
            rows["whole"].append(whole)
            rows["mean"].append(mean / (np.linalg.norm(mean) or 1.0))
            rows["max"].append(read.max(0))
            rows["question"].append(whole if question is None else question)
    return {name: np.vstack(vectors) for name, vectors in rows.items()}


def cross_validated(features: np.ndarray, labels: np.ndarray, seed: int, c: float = 30) -> tuple[np.ndarray, np.ndarray]:
    """Each message's intent and confidence from a regression that never saw it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    read, confidence = np.zeros(len(labels), int), np.zeros(len(labels))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(features, labels):
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(features[train], labels[train])
        probabilities = model.predict_proba(features[test])
        read[test], confidence[test] = model.classes_[probabilities.argmax(1)], probabilities.max(1)
    return read, confidence


def development_reading(
    features: np.ndarray, labels: np.ndarray, development_features: np.ndarray, c: float = 30
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(features, labels)
    probabilities = model.predict_proba(development_features)
    return model.classes_[probabilities.argmax(1)], probabilities.max(1)


def fallback(seeds: list[int]) -> None:
    texts, intents, labels, development = intent_data()
    features = message_features(texts)["whole"]
    long = np.array([len(t.split()) >= LONG_WORDS for t in texts])
    for seed in seeds:
        read, confidence = cross_validated(features, labels, seed)
        right = read == labels
        for name, rows in (("all", np.ones(len(texts), bool)), (f"< {LONG_WORDS} words", ~long), (f">= {LONG_WORDS} words", long)):
            sure = {t: confidence[rows] >= t for t in THRESHOLDS}
            shares = [
                f"{t}: right {np.mean(right[rows] & sure[t]):.3f} wrong {np.mean(~right[rows] & sure[t]):.3f} "
                f"fallback {np.mean(~sure[t]):.3f}"
                for t in THRESHOLDS
            ]
            print(f"seed {seed}, {name} ({rows.sum()}):\n  " + "\n  ".join(shares), flush=True)
    best, confidence = development_reading(features, labels, message_features([m["text"] for m in development])["whole"])
    for t in THRESHOLDS:
        on_topic = [intents[i] in m["accept"] and p >= t for i, p, m in zip(best, confidence, development)]
        print(f"development set at {t}: on topic {np.mean(on_topic):.1%}, fallback {np.mean(confidence < t):.1%}")


def features(seeds: list[int]) -> None:
    texts, intents, labels, development = intent_data()
    train_rows, development_rows = message_features(texts), message_features([m["text"] for m in development])
    long = np.array([len(t.split()) >= LONG_WORDS for t in texts])
    for combination in (("whole",), ("whole", "mean"), ("whole", "max"), ("whole", "question"), ("whole", "mean", "question")):
        stacked = np.hstack([train_rows[name] for name in combination])
        for c in (10, 30):
            readings = []
            for seed in seeds:
                read, confidence = cross_validated(stacked, labels, seed, c)
                right = read == labels
                sure = np.mean(right[long] & (confidence[long] >= 0.3))
                readings.append(f"accuracy {right.mean():.3f}, long {right[long].mean():.3f}, long and sure {sure:.3f}")
            best, confidence = development_reading(stacked, labels, np.hstack([development_rows[name] for name in combination]), c)
            on_topic = np.mean([intents[i] in m["accept"] and p >= 0.3 for i, p, m in zip(best, confidence, development)])
            print(f"{' + '.join(combination)}, C {c}: " + " | ".join(readings) + f" | development set on topic {on_topic:.1%}", flush=True)


def windows() -> None:
    from bot.safety.classifier import CrisisClassifier
    from bot.safety.corpus import build_corpus, frame_sentences
    from bot.safety.evaluate import assess_all
    from bot.safety.train import EmbeddingCache, cross_validated_readings

    corpus, cache, classifier = build_corpus(), EmbeddingCache(), CrisisClassifier.load()
    examples = corpus.training
    readings = cross_validated_readings(examples, frame_sentences(corpus.training_frames), cache)
    cache.save()
    assessed = assess_all(examples, readings, classifier.refer_threshold, classifier.check_in_threshold)
    counted, referred = Counter(), Counter()
    for index, example in enumerate(examples):
        if example.is_crisis and example.is_written:
            alone = examples[index - 1].text if example.long else example.text  # corpus.family_examples: alone, then in its story
            assert alone in example.text
            key = ("in its story" if example.long else "alone", min(len(crisis_classifier._sentences(alone)), 4))
            counted[key] += 1
            referred[key] += assessed[index].refer
    for (where, sentences), count in sorted(counted.items()):
        found = referred[where, sentences]
        print(f"{where}, {sentences}{'+' if sentences == 4 else ''} sentence(s): {found}/{count} referred ({found / count:.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reading", choices=["fallback", "features", "windows"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    arguments = parser.parse_args()
    if arguments.reading == "fallback":
        fallback(arguments.seeds)
    elif arguments.reading == "features":
        features(arguments.seeds)
    else:
        windows()


if __name__ == "__main__":
    main()
