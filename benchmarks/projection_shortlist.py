"""What a shortlist for the decoder's output projection would save (a design measured and
not adopted; docs/benchmarks.md, "End of speech -> intent").

    .venv/bin/python -m benchmarks.projection_shortlist

From the built int8 decoder it makes (in memory) a decoder that returns the hidden state
instead of log-probabilities, and a projection graph onto the first K columns of the tied
int8 embedding (same scale, same int8 kernel). For the row counts of a search (1, the
9-row beam, the 25-row opening) it times the shipped step against hidden step + projection,
alternating, and checks that with K = the whole vocabulary the split gives the same
log-probabilities. It also prints how much of the corpus grammar's Turkish and English
text the first K token ids cover.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from benchmarks.decoder_step import feeds_for
from models.adapt.corpus import sentences
from models.asr.build import ensure_built
from models.asr.decoder import make_session
from models.asr.export import TIED_EMBEDDING
from models.asr.tokens import WhisperTokenizer
from models.asr.weights import layer_names

ROWS_PAST = ((1, 10), (9, 20), (25, 3))
SHORTLISTS = (16384, 8192)
FRAMES = 300  # 5 s of audio + 1 s tail


def hidden_decoder(model: onnx.ModelProto) -> tuple[bytes, str, np.ndarray]:
    """The decoder cut before its output projection (serialised), its hidden output's
    name, and the int8 embedding (d, vocab) that the projection multiplies by."""
    graph = model.graph
    projection = next(
        n for n in graph.node if f"{TIED_EMBEDDING}_quantized" in n.input and n.op_type != "Gather"
    )
    quantize = next(
        n
        for n in graph.node
        if n.op_type == "DynamicQuantizeLinear" and n.output[0] in projection.input
    )
    hidden = quantize.input[0]
    presents = [o for o in graph.output if o.name.startswith("present_")]
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info(hidden, TensorProto.FLOAT, None), *presents])
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inits = {i.name: i for i in graph.initializer}
    weights = numpy_helper.to_array(inits[f"{TIED_EMBEDDING}_quantized"])
    return model.SerializeToString(), hidden, weights


def projection(
    weights: np.ndarray, scale: np.ndarray, zero: np.ndarray, k: int
) -> ort.InferenceSession:
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["h"], ["hq", "hs", "hz"]),
        helper.make_node("MatMulInteger", ["hq", "w", "hz", "wz"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hs", "ws"], ["s"]),
        helper.make_node("Mul", ["accf", "s"], ["logits"]),
        helper.make_node("LogSoftmax", ["logits"], ["logprobs"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "projection",
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["rows", weights.shape[0]])],
        [helper.make_tensor_value_info("logprobs", TensorProto.FLOAT, ["rows", k])],
        [
            numpy_helper.from_array(np.ascontiguousarray(weights[:, :k]), "w"),
            numpy_helper.from_array(scale, "ws"),
            numpy_helper.from_array(zero, "wz"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])


def main() -> None:
    built = ensure_built()
    model = onnx.load(built.decoder)
    inits = {i.name: i for i in model.graph.initializer}
    scale = numpy_helper.to_array(inits[f"{TIED_EMBEDDING}_scale"])
    zero = numpy_helper.to_array(inits[f"{TIED_EMBEDDING}_zero_point"])
    cut, hidden, weights = hidden_decoder(model)
    shipped = make_session(built.decoder, 1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    split = ort.InferenceSession(cut, options, ["CPUExecutionProvider"])
    layers = sum(i.name.startswith("past_k_") for i in shipped.get_inputs())
    presents = layer_names("present", layers)
    vocab = weights.shape[1]
    full = projection(weights, scale, zero, vocab)
    for rows, past in ROWS_PAST:
        feeds = feeds_for(shipped, rows, past, FRAMES)
        reference = shipped.run(["logprobs"], feeds)[0]
        h = split.run([hidden], feeds)[0].reshape(rows, -1)
        diff = float(np.abs(full.run(["logprobs"], {"h": h})[0] - reference).max())
        print(f"{rows} rows, {past} cached tokens: split with K = {vocab}: max |d log p| {diff}")
        for k in SHORTLISTS:
            shortlist = projection(weights, scale, zero, k)
            times: dict[str, list[float]] = {"shipped": [], "split": []}
            for _ in range(40):
                t0 = time.perf_counter()
                shipped.run(["logprobs", *presents], feeds)
                t1 = time.perf_counter()
                h = split.run([hidden, *presents], feeds)[0].reshape(rows, -1)
                shortlist.run(["logprobs"], {"h": h})
                t2 = time.perf_counter()
                times["shipped"].append((t1 - t0) * 1000)
                times["split"].append((t2 - t1) * 1000)
            a, b = statistics.median(times["shipped"]), statistics.median(times["split"])
            print(f"  K = {k}: step {a:.2f} ms -> {b:.2f} ms (saves {a - b:.2f} ms)")
    tokenizer = WhisperTokenizer.load(built.directory / "tokenizer.json")
    for language in ("tr", "en"):
        ids = np.array([t for s in sentences(language, 2000, 1) for t in tokenizer.encode(" " + s)])
        cover = ", ".join(f"{(ids < k).mean():.0%} below {k}" for k in SHORTLISTS)
        print(f"{language}: {ids.size} tokens of 2,000 corpus sentences: {cover}")


if __name__ == "__main__":
    main()
