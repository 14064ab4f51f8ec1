"""Whisper's log-mel front end in numpy (no librosa/torch).

16 kHz audio -> 80 (or 128) log-mel bands: 400-point periodic Hann STFT, hop 160, centred with
reflect padding, power spectrum, Slaney-style mel filters (area normalised), log10 clamped to
8 decades below the maximum, scaled as ``(x + 4) / 4``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
FRAMES_PER_SECOND = SAMPLE_RATE // HOP
MAX_FRAMES = 3000  # Whisper's 30 s window


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    mel = f / f_sp
    high = f >= min_log_hz
    mel[high] = min_log_mel + np.log(f[high] / min_log_hz) / logstep
    return mel


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    f = m * f_sp
    high = m >= min_log_mel
    f[high] = min_log_hz * np.exp(logstep * (m[high] - min_log_mel))
    return f


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = 80) -> np.ndarray:
    """(n_mels, 1 + N_FFT // 2) triangular filters on the Slaney mel scale, area normalised."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(
        np.linspace(
            _hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([SAMPLE_RATE / 2]))[0], n_mels + 2
        )
    )
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights.astype(np.float32)


def log_mel(audio: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """float32 mono 16 kHz samples in [-1, 1] -> (n_mels, len(audio) // HOP) log-mel."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError("audio must be one channel (1-D)")
    if len(audio) < N_FFT:
        audio = np.pad(audio, (0, N_FFT - len(audio)))
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    spectrum = np.fft.rfft(padded[idx] * window, axis=1)
    power = (np.abs(spectrum[:-1]) ** 2).astype(np.float32)  # Whisper drops the last frame
    mel = mel_filters(n_mels) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    features: np.ndarray = ((log_spec + 4.0) / 4.0).astype(np.float32)
    return features


def encoder_input(
    audio: np.ndarray, tail_seconds: float = 1.0, n_mels: int = 80, min_seconds: float = 0.0
) -> np.ndarray:
    """Log-mel of the audio plus at least ``tail_seconds`` of digital silence (more when
    needed to make the window ``min_seconds`` long), cut to an even number of frames (at most
    30 s): the shortened window the variable-length encoder takes. Whisper was trained on
    speech followed by silence up to 30 s; a window barely longer than a one-word answer
    reads it worse ("help" as "yep"; docs/speech.md, "Encoder window")."""
    audio = np.asarray(audio, dtype=np.float32)
    tail_seconds = max(tail_seconds, min_seconds - audio.size / SAMPLE_RATE)
    max_samples = MAX_FRAMES * HOP - int(tail_seconds * SAMPLE_RATE)
    audio = audio[:max_samples]
    padded = np.concatenate([audio, np.zeros(int(tail_seconds * SAMPLE_RATE), np.float32)])
    mel = log_mel(padded, n_mels)
    frames = min(MAX_FRAMES, mel.shape[1] - mel.shape[1] % 2)
    return mel[:, :frames]
