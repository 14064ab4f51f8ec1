"""Log-mel front end: filter bank shape and placement, tone lands in the right band,
variable-length window, and audio/WAV helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.asr.audio import (
    AudioFormatError,
    float_to_pcm16,
    pcm16_to_float,
    read_wav,
    resample,
    write_wav,
)
from models.asr.features import SAMPLE_RATE, encoder_input, log_mel, mel_filters


def test_mel_filters_cover_the_spectrum_in_order() -> None:
    filters = mel_filters(80)
    assert filters.shape == (80, 201)
    peaks = filters.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0)  # centres rise with the band index
    assert np.all(filters.sum(axis=1) > 0)


def test_tone_energy_peaks_in_the_band_of_its_frequency() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for freq in (300.0, 1000.0, 3000.0):
        mel = log_mel((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32))
        band = int(mel[:, 10:-10].mean(axis=1).argmax())
        centre_hz = mel_filters(80)[band].argmax() * SAMPLE_RATE / 400
        assert abs(centre_hz - freq) / freq < 0.15, (freq, centre_hz)


def test_encoder_input_adds_a_second_and_keeps_frames_even() -> None:
    for seconds in (0.5, 1.23, 4.0):
        mel = encoder_input(np.zeros(int(seconds * SAMPLE_RATE), np.float32))
        assert mel.shape[0] == 80 and mel.shape[1] % 2 == 0
        assert abs(mel.shape[1] - (seconds + 1.0) * 100) <= 2
    assert encoder_input(np.zeros(40 * SAMPLE_RATE, np.float32)).shape[1] == 3000


def test_short_audio_is_padded_to_the_minimum_window_and_long_audio_keeps_its_tail() -> None:
    rng = np.random.default_rng(3)
    word = (0.3 * rng.standard_normal(int(0.8 * SAMPLE_RATE))).astype(np.float32)
    padded = encoder_input(word, 1.0, min_seconds=4.0)
    assert abs(padded.shape[1] - 400) <= 2  # 0.8 s of speech + 3.2 s of silence
    # the speech frames are those of the plain window; the added frames are silence
    plain = encoder_input(word, 1.0)
    assert np.allclose(padded[:, :70], plain[:, :70], atol=1e-5)
    assert padded[:, 200:].std() < 1e-6
    sentence = np.zeros(5 * SAMPLE_RATE, np.float32)
    assert abs(encoder_input(sentence, 1.0, min_seconds=4.0).shape[1] - 600) <= 2


def test_wav_round_trip_resampling_and_bad_input(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_wav(tmp_path / "a.wav", tone, rate=8000)
    back = read_wav(tmp_path / "a.wav")
    assert back.size == 16000
    spectrum = np.abs(np.fft.rfft(back))
    assert abs(spectrum.argmax() - 440) <= 1  # 1 s of audio: bin = Hz
    assert resample(tone, 8000, 8000).size == tone.size
    assert np.allclose(pcm16_to_float(float_to_pcm16(tone)), tone, atol=1e-4)
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(AudioFormatError):
        read_wav(tmp_path / "bad.wav")
    with pytest.raises(AudioFormatError):
        pcm16_to_float(b"\x00\x01\x02")
