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
