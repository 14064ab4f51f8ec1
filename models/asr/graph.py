"""A very small helper for writing ONNX graphs by hand with ``onnx.helper`` (no torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18


class GraphBuilder:
    """Collects nodes and initializers; ``op`` returns the output name(s)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._counter = 0
        self._consts: dict[tuple[str, bytes], str] = {}

    def _fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def weight(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def const(self, value: Sequence[int] | Sequence[float] | np.ndarray | int | float) -> str:
        """A small constant (int64 for ints, float32 for floats), deduplicated."""
        arr = np.asarray(value)
        is_int = arr.dtype.kind in "iu" or arr.size == 0
        arr = arr.astype(np.int64 if is_int else np.float32)
        key = (arr.dtype.str + str(arr.shape), arr.tobytes())
        if key not in self._consts:
            self._consts[key] = self.weight(self._fresh("const"), arr)
        return self._consts[key]

    def op(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        return self.op_multi(op_type, inputs, 1, **attrs)[0]

    def op_multi(self, op_type: str, inputs: Sequence[str], n_out: int, **attrs: Any) -> list[str]:
        outs = [self._fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs

    def add_input(self, name: str, elem: int, shape: Sequence[int | str]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, list(shape)))
        return name

    def add_output(self, name: str, source: str, elem: int, shape: Sequence[int | str]) -> None:
        self.nodes.append(helper.make_node("Identity", [source], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, elem, list(shape)))

    # ---- composite layers -------------------------------------------------------------
    def linear(self, x: str, w: np.ndarray, b: np.ndarray | None, name: str) -> str:
        y = self.op("MatMul", [x, self.weight(f"{name}.w", w)])
        if b is not None and np.any(b):
            y = self.op("Add", [y, self.weight(f"{name}.b", b)])
        return y

    def layer_norm(self, x: str, gamma: np.ndarray, beta: np.ndarray, name: str) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.weight(f"{name}.g", gamma), self.weight(f"{name}.b", beta)],
            axis=-1,
            epsilon=1e-5,
        )

    def gelu(self, x: str) -> str:
        """Exact GELU via Erf (onnxruntime fuses the pattern)."""
        scaled = self.op("Div", [x, self.const(math.sqrt(2.0))])
        one_plus = self.op("Add", [self.op("Erf", [scaled]), self.const(1.0)])
        return self.op("Mul", [self.op("Mul", [x, one_plus]), self.const(0.5)])

    def heads(self, x: str, n_heads: int, d_head: int, perm: Sequence[int]) -> str:
        """(B, T, D) -> (B, H, T, dh) with perm (0,2,1,3) or (B, H, dh, T) with (0,2,3,1)."""
        r = self.op("Reshape", [x, self.const([0, -1, n_heads, d_head])])
        return self.op("Transpose", [r], perm=list(perm))

    def merge_heads(self, x: str, d_model: int) -> str:
        t = self.op("Transpose", [x], perm=[0, 2, 1, 3])
        return self.op("Reshape", [t, self.const([0, -1, d_model])])

    def model(self) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, initializer=self.initializers
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="arma-models"
        )
        model.ir_version = 9
        onnx.checker.check_model(model, full_check=False)
        return model


FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
