"""IMA-ADPCM round trip of the wire codec on synthesised speech: SNR and CPython cost per frame.

    .venv/bin/python benchmarks/adpcm_snr.py

Speech comes from espeak-ng (Turkish and English) and flite at 16 kHz; frames are 20 ms
(320 samples), each an independently decodable block, as devices send them.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from firmware.arma import proto

FRAME = 320
VOICES = [
    (
        "espeak-ng tr",
        [
            "espeak-ng",
            "-v",
            "tr",
            "-w",
            "{out}",
            "Yarın saat üçte saç kesimi için randevu almak istiyorum",
        ],
    ),
    (
        "espeak-ng en",
        ["espeak-ng", "-v", "en-us", "-w", "{out}", "Two bottles of the moisturiser, please"],
    ),
    (
        "flite slt",
        ["flite", "-voice", "slt", "-t", "Do you have the shampoo in stock?", "-o", "{out}"],
    ),
]


def load_16k(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    if rate != 16000:
        t = np.arange(0, len(pcm) / rate, 1 / 16000)
        pcm = np.interp(t, np.arange(len(pcm)) / rate, pcm)
    return np.clip(pcm, -32768, 32767).astype("<i2")


def main() -> None:
    print(f"{'voice':<14} {'seconds':>7} {'SNR dB':>7} {'enc us/frame':>13} {'dec us/frame':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in VOICES:
            out = Path(tmp) / "speech.wav"
            subprocess.run([c.format(out=out) for c in cmd], check=True, capture_output=True)
            pcm = load_16k(out)
            pcm = pcm[: len(pcm) - len(pcm) % FRAME]
            raw = pcm.tobytes()
            state = proto.AdpcmState()
            t0 = time.perf_counter()
            blocks = [
                proto.adpcm_encode_block(raw[i : i + FRAME * 2], state)
                for i in range(0, len(raw), FRAME * 2)
            ]
            t1 = time.perf_counter()
            decoded = b"".join(proto.adpcm_decode_block(b) for b in blocks)
            t2 = time.perf_counter()
            a = pcm.astype(np.float64)
            b = np.frombuffer(decoded, dtype="<i2").astype(np.float64)
            snr = 10 * np.log10(np.sum(a * a) / max(np.sum((a - b) ** 2), 1.0))
            n = len(blocks)
            enc_us, dec_us = (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6
            print(f"{name:<14} {len(pcm) / 16000:7.2f} {snr:7.1f} {enc_us:13.0f} {dec_us:13.0f}")


if __name__ == "__main__":
    main()
