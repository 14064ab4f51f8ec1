"""One decoder step of two speech-model builds, interleaved in one process.

    .venv/bin/python benchmarks/decoder_step.py OLD_MODEL_DIR [NEW_MODEL_DIR]

Times ``decoder.int8.onnx`` of each build on the same random inputs (beam rows, cached
tokens, audio frames as in a 5 s request), alternating between the builds every step so
that the shared machine's slow and fast moments fall on both alike. Handles both graph
layouts: per-layer ``past_k_i``/``cross_k_i`` inputs (since the fifth session) and the
older stacked ``past_kv``/``cross_k``/``cross_v``. Prints the median step time of each and
the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.asr.build import ensure_built
from models.asr.decoder import make_session


def feeds_for(
    session: ort.InferenceSession, rows: int, past: int, frames: int
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    sizes = {"batch": rows, "past": past, "audio_ctx": frames}  # the graph's named axes
    feeds: dict[str, np.ndarray] = {"tokens": np.full((rows, 1), 440, np.int64)}
    for item in session.get_inputs():
        if item.name == "tokens":
            continue
        shape = [sizes[dim] if isinstance(dim, str) else dim for dim in item.shape]
        feeds[item.name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
    return feeds


def median_steps(
    sessions: dict[str, ort.InferenceSession], rows: int, past: int, steps: int
) -> dict[str, float]:
    """Median milliseconds of one step of each session (300 audio frames), the sessions
    taking turns step by step so the machine's slow moments fall on all alike."""
    feeds = {k: feeds_for(s, rows, past, 300) for k, s in sessions.items()}
    for name, session in sessions.items():  # warm-up
        session.run(None, feeds[name])
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(steps):
        for name, session in sessions.items():
            t0 = time.perf_counter()
            session.run(None, feeds[name])
            times[name].append((time.perf_counter() - t0) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old", type=Path, help="model directory of the build to compare")
    parser.add_argument("new", type=Path, nargs="?", help="default: the current build")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    new_dir = args.new or ensure_built().directory
    sessions = {
        "old": make_session(args.old / "decoder.int8.onnx", 1),
        "new": make_session(new_dir / "decoder.int8.onnx", 1),
    }
    for rows, past in ((9, 20), (25, 3), (33, 60)):
        medians = median_steps(sessions, rows, past, args.steps)
        old, new = medians["old"], medians["new"]
        print(
            f"{rows} rows, {past} cached tokens, 300 audio frames: old {old:.2f} ms, "
            f"new {new:.2f} ms per step, new/old {new / old:.2f}"
        )


if __name__ == "__main__":
    main()
