"""The sentence encoder: the original all-MiniLM-L6-v2 files, run without torch, giving the
model's published results."""

import shutil

import numpy as np
import pytest

from bot.encoder import (
    EXPECTED_SHA256,
    LAYERS,
    MAX_WORD_PIECES,
    PACKED_PIECES,
    EncoderIntegrityError,
    SentenceEncoder,
    get_encoder,
    model_dir,
    verify_model_files,
)
from bot.paths import REPO_ROOT

REFERENCE = np.load(REPO_ROOT / "tests" / "data" / "encoder_reference.npz")


@pytest.fixture(scope="module")
def encoder():
    return get_encoder()


def test_published_similarities_of_the_model(encoder):
    """The model card's example: 0.6660, 0.1046 and 0.1411."""
    weather, sunny, stadium = encoder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert round(float(weather @ sunny), 4) == 0.6660
    assert round(float(weather @ stadium), 4) == 0.1046
    assert round(float(sunny @ stadium), 4) == 0.1411


def test_vectors_equal_the_stored_reference(encoder):
    vectors = encoder.encode([str(s) for s in REFERENCE["sentences"]])
    np.testing.assert_allclose(vectors, REFERENCE["vectors"], atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "texts, packed",
    [
        (["hi", "my partner lied to me again and I don't know what to do", "ok then", "🙂", "I can't do this anymore."], True),
        (["hi", "my partner lied to me again and I don't know what to do " * 3, "ok then", "word " * 300, "🙂"], False),
    ],
    ids=["packed-into-one-row", "batches-of-similar-length"],
)
def test_texts_encoded_together_read_as_each_alone(encoder, texts, packed):
    pieces = sum(len(encoder.tokenizer.encode(t).ids) for t in texts)
    assert (pieces <= PACKED_PIECES) == packed
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_no_padding_and_truncation_at_256_word_pieces(encoder):
    assert len(encoder.tokenizer.encode("hello there").ids) == 4  # [CLS] hello there [SEP], not 128
    assert len(encoder.tokenizer.encode("word " * 1000).ids) == MAX_WORD_PIECES


def test_the_installed_files_are_the_original_ones():
    verify_model_files(model_dir())


@pytest.mark.parametrize("changed", sorted(EXPECTED_SHA256))
def test_a_changed_or_missing_model_file_refuses_to_start(tmp_path, changed):
    copy = tmp_path / "model"
    shutil.copytree(model_dir(), copy)
    with open(copy / changed, "ab") as handle:
        handle.write(b" ")
    with pytest.raises(EncoderIntegrityError, match="not the original all-MiniLM-L6-v2 file"):
        SentenceEncoder(copy)
    (copy / changed).unlink()
    with pytest.raises(EncoderIntegrityError, match="missing"):
        SentenceEncoder(copy)


def test_the_experiments_top_layer_continues_a_shortened_pass_exactly(encoder):
    """experiments/fine_tune_top_layer.py trains the last layer on the states of a pass that stops
    one layer early: with the published weights, the two together must read as the whole encoder."""
    import importlib.util

    import tensorflow as tf

    spec = importlib.util.spec_from_file_location("fine_tune_top_layer", REPO_ROOT / "experiments" / "fine_tune_top_layer.py")
    experiment = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(experiment)
    texts = ["i cant trust my husband after what he did", "The weather is lovely today."]
    shortened = SentenceEncoder(model_dir(), layers=LAYERS - 1).token_states(texts)
    for text, below, whole in zip(texts, shortened, encoder.token_states(texts)):
        assert not np.allclose(below.states, whole.states, atol=1e-3), text
        continued = experiment.TopLayer()(tf.constant(below.states[None]), tf.ones([1, len(below.states)])).numpy()[0]
        np.testing.assert_allclose(continued, whole.states, atol=1e-4)


