"""Whisper weights taken from a CTranslate2 ``WhisperSpec``, in the layout the exporters use.

CTranslate2 stores linear weights as ``(out, in)`` and fuses projections (self-attention
Q|K|V, cross-attention K|V); this module names them once so the ONNX graphs and the numpy
reference read the same tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.asr.ct2 import CT2Model


class WhisperSpecError(ValueError):
    """The CTranslate2 model is not a Whisper model this exporter supports."""


@dataclass(frozen=True)
class WhisperDims:
    n_mels: int
    d_model: int
    n_heads: int
    n_encoder_layers: int
    n_decoder_layers: int
    vocab: int
    n_audio_ctx: int
    n_text_ctx: int

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def _count_layers(model: CT2Model, prefix: str) -> int:
    n = 0
    while any(k.startswith(f"{prefix}/layer_{n}/") for k in model.variables):
        n += 1
    return n


@dataclass(frozen=True)
class WhisperWeights:
    """Float32 views of the tensors with names local to this project."""

    dims: WhisperDims
    model: CT2Model

    @classmethod
    def from_ct2(cls, model: CT2Model) -> WhisperWeights:
        if model.spec != "WhisperSpec":
            raise WhisperSpecError(f"spec {model.spec!r} is not WhisperSpec")
        for flag, want in (("decoder/scale_embeddings", 0), ("decoder/pre_norm", 1)):
            if model.has(flag) and int(model.get(flag)) != want:
                raise WhisperSpecError(f"{flag} = {int(model.get(flag))}, expected {want}")
        conv1 = model.get("encoder/conv1/weight")
        emb = model.get("decoder/embeddings/weight")
        dims = WhisperDims(
            n_mels=conv1.shape[1],
            d_model=conv1.shape[0],
            n_heads=int(model.get("encoder/num_heads")),
            n_encoder_layers=_count_layers(model, "encoder"),
            n_decoder_layers=_count_layers(model, "decoder"),
            vocab=emb.shape[0],
            n_audio_ctx=model.get("encoder/position_encodings/encodings").shape[0],
            n_text_ctx=model.get("decoder/position_encodings/encodings").shape[0],
        )
        if dims.d_model % dims.n_heads:
            raise WhisperSpecError("d_model not divisible by the number of heads")
        return cls(dims=dims, model=model)

    def get(self, name: str) -> np.ndarray:
        return self.model.get(name)

    def linear(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        """(W as (in, out), bias) for a CTranslate2 linear layer."""
        weight = self.get(f"{prefix}/weight").T
        bias_name = f"{prefix}/bias"
        bias = (
            self.get(bias_name)
            if self.model.has(bias_name)
            else np.zeros(weight.shape[1], np.float32)
        )
        return np.ascontiguousarray(weight), bias

    def norm(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        return self.get(f"{prefix}/gamma"), self.get(f"{prefix}/beta")


def layer_names(prefix: str, layers: int) -> list[str]:
    """``prefix_k_0, prefix_v_0, prefix_k_1, ...``: the per-layer key/value tensors of the
    exported graphs (``past``, ``present``; ``cross`` names the encoder's outputs)."""
    return [f"{prefix}_{kv}_{i}" for i in range(layers) for kv in "kv"]
