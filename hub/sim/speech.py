"""Synthesised customer requests for simulated devices (demo and tests): 16 kHz PCM16 of a text
from espeak-ng (Turkish, klatt voice: the clearest espeak-ng Turkish for Whisper here) or flite
(English), with 300 ms of silence either side as a released button leaves. The synthesis is
the evaluation's (`models.eval.synth`)."""

from __future__ import annotations

import numpy as np

from models.asr.audio import float_to_pcm16
from models.asr.features import SAMPLE_RATE
from models.eval.synth import Voice, synthesize

TURKISH_RATE = 130 / 175  # 130 words a minute against espeak-ng's 175


def speak(text: str, language: str, voice: str | None = None) -> bytes:
    if language == "tr":
        spoken = Voice("espeak", voice or "tr+klatt4", "tr", TURKISH_RATE)
    else:
        spoken = Voice("flite", voice or "slt", "en", pitch=0)  # flite's own pitch
    pad = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    return float_to_pcm16(np.concatenate([pad, synthesize(text, spoken), pad]))