def _experiment(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_encoder_comparisons_relative_position_buckets():
    """experiments/compare_encoders.py: MPNet's buckets (T5's, 32 of them up to 128 apart), worked
    out by hand for a key before, at and after its query."""
    buckets = _experiment("compare_encoders").relative_buckets(300)
    by_distance = {
        key - query: buckets[query, key] for query, key in ((150, 150), (150, 151), (150, 149), (150, 142), (150, 134), (150, 22), (0, 200))
    }
    assert by_distance == {0: 0, 1: 17, -1: 1, -8: 8, -16: 10, -128: 15, 200: 31}


def test_the_encoder_comparisons_mpnet_graph_matches_a_plain_forward_pass():
    """The experiment's MPNet graph, packed as bot/encoder.py packs a chat message, gives each text
    the states a plain numpy pass of MPNet's layers gives it (small random weights: the published
    ones are not installed by make)."""
    import onnxruntime
    from scipy.special import erf

    from bot.encoder import _run_inputs

    experiment = _experiment("compare_encoders")
    width, inner, layers, rng = experiment.MPNET_WIDTH, 32, 2, np.random.default_rng(0)
    weights = {
        "embeddings.word_embeddings.weight": rng.normal(size=(40, width)),
        "embeddings.position_embeddings.weight": rng.normal(size=(64, width)),
        "encoder.relative_attention_bias.weight": rng.normal(size=(experiment.BUCKETS, experiment.MPNET_HEADS)),
    }
    norms = ["embeddings.LayerNorm"]
    dense = {}
    for index in range(layers):
        p = f"encoder.layer.{index}."
        dense.update({p + f"attention.attn.{n}": (width, width) for n in "qkvo"})
        dense.update({p + "intermediate.dense": (inner, width), p + "output.dense": (width, inner)})
        norms += [p + "attention.LayerNorm", p + "output.LayerNorm"]
    for name, shape in dense.items():
        weights[name + ".weight"], weights[name + ".bias"] = rng.normal(size=shape) / np.sqrt(shape[1]), rng.normal(size=shape[0]) * 0.1
    for name in norms:
        weights[name + ".weight"], weights[name + ".bias"] = 1 + rng.normal(size=width) * 0.1, rng.normal(size=width) * 0.1
    weights = {k: v.astype(np.float32) for k, v in weights.items()}

    def plain(ids: list[int]) -> np.ndarray:
        def norm(x, p):
            return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * weights[p + ".weight"] + weights[
                p + ".bias"
            ]

        def linear(x, p):
            return x @ weights[p + ".weight"].T + weights[p + ".bias"]

        n, heads = len(ids), experiment.MPNET_HEADS
        x = norm(
            weights["embeddings.word_embeddings.weight"][ids] + weights["embeddings.position_embeddings.weight"][np.arange(n) + 2], norms[0]
        )
        bias = weights["encoder.relative_attention_bias.weight"][experiment.relative_buckets(n)].transpose(2, 0, 1)
        for index in range(layers):
            p = f"encoder.layer.{index}."
            q, k, v = (linear(x, p + f"attention.attn.{name}").reshape(n, heads, -1).transpose(1, 0, 2) for name in "qkv")
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(width // heads) + bias
            attention = np.exp(scores - scores.max(-1, keepdims=True))
            context = (attention / attention.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(n, width)
            x = norm(linear(context, p + "attention.attn.o") + x, p + "attention.LayerNorm")
            hidden = linear(x, p + "intermediate.dense")
            x = norm(linear(0.5 * hidden * (1 + erf(hidden / np.sqrt(2))), p + "output.dense") + x, p + "output.LayerNorm")
        return x

    session = onnxruntime.InferenceSession(experiment._MPNetGraph(weights, layers).build(), providers=["CPUExecutionProvider"])
    texts = [[0, 5, 9, 31, 2], [0, 7, 7, 12, 30, 39, 4, 2]]
    members, feed = _run_inputs(texts, [[0, 1]])  # both texts side by side in one row
    states = session.run(None, experiment.mpnet_inputs(feed, weights["encoder.relative_attention_bias.weight"]))[0]
    for index, row, start in members:
        np.testing.assert_allclose(states[row, start : start + len(texts[index])], plain(texts[index]), atol=1e-4)
