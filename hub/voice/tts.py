"""Text to speech for spoken replies, behind one small interface.

`Synthesizer.synthesize(text, language)` yields 16 kHz mono PCM16 chunks sentence by sentence,
so the first sentence can be on its way to the device while the next is still being made.
espeak-ng is the default voice (the only Turkish voice these machines have; see docs/voice.md);
flite is the lighter English alternative. `CachedSynthesizer` keeps repeated prompts
("Saat kaçta?") in memory so they cost nothing the second time.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from models.asr.audio import AudioFormatError, float_to_pcm16, read_wav


class SynthesisError(RuntimeError):
    """The speech engine failed or is missing."""


class Synthesizer(Protocol):
    def synthesize(self, text: str, language: str) -> Iterator[bytes]: ...


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE.split(text)) if s]


def wav_to_pcm16k(data: bytes) -> bytes:
    """A speech engine's WAV output -> 16 kHz PCM16LE, through the speech engine's own reader
    (any PCM width, rate and channel count; band-limited resampling)."""
    try:
        return float_to_pcm16(read_wav(io.BytesIO(data)))
    except AudioFormatError as exc:
        raise SynthesisError(f"speech engine returned no valid WAV: {exc}") from exc


@dataclass(frozen=True)
class EspeakSynthesizer:
    """espeak-ng voices per language; slower speech (`speed`) is clearer on a small speaker."""

    voices: tuple[tuple[str, str], ...] = (("tr", "tr+f3"), ("en", "en-us+f3"))
    speed: int = 150
    binary: str = "espeak-ng"
    timeout_s: float = 10.0

    def synthesize(self, text: str, language: str) -> Iterator[bytes]:
        voice = dict(self.voices).get(language)
        if voice is None:
            raise SynthesisError(f"no voice for language {language!r}")
        for sentence in split_sentences(text):
            cmd = [self.binary, "-v", voice, "-s", str(self.speed), "--stdout", sentence]
            yield wav_to_pcm16k(_run(cmd, self.timeout_s))


@dataclass(frozen=True)
class FliteSynthesizer:
    """flite (English only): small, permissive licence, clearer than espeak-ng's English."""

    voice: str = "slt"
    binary: str = "flite"
    timeout_s: float = 10.0

    def synthesize(self, text: str, language: str) -> Iterator[bytes]:
        if language != "en":
            raise SynthesisError("flite speaks English only")
        for sentence in split_sentences(text):
            yield wav_to_pcm16k(
                _run(
                    [self.binary, "-voice", self.voice, "-t", sentence, "-o", "/dev/stdout"],
                    self.timeout_s,
                )
            )


def _run(cmd: list[str], timeout_s: float) -> bytes:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SynthesisError(f"{cmd[0]} failed: {exc}") from exc
    if proc.returncode != 0 or not proc.stdout:
        raise SynthesisError(f"{cmd[0]} exited {proc.returncode}: {proc.stderr[:200]!r}")
    return proc.stdout


class CachedSynthesizer:
    """Memoises whole utterances per (language, text), up to `max_bytes` of audio (LRU)."""

    def __init__(self, inner: Synthesizer, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[tuple[str, str], tuple[bytes, ...]] = OrderedDict()
        self._bytes = 0

    def synthesize(self, text: str, language: str) -> Iterator[bytes]:
        key = (language, text)
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            yield from cached
            return
        self.misses += 1
        chunks: list[bytes] = []
        for chunk in self.inner.synthesize(text, language):
            chunks.append(chunk)
            yield chunk
        self._store(key, tuple(chunks))

    def _store(self, key: tuple[str, str], chunks: tuple[bytes, ...]) -> None:
        size = sum(len(c) for c in chunks)
        if size > self.max_bytes:
            return
        self._cache[key] = chunks
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, old = self._cache.popitem(last=False)
            self._bytes -= sum(len(c) for c in old)
