"""WAV input and PCM conversions for the speech engine (16 kHz mono float32 inside)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import IO

import numpy as np

from models.asr.features import SAMPLE_RATE


class AudioFormatError(ValueError):
    """The audio cannot be read as PCM WAV."""


def pcm16_to_float(data: bytes) -> np.ndarray:
    if len(data) % 2:
        raise AudioFormatError("PCM16 data has an odd number of bytes")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> bytes:
    clipped = np.clip(np.asarray(samples, np.float32), -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()


def loud_frames(audio: np.ndarray, floor_db: float, frame: int = 320) -> np.ndarray:
    """Indices of the ``frame``-sample frames (20 ms) whose energy is within ``floor_db``
    of the loudest frame's: a VAD-free view of where the voice is."""
    usable = np.asarray(audio)[: audio.size - audio.size % frame].reshape(-1, frame)
    if usable.size == 0:
        return np.zeros(0, np.int64)
    energy = np.mean(usable.astype(np.float64) ** 2, axis=1)
    return np.flatnonzero(energy >= energy.max() * 10 ** (-floor_db / 10))


def resample(samples: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling by zero-padding/truncating the spectrum (whole signal)."""
    if src_rate == dst_rate or len(samples) == 0:
        return samples.astype(np.float32)
    n_out = round(len(samples) * dst_rate / src_rate)
    spectrum = np.fft.rfft(samples)
    keep = min(len(spectrum), n_out // 2 + 1)
    out_spec = np.zeros(n_out // 2 + 1, dtype=complex)
    out_spec[:keep] = spectrum[:keep]
    return (np.fft.irfft(out_spec, n_out) * (n_out / len(samples))).astype(np.float32)


def read_wav(path: Path | IO[bytes]) -> np.ndarray:
    """PCM WAV (8/16/32-bit, any rate, mono or stereo; a file or an open binary stream) ->
    16 kHz mono float32."""
    try:
        with wave.open(str(path) if isinstance(path, Path) else path, "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        name = path if isinstance(path, Path) else "audio stream"
        raise AudioFormatError(f"{name}: not a PCM WAV file ({exc})") from exc
    if width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 4:
        samples = np.frombuffer(raw, "<i4").astype(np.float32) / 2**31
    elif width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        raise AudioFormatError(f"{path}: unsupported sample width {width}")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return resample(samples, rate)


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(float_to_pcm16(samples))
