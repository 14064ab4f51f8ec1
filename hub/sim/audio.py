"""Audio for simulated devices: 16 kHz mono PCM16 from a WAV file (or a synthetic utterance),
cut into 20 ms frames and encoded with the shared codec."""

from __future__ import annotations

import math
import wave
from collections.abc import Iterator
from pathlib import Path

from hub import wire

FRAME_MS = 20
FRAME_SAMPLES = wire.SAMPLE_RATE * FRAME_MS // 1000  # 320: even, as ADPCM blocks need
FRAME_BYTES = FRAME_SAMPLES * 2


class AudioFormatError(ValueError):
    """The WAV file is not 16 kHz mono 16-bit PCM."""


def load_wav(path: Path) -> bytes:
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (
                wire.SAMPLE_RATE,
                1,
                2,
            ):
                raise AudioFormatError(
                    f"{path}: need 16 kHz mono 16-bit, got {wav.getframerate()} Hz, "
                    f"{wav.getnchannels()} ch, {8 * wav.getsampwidth()} bit"
                )
            return wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: {exc}") from exc


def synthetic_utterance(seconds: float = 1.5) -> bytes:
    """A voiced-sounding test signal (harmonics with a syllable-rate envelope)."""
    n = int(seconds * wire.SAMPLE_RATE)
    out = bytearray(n * 2)
    for i in range(n):
        t = i / wire.SAMPLE_RATE
        envelope = 0.5 - 0.5 * math.cos(2 * math.pi * 4 * t)
        value = sum(math.sin(2 * math.pi * 140 * k * t) / k for k in (1, 2, 3, 5))
        sample = int(8000 * envelope * value / 2)
        out[2 * i : 2 * i + 2] = max(-32768, min(32767, sample)).to_bytes(2, "little", signed=True)
    return bytes(out)


def encode_frames(pcm: bytes, session: int, codec: int = wire.CODEC_ADPCM) -> Iterator[bytes]:
    """One encoded frame per 20 ms of `pcm` (last one zero-padded); START and END flagged."""
    if len(pcm) % 2:
        raise AudioFormatError("PCM16 needs whole samples")
    count = max(1, math.ceil(len(pcm) / FRAME_BYTES))
    state = wire.AdpcmState()
    for seq in range(count):
        chunk = pcm[seq * FRAME_BYTES : (seq + 1) * FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
        payload = wire.adpcm_encode_block(chunk, state) if codec == wire.CODEC_ADPCM else chunk
        flags = (wire.FLAG_START if seq == 0 else 0) | (wire.FLAG_END if seq == count - 1 else 0)
        yield wire.encode_frame(session, seq & 0xFFFF, codec, payload, flags)
