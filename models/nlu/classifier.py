"""Linear intent classifier: trained with numpy, exported as an int8 ONNX graph.

Graph: features[N, DIM] float32 -> MatMul(DequantizeLinear(W int8 [DIM, C], per-class scale))
+ bias -> Softmax -> probs[N, C]. Weights are stored as int8 (symmetric, per class); the
label names travel in the model's metadata. Run with onnxruntime on one thread.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from models.nlu.features import DIM, featurize

NONE_LABEL = "__none__"
OPSET = 13


def train_weights(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    *,
    epochs: int = 12,
    batch: int = 128,
    lr: float = 0.05,
    l2: float = 1e-5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression with Adam, mini-batches; returns (W [DIM, C], b [C])."""
    rng = np.random.default_rng(seed)
    w = np.zeros((x.shape[1], classes), dtype=np.float32)
    b = np.zeros(classes, dtype=np.float32)
    mw, vw = np.zeros_like(w), np.zeros_like(w)
    mb, vb = np.zeros_like(b), np.zeros_like(b)
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
    onehot = np.eye(classes, dtype=np.float32)[y]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            xb, yb = x[idx], onehot[idx]
            logits = xb @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - yb) / len(idx)
            gw = xb.T @ g + l2 * w
            gb = g.sum(axis=0)
            step += 1
            for param, grad, mom, var in ((w, gw, mw, vw), (b, gb, mb, vb)):
                mom[...] = beta1 * mom + (1 - beta1) * grad
                var[...] = beta2 * var + (1 - beta2) * grad * grad
                mhat = mom / (1 - beta1**step)
                vhat = var / (1 - beta2**step)
                param[...] = param - lr * mhat / (np.sqrt(vhat) + eps)
    return w, b


def export_int8(w: np.ndarray, b: np.ndarray, labels: list[str]) -> bytes:
    """Serialise the classifier as an ONNX model with int8 weights."""
    scale = np.maximum(np.abs(w).max(axis=0), 1e-8) / 127.0
    wq = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("DequantizeLinear", ["w_int8", "w_scale", "w_zero"], ["w"], axis=1),
            helper.make_node("MatMul", ["features", "w"], ["logits0"]),
            helper.make_node("Add", ["logits0", "bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ],
        name="arma_intent",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", DIM])],
        outputs=[helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", len(labels)])],
        initializer=[
            numpy_helper.from_array(wq, "w_int8"),
            numpy_helper.from_array(scale.astype(np.float32), "w_scale"),
            numpy_helper.from_array(np.zeros(len(labels), dtype=np.int8), "w_zero"),
            numpy_helper.from_array(b.astype(np.float32), "bias"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="arma-hub"
    )
    model.ir_version = 8
    helper.set_model_props(
        model, {"labels": json.dumps(labels, ensure_ascii=False), "feature_dim": str(DIM)}
    )
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


@dataclass
class IntentModel:
    """An int8 ONNX intent model loaded in onnxruntime (one intra-op thread)."""

    model_bytes: bytes
    labels: list[str] = field(init=False)
    _session: ort.InferenceSession = field(init=False, repr=False)

    def __post_init__(self) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            self.model_bytes, sess_options=opts, providers=["CPUExecutionProvider"]
        )
        meta = self._session.get_modelmeta().custom_metadata_map
        self.labels = json.loads(meta["labels"])

    @staticmethod
    def load(path: str | Path) -> IntentModel:
        return IntentModel(Path(path).read_bytes())

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.model_bytes)

    def predict(self, batch: list[list[str]]) -> np.ndarray:
        """Class probabilities, shape (len(batch), len(labels))."""
        out = self._session.run(["probs"], {"features": featurize(batch)})[0]
        return np.asarray(out)

    def top(self, words: list[str]) -> tuple[str, float]:
        return self.top_of(words)

    def top_of(self, *views: list[str]) -> tuple[str, float]:
        """Best label and its probability, averaged over views of one sentence."""
        p = self.predict(list(views)).mean(axis=0)
        i = int(np.argmax(p))
        return self.labels[i], float(p[i])


def train_intent_model(examples: list[tuple[list[str], str]], seed: int = 0) -> IntentModel:
    """Train on (words, label) pairs; labels include NONE_LABEL for out-of-domain text."""
    labels = sorted({lab for _, lab in examples})
    index = {lab: i for i, lab in enumerate(labels)}
    rng = random.Random(seed)
    examples = list(examples)
    rng.shuffle(examples)
    x = featurize([w for w, _ in examples])
    y = np.array([index[lab] for _, lab in examples], dtype=np.int64)
    w, b = train_weights(x, y, len(labels), seed=seed)
    return IntentModel(export_int8(w, b, labels))
