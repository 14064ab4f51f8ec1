"""Noise for the evaluation: pink noise and babble (several synthetic talkers at once),
mixed into speech at a given signal-to-noise ratio."""

from __future__ import annotations

import numpy as np


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise by shaping white noise's spectrum, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return (pink / (np.sqrt(np.mean(pink**2)) + 1e-12)).astype(np.float32)


def babble(talkers: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Sum of talkers, each looped and started at a random offset, unit RMS."""
    if not talkers:
        raise ValueError("babble needs at least one talker")
    mix = np.zeros(n, np.float64)
    for talk in talkers:
        start = int(rng.integers(0, max(1, talk.size)))
        looped = np.tile(talk, n // max(1, talk.size) + 2)[start : start + n]
        mix += looped / (np.sqrt(np.mean(talk**2)) + 1e-12)
    return (mix / (np.sqrt(np.mean(mix**2)) + 1e-12)).astype(np.float32)


def active_rms(speech: np.ndarray, frame: int = 400) -> float:
    """RMS over the frames within 30 dB of the loudest (the speech, not its pauses)."""
    usable = speech[: speech.size - speech.size % frame].reshape(-1, frame)
    if usable.size == 0:
        return float(np.sqrt(np.mean(speech**2)) + 1e-12)
    energy = np.mean(usable.astype(np.float64) ** 2, axis=1)
    active = energy[energy >= energy.max() * 1e-3]
    return float(np.sqrt(active.mean()))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + noise scaled so that active-speech RMS / noise RMS = snr_db; peak-limited."""
    if noise.size < speech.size:
        raise ValueError("noise shorter than speech")
    noise = noise[: speech.size].astype(np.float64)
    gain = active_rms(speech) / (np.sqrt(np.mean(noise**2)) + 1e-12) / 10 ** (snr_db / 20)
    mixed = speech + gain * noise
    peak = np.abs(mixed).max()
    return (mixed / peak * 0.95 if peak > 0.99 else mixed).astype(np.float32)
