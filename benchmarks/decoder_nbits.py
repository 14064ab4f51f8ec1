"""Block-wise 4- and 8-bit weights (onnxruntime's MatMulNBits) for the decoder against the
shipped int8 decoder (a design measured and not adopted; docs/benchmarks.md, "End of speech
-> intent").

    .venv/bin/python -m benchmarks.decoder_nbits [--steps 60]

A decoder step reads all of its ~48 MB of int8 weights, so fewer bits per weight should help
where a step is bound by memory bandwidth. This exports the float decoder from the source
packages (as the recipe does), quantises every MatMul with a weight (the 36 of the layers and
the output projection) with `MatMulNBitsQuantizer` (symmetric, int8 compute: accuracy level
4) and times one step of each against the shipped decoder for the row counts of a search
(1, the 9-row beam, the 25-row opening, the 33-row retry), alternating step by step. Only
speed is measured: the float embedding stays in these graphs for the lookup, so their size
says nothing, and their accuracy was never checked, because they are not faster.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import onnx
import onnxruntime as ort
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

from benchmarks.decoder_step import median_steps
from models.asr import export
from models.asr.build import ensure_built
from models.asr.ct2 import read_model_bin
from models.asr.decoder import make_session
from models.asr.source import assemble
from models.asr.weights import WhisperWeights

VARIANTS = ((4, 32), (4, 128), (8, 128))  # (bits, block size)
SHAPES = ((1, 20), (9, 20), (25, 3), (33, 60))  # (rows, cached tokens); 300 audio frames


def nbits_decoders(work: Path) -> dict[str, Path]:
    files = assemble(work / "src")
    weights = WhisperWeights.from_ct2(read_model_bin(files["model.bin"]))
    float_path = work / "decoder.float.onnx"
    onnx.save(export.build_decoder(weights), float_path)
    out = {}
    for bits, block in VARIANTS:
        quantizer = MatMulNBitsQuantizer(
            onnx.load(float_path), bits=bits, block_size=block, is_symmetric=True, accuracy_level=4
        )
        quantizer.process()
        path = work / f"decoder.q{bits}b{block}.onnx"
        quantizer.model.save_model_to_file(str(path), use_external_data_format=False)
        out[f"{bits}-bit/{block}"] = path
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arma-nbits-") as tmp:
        paths = {"int8 (shipped)": ensure_built().decoder, **nbits_decoders(Path(tmp))}
        sessions: dict[str, ort.InferenceSession] = {
            name: make_session(path, 1) for name, path in paths.items()
        }
        for rows, past in SHAPES:
            medians = median_steps(sessions, rows, past, args.steps)
            base = medians["int8 (shipped)"]
            cells = ", ".join(f"{k} {v:.2f} ms ({v / base:.2f}x)" for k, v in medians.items())
            print(f"{rows} rows, {past} cached tokens: {cells}", flush=True)


if __name__ == "__main__":
    main()
