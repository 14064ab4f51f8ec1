"""Plain numpy forward pass of Whisper (float32, no cache) used to check the ONNX export.

Written straight from the architecture (pre-norm transformer, exact GELU, learned decoder
positions) and deliberately independent of the graph builder in :mod:`models.asr.export`:
it recomputes everything from the full token sequence on every call, with no KV cache.
"""

from __future__ import annotations

import math

import numpy as np

from models.asr.weights import WhisperWeights

_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:
    erf = np.asarray(_erf(x / math.sqrt(2.0)), dtype=np.float64)
    out: np.ndarray = (0.5 * x * (1.0 + erf)).astype(np.float32)
    return out


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + 1e-5) * gamma + beta
    return out


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    out: np.ndarray = e / e.sum(-1, keepdims=True)
    return out


def _conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """x (C_in, T), w (C_out, C_in, 3), padding 1."""
    padded = np.pad(x, ((0, 0), (1, 1)))
    t_out = (x.shape[1] + 2 - 3) // stride + 1
    out = np.zeros((w.shape[0], t_out), np.float32)
    for k in range(3):
        cols = padded[:, k : k + stride * (t_out - 1) + 1 : stride]
        out += w[:, :, k] @ cols
    result: np.ndarray = out + b[:, None]
    return result


def _attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, n_heads: int, causal: bool
) -> np.ndarray:
    tq, d = q.shape
    dh = d // n_heads
    out = np.zeros_like(q)
    for h in range(n_heads):
        sl = slice(h * dh, (h + 1) * dh)
        scores = q[:, sl] @ k[:, sl].T / math.sqrt(dh)
        if causal:
            scores = scores + np.triu(np.full((tq, k.shape[0]), -np.inf, np.float32), 1)
        out[:, sl] = _softmax(scores) @ v[:, sl]
    return out


def _lin(w: WhisperWeights, prefix: str, x: np.ndarray) -> np.ndarray:
    weight, bias = w.linear(prefix)
    out: np.ndarray = x @ weight + bias
    return out


def encode(w: WhisperWeights, mel: np.ndarray) -> np.ndarray:
    """mel (n_mels, T) with T even -> audio features (T/2, d_model)."""
    x = _gelu(_conv1d(mel, w.get("encoder/conv1/weight"), w.get("encoder/conv1/bias"), 1))
    x = _gelu(_conv1d(x, w.get("encoder/conv2/weight"), w.get("encoder/conv2/bias"), 2)).T
    x = x + w.get("encoder/position_encodings/encodings")[: x.shape[0]]
    d = w.dims.d_model
    for i in range(w.dims.n_encoder_layers):
        p = f"encoder/layer_{i}"
        h = _layer_norm(x, *w.norm(f"{p}/self_attention/layer_norm"))
        qkv = _lin(w, f"{p}/self_attention/linear_0", h)
        att = _attention(qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :], w.dims.n_heads, False)
        x = x + _lin(w, f"{p}/self_attention/linear_1", att)
        h = _layer_norm(x, *w.norm(f"{p}/ffn/layer_norm"))
        x = x + _lin(w, f"{p}/ffn/linear_1", _gelu(_lin(w, f"{p}/ffn/linear_0", h)))
    return _layer_norm(x, *w.norm("encoder/layer_norm"))


def decode_logprobs(w: WhisperWeights, features: np.ndarray, tokens: list[int]) -> np.ndarray:
    """Log-probabilities of the next token after ``tokens`` (vocab,)."""
    emb = w.get("decoder/embeddings/weight")
    x = emb[tokens] + w.get("decoder/position_encodings/encodings")[: len(tokens)]
    d = w.dims.d_model
    for i in range(w.dims.n_decoder_layers):
        p = f"decoder/layer_{i}"
        h = _layer_norm(x, *w.norm(f"{p}/self_attention/layer_norm"))
        qkv = _lin(w, f"{p}/self_attention/linear_0", h)
        att = _attention(qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :], w.dims.n_heads, True)
        x = x + _lin(w, f"{p}/self_attention/linear_1", att)
        h = _layer_norm(x, *w.norm(f"{p}/attention/layer_norm"))
        q = _lin(w, f"{p}/attention/linear_0", h)
        kv = _lin(w, f"{p}/attention/linear_1", features)
        att = _attention(q, kv[:, :d], kv[:, d:], w.dims.n_heads, False)
        x = x + _lin(w, f"{p}/attention/linear_2", att)
        h = _layer_norm(x, *w.norm(f"{p}/ffn/layer_norm"))
        x = x + _lin(w, f"{p}/ffn/linear_1", _gelu(_lin(w, f"{p}/ffn/linear_0", h)))
    x = _layer_norm(x, *w.norm("decoder/layer_norm"))
    logits = (x[-1] @ emb.T).astype(np.float64)
    shifted = logits - logits.max()
    logp: np.ndarray = (shifted - np.log(np.exp(shifted).sum())).astype(np.float32)
    return logp
