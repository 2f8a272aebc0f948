"""Does training the sentence encoder's top layer help? An experiment, not part of the assistant.

    PYTHONPATH=. .venv/bin/python experiments/fine_tune_top_layer.py crisis [--fold 0]
    PYTHONPATH=. .venv/bin/python experiments/fine_tune_top_layer.py intents [--seeds 0 1]

The encoder's first five layers stay as published; the sixth (its weights as the start) and a
head on its mean-pooled, L2-normalised output are trained with TensorFlow (in every Rasa
process) on the states entering it, which are worked out once. Nothing is written to models/.

- crisis: one fold of the crisis layer's family-grouped cross-validation (bot/safety/train.py:
  fold_of; never the frozen split). The head is a logistic output, trained on the units the
  learned layer is fitted on (whole disclosures against every unit of the hard negatives).
  Prints the recall at 1, 2, 3 and 5% false alarms on the fold's hard negatives of: the learned
  layer as it is, its nearest-examples part alone, the trained layer's probability alone, the
  nearest examples in the trained layer's space, and the same with the network and surface-word
  shares added as the learned layer adds them.
- intents: seeded stratified 5-fold cross-validation of the NLU's intent examples (data/nlu),
  the logistic regression on the published vector (as EncoderIntentClassifier, without the
  question rule) against the trained layer with a softmax head started from that regression;
  and the development set of long messages (tests/data/nlu_stories_dev.yml) read by both
  trained on everything. The held-out sets are never read here.

Round 11's readings are in docs/crisis-detection.md and docs/nlu.md; round 13 read all five crisis
folds again after the training units' pooling was made the layer's own (Unit.pooled_pieces).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import tensorflow as tf
from safetensors.numpy import load_file

from bot.encoder import HEADS, LAYER_NORM_EPS, LAYERS, WIDTH, SentenceEncoder, TokenStates, model_dir
from bot.safety import train as crisis_training
from bot.safety.classifier import WHOLE, EncodedMessage, _top_mean, encode_messages
from bot.safety.corpus import build_corpus, frame_sentences

TOP = f"encoder.layer.{LAYERS - 1}."
STARTED = time.time()


def log(*parts: object) -> None:
    print(f"[{time.time() - STARTED:5.0f}s]", *parts, flush=True)


class TopLayer:
    """The encoder's last layer in TensorFlow, trainable, started from the published weights."""

    def __init__(self) -> None:
        weights = {k.removeprefix("bert."): v.astype(np.float32) for k, v in load_file(str(model_dir() / "model.safetensors")).items()}
        qkv = [TOP + f"attention.self.{name}" for name in ("query", "key", "value")]
        self.published = {
            "qkv_w": np.concatenate([weights[n + ".weight"].T for n in qkv], axis=1),
            "qkv_b": np.concatenate([weights[n + ".bias"] for n in qkv]),
            "attention_w": weights[TOP + "attention.output.dense.weight"].T,
            "attention_b": weights[TOP + "attention.output.dense.bias"],
            "norm1_g": weights[TOP + "attention.output.LayerNorm.weight"],
            "norm1_b": weights[TOP + "attention.output.LayerNorm.bias"],
            "inner_w": weights[TOP + "intermediate.dense.weight"].T,
            "inner_b": weights[TOP + "intermediate.dense.bias"],
            "out_w": weights[TOP + "output.dense.weight"].T,
            "out_b": weights[TOP + "output.dense.bias"],
            "norm2_g": weights[TOP + "output.LayerNorm.weight"],
            "norm2_b": weights[TOP + "output.LayerNorm.bias"],
        }
        self.v = {name: tf.Variable(value) for name, value in self.published.items()}

    def reset(self) -> None:
        for name, value in self.published.items():
            self.v[name].assign(value)

    @property
    def variables(self) -> list[tf.Variable]:
        return list(self.v.values())

    @staticmethod
    def _norm(x: tf.Tensor, gamma: tf.Variable, beta: tf.Variable) -> tf.Tensor:
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) / tf.sqrt(variance + LAYER_NORM_EPS) * gamma + beta

    def __call__(self, x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        v, batch, length, head = self.v, tf.shape(x)[0], tf.shape(x)[1], WIDTH // HEADS

        def heads(t: tf.Tensor) -> tf.Tensor:
            return tf.transpose(tf.reshape(t, [batch, length, HEADS, head]), [0, 2, 1, 3])

        q, k, value = (heads(t) for t in tf.split(x @ v["qkv_w"] + v["qkv_b"], 3, axis=-1))
        scores = tf.matmul(q, k, transpose_b=True) / np.sqrt(head) + (1.0 - mask)[:, None, None, :] * -1e9
        context = tf.reshape(tf.transpose(tf.matmul(tf.nn.softmax(scores, -1), value), [0, 2, 1, 3]), [batch, length, WIDTH])
        x = self._norm(context @ v["attention_w"] + v["attention_b"] + x, v["norm1_g"], v["norm1_b"])
        inner = tf.nn.gelu(x @ v["inner_w"] + v["inner_b"], approximate=False)
        return self._norm(inner @ v["out_w"] + v["out_b"] + x, v["norm2_g"], v["norm2_b"])

    def pooled(self, x: tf.Tensor, mask: tf.Tensor, pool_mask: tf.Tensor) -> tf.Tensor:
        states = self(x, mask)
        mean = tf.reduce_sum(states * pool_mask[:, :, None], 1) / tf.reduce_sum(pool_mask, 1, keepdims=True)
        return tf.math.l2_normalize(mean, -1)

    def states(self, passes: list[TokenStates]) -> list[TokenStates]:
        return [TokenStates(self(tf.constant(p.states[None]), tf.ones([1, len(p.states)])).numpy()[0], p.offsets) for p in passes]


def padded(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(states, pool mask) pairs as a batch: states, attention mask, pool mask."""
    length = max(len(states) for states, _ in items)
    x = np.zeros((len(items), length, WIDTH), np.float32)
    mask, pool_mask = np.zeros((len(items), length), np.float32), np.zeros((len(items), length), np.float32)
    for row, (states, pooled) in enumerate(items):
        x[row, : len(states)], mask[row, : len(states)], pool_mask[row, : len(states)] = states, 1.0, pooled
    return tf.constant(x), tf.constant(mask), tf.constant(pool_mask)


def batches(count: int, lengths: list[int], size: int, rng: np.random.Generator | None) -> list[list[int]]:
    """Indices in batches of similar length, shuffled when rng is given."""
    order = sorted(range(count), key=lambda i: lengths[i] + (rng.random() * 4 if rng else 0))
    groups = [order[i : i + size] for i in range(0, count, size)]
    if rng:
        rng.shuffle(groups)
    return groups


def below_top(texts: list[str]) -> dict[str, EncodedMessage]:
    """Each text split and encoded as the assistant does, by the first LAYERS - 1 layers."""
    encoder = SentenceEncoder(model_dir(), layers=LAYERS - 1)
    encoded: dict[str, EncodedMessage] = {}
    for start in range(0, len(texts), 256):
        batch = texts[start : start + 256]
        encoded.update(zip(batch, encode_messages(encoder, batch)))
    return encoded


def recall_at(scores: np.ndarray, crisis: np.ndarray, false_alarms: float) -> float:
    negatives = np.sort(scores[~crisis])[::-1]
    return float(np.mean(scores[crisis] > negatives[int(false_alarms * len(negatives))]))


def crisis_experiment(fold: int, settings: list[tuple[int, float]]) -> None:
    corpus = build_corpus()
    frames = frame_sentences(corpus.training_frames)
    train = [e for e in corpus.training if crisis_training.fold_of(e.family) != fold]
    test = [e for e in corpus.training if crisis_training.fold_of(e.family) == fold]
    cache = crisis_training.EmbeddingCache()
    learned = crisis_training.classifier_from(train, frames, cache)
    as_is = np.array([r.score for r in crisis_training.read_examples(learned, test, cache)])
    test_units = [cache.units(e.text) for e in test]

    def nearest(vectors: np.ndarray, disclosures: np.ndarray, negatives: np.ndarray) -> float:
        if not len(vectors):
            return -1.0
        return float((_top_mean(vectors @ disclosures.T, 3) - _top_mean(vectors @ negatives.T, 3)).max())

    nearest_as_is = np.array([nearest(u, learned.disclosures, learned.negatives) for u in test_units])
    crisis = np.array([e.is_crisis for e in test])
    written = np.array([e.is_written for e in test])

    def report(label: str, scores: np.ndarray) -> None:
        for name, rows in (("all", np.ones_like(crisis)), ("written", written)):
            shares = " ".join(f"{share:.0%}: {recall_at(scores[rows], crisis[rows], share):.1%}" for share in (0.01, 0.02, 0.03, 0.05))
            print(f"{name:8s} {label:44s} {shares}", flush=True)

    report("learned layer as it is", as_is)
    report("its nearest examples alone", nearest_as_is)

    disclosures = [e.text for e in train if e.is_crisis and not e.long]
    negatives = list(dict.fromkeys([e.text for e in train if not e.is_crisis] + frames))
    encoded = below_top(list(dict.fromkeys(disclosures + negatives + [e.text for e in test])))
    log("states below the top layer:", len(encoded), "texts")
    items: list[tuple[np.ndarray, np.ndarray, float]] = []
    seen: set[tuple] = set()
    for text, label in [(t, 1.0) for t in disclosures] + [(t, 0.0) for t in negatives]:
        message = encoded[text]
        if len(message.whole_passes) == 1:  # the text as a whole
            items.append((message.whole_passes[0].states, np.ones(len(message.whole_passes[0].states), np.float32), label))
        if label:
            continue  # a disclosure's own clauses are not labelled (some are ordinary)
        for unit in message.units:
            if unit.chunk == WHOLE:
                continue
            states = message.passes[unit.chunk]
            pool_mask = unit.pooled_pieces(message.chunks, states.offsets).astype(np.float32)  # as the layer reads it
            key = (unit.text, len(states.states))
            if pool_mask.sum() and key not in seen:
                seen.add(key)
                items.append((states.states, pool_mask, 0.0))
    labels = np.array([label for _, _, label in items], np.float32)
    lengths = [len(states) for states, _, _ in items]
    positive_weight = float((labels == 0).sum() / labels.sum())
    log("training units:", len(items), "disclosures:", int(labels.sum()))
    layer = TopLayer()
    for epochs, rate in settings:
        layer.reset()
        head_w, head_b, head_scale = tf.Variable(np.zeros(WIDTH, np.float32)), tf.Variable(0.0), tf.Variable(10.0)
        layer_optimizer, head_optimizer = tf.keras.optimizers.Adam(rate), tf.keras.optimizers.Adam(1e-2)

        def logits(vectors: tf.Tensor) -> tf.Tensor:
            return head_scale * tf.reduce_sum(vectors * head_w, -1) + head_b  # noqa: B023

        rng = np.random.default_rng(0)
        for epoch in range(epochs + 1):  # the first epoch trains the head alone
            for group in batches(len(items), lengths, 64, rng):
                x, mask, pool_mask = padded([items[i][:2] for i in group])
                with tf.GradientTape() as tape:
                    out = logits(layer.pooled(x, mask, pool_mask))
                    loss = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(labels[group], out, positive_weight))
                head = [head_w, head_b, head_scale]
                gradients = tape.gradient(loss, layer.variables + head)
                head_optimizer.apply_gradients(zip(gradients[len(layer.variables) :], head))
                if epoch:
                    layer_optimizer.apply_gradients(zip(gradients[: len(layer.variables)], layer.variables))
        groups = batches(len(items), lengths, 128, None)
        vectors = np.vstack([layer.pooled(*padded([items[i][:2] for i in group])).numpy() for group in groups])
        order = np.concatenate(groups)
        trained_disclosures = vectors[labels[order] == 1]
        trained_negatives = crisis_training.distinct_rows(vectors[labels[order] == 0])
        probability, nearest_trained = [], []
        for example in test:
            message = encoded[example.text]
            own = layer.states(message.passes)
            whole = own if message.whole_passes is message.passes else layer.states(message.whole_passes)
            unit_vectors = EncodedMessage(message.chunks, message.units, own, whole).unit_vectors()
            probability.append(float(tf.reduce_max(tf.sigmoid(logits(tf.constant(unit_vectors))))) if len(unit_vectors) else 0.0)
            nearest_trained.append(nearest(unit_vectors, trained_disclosures, trained_negatives))
        probability, nearest_trained = np.array(probability), np.array(nearest_trained)
        tag = f"top layer {epochs} epochs at {rate:g}:"
        report(f"{tag} its probability", probability)
        report(f"{tag} nearest examples", nearest_trained)
        report(f"{tag} nearest + shares as the layer", nearest_trained + (as_is - nearest_as_is))
        log(tag, "done")


def intent_experiment(seeds: list[int], settings: list[tuple[int, float]]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from experiments.long_messages import intent_data

    texts, intents, labels, development = intent_data()
    encoded = below_top(texts + [m["text"] for m in development])

    def whole(text: str) -> np.ndarray:
        return np.concatenate([p.states for p in encoded[text].whole_passes])

    states = [whole(t) for t in texts]
    development_states = [whole(m["text"]) for m in development]
    layer = TopLayer()

    def vectors(rows: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(rows), WIDTH), np.float32)
        for group in batches(len(rows), [len(r) for r in rows], 64, None):
            out[group] = layer.pooled(*padded([(rows[i], np.ones(len(rows[i]), np.float32)) for i in group])).numpy()
        return out

    def regression(rows: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = LogisticRegression(C=30, max_iter=2000, class_weight="balanced").fit(rows, targets)
        weights, bias = np.zeros((WIDTH, len(intents)), np.float32), np.full(len(intents), -30.0, np.float32)
        weights[:, model.classes_], bias[model.classes_] = model.coef_.T, model.intercept_
        return weights, bias

    def fitted(train: np.ndarray, epochs: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
        layer.reset()
        start = regression(vectors([states[i] for i in train]), labels[train])
        if not epochs:
            return start
        head_w, head_b = tf.Variable(start[0]), tf.Variable(start[1])
        counts = np.bincount(labels[train], minlength=len(intents))
        class_weights = tf.constant(np.where(counts > 0, len(train) / (len(intents) * np.maximum(counts, 1)), 0.0).astype(np.float32))
        layer_optimizer, head_optimizer = tf.keras.optimizers.Adam(rate), tf.keras.optimizers.Adam(rate * 10)
        rng = np.random.default_rng(0)
        for _ in range(epochs):
            for group in batches(len(train), [len(states[i]) for i in train], 32, rng):
                rows = train[group]
                x, mask, pool_mask = padded([(states[i], np.ones(len(states[i]), np.float32)) for i in rows])
                with tf.GradientTape() as tape:
                    out = layer.pooled(x, mask, pool_mask) @ head_w + head_b
                    targets = tf.constant(labels[rows])
                    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, out) * tf.gather(class_weights, targets))
                    loss += 1e-4 * tf.reduce_sum(head_w * head_w)
                gradients = tape.gradient(loss, layer.variables + [head_w, head_b])
                layer_optimizer.apply_gradients(zip(gradients[: len(layer.variables)], layer.variables))
                head_optimizer.apply_gradients(zip(gradients[len(layer.variables) :], [head_w, head_b]))
        return head_w.numpy(), head_b.numpy()

    def probabilities(rows: list[np.ndarray], head: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        logits = vectors(rows) @ head[0] + head[1]
        exp = np.exp(logits - logits.max(1, keepdims=True))
        return exp / exp.sum(1, keepdims=True)

    long = np.array([len(t.split()) >= 30 for t in texts])
    for epochs, rate in settings:
        tag = "published layer, regression" if not epochs else f"top layer {epochs} epochs at {rate:g}"
        found = probabilities(development_states, fitted(np.arange(len(texts)), epochs, rate))
        on_topic = np.mean([intents[i] in m["accept"] and p >= 0.3 for i, p, m in zip(found.argmax(1), found.max(1), development)])
        for seed in seeds:
            read = np.zeros((len(texts), len(intents)))
            for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(texts, labels):
                read[test] = probabilities([states[i] for i in test], fitted(train, epochs, rate))
            right, sure = read.argmax(1) == labels, read.max(1) >= 0.3
            print(
                f"{tag:36s} seed {seed}: accuracy {right.mean():.3f}, right and sure {np.mean(right & sure):.3f}, "
                f"fallback {np.mean(~sure):.3f}; {long.sum()} of 30 words or more: accuracy {right[long].mean():.3f}, "
                f"right and sure {np.mean(right[long] & sure[long]):.3f}, fallback {np.mean(~sure[long]):.3f}; "
                f"development set on topic {on_topic:.1%}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("crisis", "intents"))
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    tf.config.threading.set_intra_op_parallelism_threads(2)
    arguments = parser.parse_args()
    if arguments.experiment == "crisis":
        crisis_experiment(arguments.fold, [(2, 3e-5), (3, 1e-4)])
    else:
        intent_experiment(arguments.seeds, [(0, 0.0), (4, 5e-5)])


if __name__ == "__main__":
    main()
