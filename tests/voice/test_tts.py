"""Spoken replies with the real espeak-ng and flite binaries."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from hub.voice.tts import (
    CachedSynthesizer,
    EspeakSynthesizer,
    FliteSynthesizer,
    SynthesisError,
    split_sentences,
)


def _rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x * x)))


def test_espeak_turkish_reply_comes_sentence_by_sentence_at_16k() -> None:
    chunks = list(EspeakSynthesizer().synthesize("Saat kaçta? Toplam 900 lira.", "tr"))
    assert len(chunks) == 2
    for chunk in chunks:
        seconds = len(chunk) / 2 / 16000
        assert 0.4 < seconds < 5 and _rms(chunk) > 300  # real speech, not silence


def test_flite_english_reply() -> None:
    (chunk,) = FliteSynthesizer().synthesize("Your order is placed.", "en")
    assert 0.5 < len(chunk) / 32000 < 4 and _rms(chunk) > 300


def test_cache_serves_repeated_prompts_without_the_engine() -> None:
    calls: list[str] = []

    class Counting:
        def synthesize(self, text: str, language: str) -> Iterator[bytes]:
            calls.append(text)
            yield from EspeakSynthesizer().synthesize(text, language)

    tts = CachedSynthesizer(Counting())
    first = b"".join(tts.synthesize("What time?", "en"))
    second = b"".join(tts.synthesize("What time?", "en"))
    assert first == second and calls == ["What time?"] and tts.hits == 1


def test_cache_evicts_oldest_beyond_its_budget() -> None:
    class Fixed:
        def synthesize(self, text: str, language: str) -> Iterator[bytes]:
            yield bytes(1000)

    tts = CachedSynthesizer(Fixed(), max_bytes=2500)
    for text in ("a", "b", "c"):
        list(tts.synthesize(text, "en"))
    list(tts.synthesize("a", "en"))
    assert tts.hits == 0 and tts.misses == 4  # "a" was evicted when "c" came in


def test_errors_are_typed() -> None:
    with pytest.raises(SynthesisError):
        list(EspeakSynthesizer().synthesize("hello", "de"))
    with pytest.raises(SynthesisError):
        list(EspeakSynthesizer(binary="/nonexistent/espeak").synthesize("hello", "en"))
    with pytest.raises(SynthesisError):
        list(FliteSynthesizer().synthesize("merhaba", "tr"))


def test_sentence_split() -> None:
    assert split_sentences("Saat kaçta?  Yarın olur mu. Tamam!") == [
        "Saat kaçta?",
        "Yarın olur mu.",
        "Tamam!",
    ]
