"""Synthesised customer requests for simulated devices (demo and tests): 16 kHz PCM16 of a text
from espeak-ng (Turkish, klatt voice: the clearest espeak-ng Turkish for Whisper here) or flite
(English), with 300 ms of silence either side as a released button leaves."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path


def speak(text: str, language: str, voice: str | None = None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        if language == "tr":
            cmd = ["espeak-ng", "-v", voice or "tr+klatt4", "-s", "130", "-w", str(raw), text]
        else:
            cmd = ["flite", "-voice", voice or "slt", "-t", text, "-o", str(raw)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), "pad", "0.3", "0.3"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        with wave.open(str(out)) as w:
            pcm: bytes = w.readframes(w.getnframes())
        return pcm
