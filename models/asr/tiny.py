"""A tiny random Whisper in CTranslate2's layout, for exercising the recipe in CI.

Same variable names, flags and vocabulary size as Whisper base (so the real tokenizer's ids
are valid), but d_model 64, 2 heads and one encoder and one decoder layer.
"""

from __future__ import annotations

import numpy as np

from models.asr.ct2 import CT2Model

TINY_D, TINY_HEADS, TINY_FFN, VOCAB, N_MELS = 64, 2, 128, 51865, 80


def tiny_ct2_model(rng: np.random.Generator, n_layers: int = 1) -> CT2Model:
    v: dict[str, np.ndarray] = {}

    def half(*shape: int, scale: float = 0.08) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float16)

    def norm(prefix: str) -> None:
        v[f"{prefix}/gamma"] = (1 + half(TINY_D, scale=0.05)).astype(np.float16)
        v[f"{prefix}/beta"] = half(TINY_D, scale=0.02)

    def linear(prefix: str, n_out: int, n_in: int) -> None:
        v[f"{prefix}/weight"] = half(n_out, n_in)
        v[f"{prefix}/bias"] = half(n_out, scale=0.02)

    def ffn(prefix: str) -> None:
        norm(f"{prefix}/ffn/layer_norm")
        linear(f"{prefix}/ffn/linear_0", TINY_FFN, TINY_D)
        linear(f"{prefix}/ffn/linear_1", TINY_D, TINY_FFN)

    v["encoder/conv1/weight"] = half(TINY_D, N_MELS, 3)
    v["encoder/conv1/bias"] = half(TINY_D)
    v["encoder/conv2/weight"] = half(TINY_D, TINY_D, 3)
    v["encoder/conv2/bias"] = half(TINY_D)
    v["encoder/position_encodings/encodings"] = half(1500, TINY_D, scale=0.1)
    v["encoder/num_heads"] = np.array(TINY_HEADS, np.int16)
    for i in range(n_layers):
        p = f"encoder/layer_{i}"
        norm(f"{p}/self_attention/layer_norm")
        linear(f"{p}/self_attention/linear_0", 3 * TINY_D, TINY_D)
        linear(f"{p}/self_attention/linear_1", TINY_D, TINY_D)
        ffn(p)
    norm("encoder/layer_norm")
    v["decoder/embeddings/weight"] = half(VOCAB, TINY_D, scale=0.2)
    v["decoder/position_encodings/encodings"] = half(448, TINY_D, scale=0.1)
    v["decoder/num_heads"] = np.array(TINY_HEADS, np.int16)
    v["decoder/scale_embeddings"] = np.array(0, np.int8)
    v["decoder/pre_norm"] = np.array(1, np.int8)
    for i in range(n_layers):
        p = f"decoder/layer_{i}"
        norm(f"{p}/self_attention/layer_norm")
        linear(f"{p}/self_attention/linear_0", 3 * TINY_D, TINY_D)
        linear(f"{p}/self_attention/linear_1", TINY_D, TINY_D)
        norm(f"{p}/attention/layer_norm")
        linear(f"{p}/attention/linear_0", TINY_D, TINY_D)
        linear(f"{p}/attention/linear_1", 2 * TINY_D, TINY_D)
        linear(f"{p}/attention/linear_2", TINY_D, TINY_D)
        ffn(p)
    norm("decoder/layer_norm")
    return CT2Model(
        spec="WhisperSpec",
        revision=3,
        variables=v,
        aliases={"decoder/projection/weight": "decoder/embeddings/weight"},
    )
