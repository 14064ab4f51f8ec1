"""Numerical check of exported graphs against the numpy reference (:mod:`models.asr.reference`).

A fixed, speech-like probe (harmonics on a gliding pitch with syllable-rate envelope and a
little noise) goes through the ONNX encoder and three cached decoder steps and through the
reference; the figures go into the manifest and must stay within a tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from models.asr import reference
from models.asr.features import SAMPLE_RATE, encoder_input
from models.asr.weights import WhisperWeights, layer_names

PROMPT = (50258, 50259, 50359, 50363)  # <|startoftranscript|><|en|><|transcribe|><|notimestamps|>
NEXT_TOKENS = (634, 366)
FLOAT_TOLERANCE = {"cross_rel_err": 1e-3, "logprob_max_abs": 5e-3, "kl": 1e-4}
# int8 (dynamic activations) moves deep cross-attention keys by ~30 % on this probe while the
# next-token distribution stays close (KL ~0.15-0.35). The probe is a buzz, not speech: with
# the encoder adapter its top two tokens can sit within int8 noise of each other, so int8
# may lose the top token on one of the three steps; the KL bound carries the check.
INT8_TOLERANCE = {"cross_rel_err": 0.5, "logprob_max_abs": float("inf"), "kl": 0.5}
INT8_TOP1_MISSES = 1


class VerificationError(AssertionError):
    """An exported graph does not match the float reference."""


def probe_audio(seconds: float = 1.5, seed: int = 1234) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 130 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.1 * voiced * envelope + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _kl(p_log: np.ndarray, q_log: np.ndarray) -> float:
    p = np.exp(p_log.astype(np.float64))
    return float(np.sum(p * (p_log.astype(np.float64) - q_log.astype(np.float64))))


def compare(weights: WhisperWeights, encoder: Path, decoder: Path) -> dict[str, Any]:
    dims = weights.dims
    mel = encoder_input(probe_audio(), tail_seconds=0.0, n_mels=dims.n_mels)
    encoder_session = _session(encoder)
    names = [o.name for o in encoder_session.get_outputs()]
    cross = dict(zip(names, encoder_session.run(names, {"mel": mel[None]}), strict=True))
    features = reference.encode(weights, mel)
    errors = []
    for i in range(dims.n_decoder_layers):
        w_kv, b_kv = weights.linear(f"decoder/layer_{i}/attention/linear_1")
        kv = features @ w_kv + b_kv
        ref_k = kv[:, : dims.d_model].reshape(-1, dims.n_heads, dims.d_head).transpose(1, 2, 0)
        ref_v = kv[:, dims.d_model :].reshape(-1, dims.n_heads, dims.d_head).transpose(1, 0, 2)
        for got, ref in ((cross[f"cross_k_{i}"][0], ref_k), (cross[f"cross_v_{i}"][0], ref_v)):
            errors.append(float(np.abs(got - ref).mean() / np.abs(ref).mean()))
    decoder_session = _session(decoder)
    past_names = layer_names("past", dims.n_decoder_layers)
    outputs = ["logprobs", *layer_names("present", dims.n_decoder_layers)]
    past = [np.zeros((1, dims.n_heads, 0, dims.d_head), np.float32)] * len(past_names)
    sequence = list(PROMPT)
    feed: list[int] = list(PROMPT)
    max_abs, kls, top1 = 0.0, [], 0
    for step in range(len(NEXT_TOKENS) + 1):
        feeds = {"tokens": np.array([feed], np.int64), **cross}
        feeds.update(zip(past_names, past, strict=True))
        logprobs, *past = decoder_session.run(outputs, feeds)
        ref = reference.decode_logprobs(weights, features, sequence)
        likely = ref > -20  # compare where the model puts any mass
        max_abs = max(max_abs, float(np.abs(logprobs[0][likely] - ref[likely]).max()))
        kls.append(_kl(ref, logprobs[0]))
        top1 += int(np.argmax(ref) == np.argmax(logprobs[0]))
        if step < len(NEXT_TOKENS):
            feed = [NEXT_TOKENS[step]]
            sequence.append(NEXT_TOKENS[step])
    return {
        "probe_frames": int(mel.shape[1]),
        "cross_rel_err": round(max(errors), 6),
        "logprob_max_abs": round(max_abs, 6),
        "kl": round(max(kls), 6),
        "top1_agree": f"{top1}/{len(NEXT_TOKENS) + 1}",
    }


def require(
    figures: dict[str, Any], tolerance: dict[str, float], what: str, top1_misses: int = 0
) -> None:
    bad = {k: figures[k] for k, limit in tolerance.items() if not figures[k] <= limit}
    agree, total = figures["top1_agree"].split("/")
    if int(total) - int(agree) > top1_misses:
        bad["top1_agree"] = figures["top1_agree"]
    if bad:
        raise VerificationError(
            f"{what} differs from the numpy reference: {bad} (limits {tolerance})"
        )
