"""Whisper -> ONNX, written with ``onnx.helper`` from CTranslate2 weights (no torch).

Two graphs:

* ``encoder``: log-mel ``(B, n_mels, T)`` with any even ``T`` up to 3000 (the positional
  embedding is sliced to ``T/2``) -> the cross-attention keys ``cross_k_i (B, H, dh, T/2)``
  and values ``cross_v_i (B, H, T/2, dh)`` of every decoder layer ``i``, so the decoder
  never recomputes them.
* ``decoder``: one step with a self-attention KV cache. ``tokens (B, N)`` and the cache
  ``past_k_i`` / ``past_v_i (B, H, P, dh)`` -> ``logprobs (B, vocab)`` for the last
  position and ``present_k_i`` / ``present_v_i (B, H, P+N, dh)``. Cross K/V have batch 1:
  all B rows (beams) attend to the same audio, folded into one query axis. The token
  embedding is stored once, transposed ``(d, vocab)``: the output projection multiplies by
  it and the input lookup gathers its columns (see
  :func:`models.asr.quantize.tie_embedding`).

Every per-layer tensor is its own graph input/output, not a slice of one stacked tensor:
onnxruntime copies a slice taken inside the graph, and the decoder took 12 of them per
step (the audio K/V, constant for the whole search, and the cache), about 5 ms of an
11 ms step with 9 beams over 6 s of audio.
"""

from __future__ import annotations

import math

import onnx

from models.asr.graph import FLOAT, INT64, GraphBuilder
from models.asr.weights import WhisperWeights, layer_names

TIED_EMBEDDING = "token_embedding_t"
_BIG_NEGATIVE = -1e9


def _attention(
    g: GraphBuilder, q: str, k_t: str, v: str, d_head: int, *, mask: str | None = None
) -> str:
    """q (B,H,Tq,dh), k_t (B,H,dh,Tk), v (B,H,Tk,dh) -> (B,H,Tq,dh)."""
    scores = g.op("Mul", [g.op("MatMul", [q, k_t]), g.const(1.0 / math.sqrt(d_head))])
    if mask is not None:
        scores = g.op("Add", [scores, mask])
    return g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])


def _ffn(g: GraphBuilder, w: WhisperWeights, x: str, prefix: str, name: str) -> str:
    h = g.layer_norm(x, *w.norm(f"{prefix}/ffn/layer_norm"), f"{name}.ffn_ln")
    h = g.gelu(g.linear(h, *w.linear(f"{prefix}/ffn/linear_0"), f"{name}.fc1"))
    return g.op("Add", [x, g.linear(h, *w.linear(f"{prefix}/ffn/linear_1"), f"{name}.fc2")])


def build_encoder(w: WhisperWeights) -> onnx.ModelProto:
    dims = w.dims
    g = GraphBuilder("whisper_encoder")
    mel = g.add_input("mel", FLOAT, ["batch", dims.n_mels, "frames"])
    x = g.op(
        "Conv",
        [
            mel,
            g.weight("conv1.w", w.get("encoder/conv1/weight")),
            g.weight("conv1.b", w.get("encoder/conv1/bias")),
        ],
        pads=[1, 1],
        strides=[1],
    )
    x = g.op(
        "Conv",
        [
            g.gelu(x),
            g.weight("conv2.w", w.get("encoder/conv2/weight")),
            g.weight("conv2.b", w.get("encoder/conv2/bias")),
        ],
        pads=[1, 1],
        strides=[2],
    )
    x = g.op("Transpose", [g.gelu(x)], perm=[0, 2, 1])
    n_pos = g.op("Shape", [x], start=1, end=2)
    pos = g.op(
        "Slice",
        [
            g.weight("enc_pos", w.get("encoder/position_encodings/encodings")),
            g.const([0]),
            n_pos,
            g.const([0]),
        ],
    )
    x = g.op("Add", [x, pos])
    d, nh, dh = dims.d_model, dims.n_heads, dims.d_head
    for i in range(dims.n_encoder_layers):
        p, n = f"encoder/layer_{i}", f"enc{i}"
        h = g.layer_norm(x, *w.norm(f"{p}/self_attention/layer_norm"), f"{n}.attn_ln")
        qkv = g.linear(h, *w.linear(f"{p}/self_attention/linear_0"), f"{n}.qkv")
        q, k, v = g.op_multi("Split", [qkv, g.const([d, d, d])], 3, axis=-1)
        att = _attention(
            g,
            g.heads(q, nh, dh, (0, 2, 1, 3)),
            g.heads(k, nh, dh, (0, 2, 3, 1)),
            g.heads(v, nh, dh, (0, 2, 1, 3)),
            dh,
        )
        out = g.linear(g.merge_heads(att, d), *w.linear(f"{p}/self_attention/linear_1"), f"{n}.o")
        x = _ffn(g, w, g.op("Add", [x, out]), p, n)
    x = g.layer_norm(x, *w.norm("encoder/layer_norm"), "enc_ln")
    for i in range(dims.n_decoder_layers):
        kv = g.linear(x, *w.linear(f"decoder/layer_{i}/attention/linear_1"), f"dec{i}.cross_kv")
        k, v = g.op_multi("Split", [kv, g.const([d, d])], 2, axis=-1)
        g.add_output(
            f"cross_k_{i}", g.heads(k, nh, dh, (0, 2, 3, 1)), FLOAT, ["batch", nh, dh, "audio_ctx"]
        )
        g.add_output(
            f"cross_v_{i}", g.heads(v, nh, dh, (0, 2, 1, 3)), FLOAT, ["batch", nh, "audio_ctx", dh]
        )
    return g.model()


