"""The speech engine the hub uses: audio stream -> endpoint -> words -> intent and slots.

    engine = Engine("models/domains/salon.tr.yaml", threads=1)
    session = engine.new_session()
    for chunk in pcm16_chunks:                    # any size, 16 kHz mono little-endian
        event = session.feed(chunk)
        if event and event.kind is EndpointKind.UTTERANCE_ENDED:
            print(event.result)                   # Result(text, intent, slots, confidence, timings)
    engine.recognize(samples_float32_16k)         # one shot, no VAD gating

Blocking by design (onnxruntime on the calling thread); the hub calls it from a worker
thread. A session decodes speculatively as soon as the endpointer sees the speech stop, so
that when the silence is long enough to end the utterance the result is usually ready; when
that result is already a complete command the domain accepts, the utterance ends after
``EndpointConfig.confident_end_ms`` of silence instead of the full ``end_silence_ms``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models.asr.audio import pcm16_to_float
from models.asr.features import SAMPLE_RATE
from models.asr.recognizer import Recognizer, Transcript
from models.asr.tokens import TokenAutomaton, WordGraphLike
from models.vad import EndpointConfig, Endpointer, EndpointKind, SileroVad, speech_seconds

log = logging.getLogger(__name__)


class UnderstandingLike(Protocol):
    intent: str | None
    slots: dict[str, str]
    confidence: float


class CompiledDomainLike(Protocol):
    @property
    def language(self) -> str: ...

    @property
    def word_graph(self) -> WordGraphLike: ...

    def focused_graph(self, intents: Iterable[str]) -> WordGraphLike: ...

    def understand(self, text: str, now: datetime) -> Any: ...


@dataclass(frozen=True)
class Result:
    text: str
    intent: str | None  # None = not recognised
    slots: dict[str, str]
    confidence: float
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds
    margin: float = float("-inf")  # nats/token the constrained path trails the free reading

    @property
    def recognised(self) -> bool:
        return self.intent is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "slots": dict(self.slots),
            "confidence": round(self.confidence, 4),
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class EndpointEvent:
    kind: EndpointKind
    result: Result | None = None  # set when the utterance ended (or no speech came)
    reason: str = ""


def load_compiled(domain: str | Path | CompiledDomainLike) -> CompiledDomainLike:
    if isinstance(domain, str | Path):
        from models.domain import compile_domain, load_domain

        compiled: CompiledDomainLike = compile_domain(load_domain(Path(domain)))
        return compiled
    return domain


class Engine:
    def __init__(
        self,
        domain: str | Path | CompiledDomainLike,
        threads: int = 1,
        *,
        recognizer: Recognizer | None = None,
        endpoint: EndpointConfig | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.domain = load_compiled(domain)
        self.recognizer = recognizer or Recognizer(threads=threads)
        self.automaton: TokenAutomaton = self.recognizer.automaton(
            self.domain.word_graph, self.domain.language
        )
        self.endpoint = endpoint or EndpointConfig()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._vad = SileroVad()
        self._vad_lock = threading.Lock()
        self._focused: dict[frozenset[str], TokenAutomaton] = {}
        self._focus_lock = threading.Lock()

    def new_session(self, expect: Iterable[str] | None = None) -> Session:
        """A stream; ``expect`` names the intents the dialogue waits for (after "do you
        confirm?": Yes, No, Cancel, Help, Repeat) and narrows the search to them."""
        return Session(self, self.automaton_for(expect))

    def automaton_for(self, expect: Iterable[str] | None) -> TokenAutomaton:
        if expect is None:
            return self.automaton
        key = frozenset(expect)
        with self._focus_lock:
            found = self._focused.get(key)
            if found is None:
                graph = self.domain.focused_graph(key)
                found = (
                    self.automaton
                    if graph is self.domain.word_graph
                    else self.recognizer.automaton(graph, self.domain.language)
                )
                self._focused[key] = found
            return found

    def recognize(
        self,
        samples: np.ndarray,
        now: datetime | None = None,
        expect: Iterable[str] | None = None,
    ) -> Result:
        """One recording: not recognised when the VAD hears less than ``min_speech_ms``."""
        t0 = time.perf_counter()
        with self._vad_lock:
            voiced = speech_seconds(self._vad, samples, self.endpoint.threshold)
        vad_ms = (time.perf_counter() - t0) * 1000
        if voiced * 1000 < self.endpoint.min_speech_ms:
            return Result("", None, {}, 0.0, {"vad": vad_ms, "total": vad_ms})
        transcript = self.recognizer.transcribe(
            samples, self.automaton_for(expect), voiced, meaning=self.meaning(now)
        )
        result = self._understand(transcript, now, t0)
        result.timings["vad"] = vad_ms
        return result

    def meaning(self, now: datetime | None = None) -> Callable[[tuple[str, ...]], Hashable]:
        """Words -> (intent, slots) as the domain reads them at ``now``: finalists that mean
        the same need not be told apart (``Recognizer.choose``)."""
        when = now or self.clock()

        def read(words: tuple[str, ...]) -> Hashable:
            understood = self.domain.understand(" ".join(words), when)
            return understood.intent, tuple(sorted(dict(understood.slots).items()))

        return read

    def _understand(self, transcript: Transcript, now: datetime | None, t0: float) -> Result:
        timings = dict(transcript.timings_ms)
        margin = transcript.margin
        if not transcript.recognised:
            timings["total"] = (time.perf_counter() - t0) * 1000
            return Result("", None, {}, transcript.confidence, timings, margin)
        t1 = time.perf_counter()
        meaning = self.domain.understand(transcript.text, now or self.clock())
        timings["understand"] = (time.perf_counter() - t1) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        if meaning.intent is None:
            return Result(transcript.text, None, {}, 0.0, timings, margin)
        confidence = min(transcript.confidence, float(meaning.confidence))
        return Result(
            transcript.text, meaning.intent, dict(meaning.slots), confidence, timings, margin
        )


@dataclass
class _Speculation:
    pause_start: int  # Endpointer.pause_start when it was decoded
    transcript: Transcript  # from the narrow search only (no wide retry)
    understood: Result | None = None  # what the domain made of it (once, when first needed)


class Session:
    """One device stream. Not thread-safe: one caller feeds it."""

    def __init__(self, engine: Engine, automaton: TokenAutomaton | None = None) -> None:
        self.engine = engine
        self.automaton = automaton or engine.automaton
        self.endpointer = Endpointer(engine.endpoint, SileroVad())
        self._speculative: _Speculation | None = None

    def feed(self, pcm16: bytes) -> EndpointEvent | None:
        return self.feed_float(pcm16_to_float(pcm16))

    def feed_float(self, samples: np.ndarray) -> EndpointEvent | None:
        vad_event = self.endpointer.feed(samples)
        if vad_event is None:
            if self.endpointer.done:  # this session's utterance has ended already
                return None
            self._maybe_speculate()
            return self._maybe_end_confidently()
        if vad_event.kind is EndpointKind.SPEECH_STARTED:
            return EndpointEvent(vad_event.kind)
        return self._finish(vad_event.kind, vad_event.audio, vad_event.reason)

    def finish(self) -> EndpointEvent:
        """End of stream from the device side: decide on what was heard. Raises
        RuntimeError once the session has already given its end event."""
        event = self.endpointer.finish()
        return self._finish(event.kind, event.audio, event.reason)

    def _current(self) -> _Speculation | None:
        """The speculative decode of the current pause, if no speech came after it."""
        spec = self._speculative
        if spec is not None and spec.pause_start == self.endpointer.pause_start:
            return spec
        return None

    def _maybe_speculate(self) -> None:
        """Decode as soon as the speech pauses; the utterance audio will not change unless
        speech resumes (up to 96 ms more trailing silence, which Whisper's padded window
        does not notice), so the endpoint usually finds the result ready."""
        ep = self.endpointer
        pause_start = ep.pause_start
        if pause_start is None or not ep.settled or self._current() is not None:
            return
        # the narrow search only: most pauses are inside a sentence, whose first part the
        # domain rejects, and the wide retry would spend a second of the shared inference
        # thread on each; the endpoint runs the retry if the utterance really ends there
        recognizer = self.engine.recognizer
        transcript = recognizer.transcribe(
            ep.speech_so_far(),
            self.automaton,
            ep.voiced_seconds,
            searches=(recognizer.beam,),
            meaning=self.engine.meaning(),
        )
        self._speculative = _Speculation(pause_start, transcript)

    def _maybe_end_confidently(self) -> EndpointEvent | None:
        """End the utterance early when the pause has lasted ``confident_end_ms`` and its
        speculative result is a command the domain understands. The audio that arrived
        while decoding has been checked for speech by then: a pause inside a sentence whose
        first half happens to be a command continues when the speaker goes on within
        ``confident_end_ms``; a longer pause after it ends the utterance (docs/speech.md)."""
        limit = self.engine.endpoint.confident_end_ms
        ep = self.endpointer
        if limit is None or ep.trailing_silence_ms < limit:
            return None
        spec = self._current()
        # a pause's path the free reading merely spells (docs/speech.md, "Rejection rules
        # measured") waits for the full silence: the speaker may not have finished
        if spec is None or not spec.transcript.recognised or spec.transcript.spelled:
            return None
        if spec.understood is None:
            spec.understood = self.engine._understand(spec.transcript, None, time.perf_counter())
        if spec.understood.intent is None:
            return None
        event = ep.end("confident")
        return self._finish(event.kind, event.audio, event.reason)

    def _finish(self, kind: EndpointKind, audio: np.ndarray | None, reason: str) -> EndpointEvent:
        t0 = time.perf_counter()
        if kind is EndpointKind.NO_SPEECH or audio is None:
            result = Result("", None, {}, 0.0, {"total": 0.0})
            return EndpointEvent(EndpointKind.NO_SPEECH, result, reason)
        spec = self._current()
        recognizer = self.engine.recognizer
        # a pause's narrow search already rejected this audio (or took a path only because
        # the free reading spells it): only the wide retry is left, if its key/value budget
        # leaves one at this length
        retry = recognizer.search_widths(audio.size / SAMPLE_RATE, (recognizer.retry_beam,))
        on_margin = spec is not None and spec.transcript.recognised and not spec.transcript.spelled
        if spec is not None and (on_margin or not retry):
            reused = True
            understood = spec.understood
            if understood is None:
                understood = self.engine._understand(spec.transcript, None, t0)
            result = understood
        else:
            reused = False
            # the retry chooses among the pause's narrow paths and its own, as the one-shot
            # `Engine.recognize` and the evaluation do (docs/speech.md, "Endpointing")
            transcript = recognizer.transcribe(
                audio,
                self.automaton,
                self.endpointer.voiced_seconds,
                searches=(recognizer.retry_beam,) if spec is not None else None,
                meaning=self.engine.meaning(),
                earlier=spec.transcript.finished if spec is not None else (),
            )
            result = self.engine._understand(transcript, None, t0)
        timings = dict(result.timings)
        timings["after_endpoint"] = (time.perf_counter() - t0) * 1000
        timings["speculative_reused"] = 1.0 if reused else 0.0
        timings["audio"] = audio.size / 16.0
        final = Result(
            result.text, result.intent, result.slots, result.confidence, timings, result.margin
        )
        return EndpointEvent(kind, final, reason)