def build_decoder(w: WhisperWeights) -> onnx.ModelProto:
    dims = w.dims
    d, nh, dh, layers = dims.d_model, dims.n_heads, dims.d_head, dims.n_decoder_layers
    g = GraphBuilder("whisper_decoder_step")
    tokens = g.add_input("tokens", INT64, ["batch", "new"])
    past = [g.add_input(n, FLOAT, ["batch", nh, "past", dh]) for n in layer_names("past", layers)]
    cross_k = [g.add_input(f"cross_k_{i}", FLOAT, [1, nh, dh, "audio_ctx"]) for i in range(layers)]
    cross_v = [g.add_input(f"cross_v_{i}", FLOAT, [1, nh, "audio_ctx", dh]) for i in range(layers)]

    emb_t = g.weight(TIED_EMBEDDING, w.get("decoder/embeddings/weight").T.copy())
    x = g.op("Transpose", [g.op("Gather", [emb_t, tokens], axis=1)], perm=[1, 2, 0])
    n_past = g.op("Shape", [past[0]], start=2, end=3)
    n_new = g.op("Shape", [tokens], start=1, end=2)
    n_total = g.op("Add", [n_past, n_new])
    pos = g.op(
        "Slice",
        [
            g.weight("dec_pos", w.get("decoder/position_encodings/encodings")),
            n_past,
            n_total,
            g.const([0]),
        ],
    )
    x = g.op("Add", [x, pos])
    # causal mask (N, P+N): query i (absolute P+i) may see keys j <= P+i
    scalar = g.const([])  # shape [] for Reshape to a scalar
    rows = g.op(
        "Range", [g.op("Reshape", [n_past, scalar]), g.op("Reshape", [n_total, scalar]), g.const(1)]
    )
    cols = g.op("Range", [g.const(0), g.op("Reshape", [n_total, scalar]), g.const(1)])
    future = g.op(
        "Greater",
        [g.op("Unsqueeze", [cols, g.const([0])]), g.op("Unsqueeze", [rows, g.const([1])])],
    )
    mask = g.op("Where", [future, g.const(_BIG_NEGATIVE), g.const(0.0)])

    presents = layer_names("present", layers)
    for i in range(layers):
        p, n = f"decoder/layer_{i}", f"dec{i}"
        h = g.layer_norm(x, *w.norm(f"{p}/self_attention/layer_norm"), f"{n}.attn_ln")
        qkv = g.linear(h, *w.linear(f"{p}/self_attention/linear_0"), f"{n}.qkv")
        q, k, v = g.op_multi("Split", [qkv, g.const([d, d, d])], 3, axis=-1)
        k_all = g.op("Concat", [past[2 * i], g.heads(k, nh, dh, (0, 2, 1, 3))], axis=2)
        v_all = g.op("Concat", [past[2 * i + 1], g.heads(v, nh, dh, (0, 2, 1, 3))], axis=2)
        for name, value in ((presents[2 * i], k_all), (presents[2 * i + 1], v_all)):
            g.add_output(name, value, FLOAT, ["batch", nh, "total", dh])
        att = _attention(
            g,
            g.heads(q, nh, dh, (0, 2, 1, 3)),
            g.op("Transpose", [k_all], perm=[0, 1, 3, 2]),
            v_all,
            dh,
            mask=mask,
        )
        out = g.linear(g.merge_heads(att, d), *w.linear(f"{p}/self_attention/linear_1"), f"{n}.o")
        x = g.op("Add", [x, out])

        h = g.layer_norm(x, *w.norm(f"{p}/attention/layer_norm"), f"{n}.cross_ln")
        cq = g.linear(h, *w.linear(f"{p}/attention/linear_0"), f"{n}.cross_q")
        # every beam attends to the same audio: fold the beams into the query axis,
        # (B, N, D) -> (1, H, B*N, dh), so one product against the batch-1 keys serves
        # them all (broadcasting B copies of the keys cost time and memory per step)
        folded = g.op(
            "Transpose", [g.op("Reshape", [cq, g.const([1, -1, nh, dh])])], perm=[0, 2, 1, 3]
        )
        att = _attention(
            g,
            folded,
            cross_k[i],
            cross_v[i],
            dh,
        )
        unfolded = g.op(
            "Reshape",
            [g.op("Transpose", [att], perm=[0, 2, 1, 3]), g.op("Shape", [h])],
        )
        out = g.linear(unfolded, *w.linear(f"{p}/attention/linear_2"), f"{n}.cross_o")
        x = _ffn(g, w, g.op("Add", [x, out]), p, n)
    x = g.layer_norm(x, *w.norm("decoder/layer_norm"), "dec_ln")
    last = g.op(
        "Squeeze", [g.op("Slice", [x, g.const([-1]), g.const([2**62]), g.const([1])]), g.const([1])]
    )
    logits = g.op("MatMul", [last, emb_t])
    g.add_output("logprobs", g.op("LogSoftmax", [logits], axis=-1), FLOAT, ["batch", dims.vocab])
    return g.model()
