"""`arma-models eval --streamed` scores the hub's path: the same audio through a streaming
session in 32 ms PCM16 chunks. It must end the way the hub would (the confident end after a
complete command, or the device's end of stream after the last chunk) and score what that
session answered, not what a one-shot decode would have.

Expected intents and slots are written by hand from the request and the fixed reference
time (Tuesday 2026-11-24 09:00 UTC)."""

from __future__ import annotations

import numpy as np
import pytest

from models.asr.audio import loud_frames
from models.asr.recognizer import Recognizer
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import Engine
from models.eval.run import NOW, Utterance, _streamed
from models.eval.synth import Voice, synthesize

FLITE = Voice("flite", "slt", "en")
REQUEST = "i would like to book a haircut tomorrow at three pm"
SLOTS = {"date": "2026-11-25", "time": "15:00", "service": "haircut"}


@pytest.fixture(scope="module")
def engine(recognizer: Recognizer) -> Engine:
    compiled = compile_domain(load_domain(DOMAINS_DIR / "salon_en.yaml"))
    return Engine(compiled, recognizer=recognizer, clock=lambda: NOW)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    audio = synthesize(REQUEST, FLITE)
    loud = loud_frames(audio, 35.0)
    return audio[loud[0] * 320 : (loud[-1] + 1) * 320]  # no synthesiser silence at either end


def _utterance(audio: np.ndarray, text: str = REQUEST, intent: str | None = "BookAppointment"):
    slots = SLOTS if intent else {}
    return Utterance("salon_en", "en", text, intent, slots, FLITE.label, audio)


def test_a_command_with_silence_after_it_ends_confidently(
    engine: Engine, speech: np.ndarray
) -> None:
    audio = np.concatenate([np.zeros(4800, np.float32), speech, np.zeros(16000, np.float32)])
    scored = _streamed("arma, streamed", engine, _utterance(audio), audio, "clean")
    assert scored.ended == "confident"
    assert (scored.intent, scored.slots_ok, scored.correct) == ("BookAppointment", True, True)
    assert scored.hypothesis == REQUEST


def test_a_stream_that_stops_with_the_voice_is_decided_at_its_end(
    engine: Engine, speech: np.ndarray
) -> None:
    # the device's end flag right after the last word: no silence for the endpointer
    audio = np.concatenate([np.zeros(4800, np.float32), speech])
    scored = _streamed("arma, streamed", engine, _utterance(audio), audio, "clean")
    assert scored.ended == "stream_end"
    assert scored.correct and scored.intent == "BookAppointment"


def test_a_stream_cut_mid_request_is_scored_as_what_was_heard(
    engine: Engine, speech: np.ndarray
) -> None:
    # the first ~40 % ("i would like to book"): the session answers for that audio only,
    # so the command is not right, though a whole-file decode of the full request would be
    cut = np.concatenate([np.zeros(4800, np.float32), speech[: int(speech.size * 0.4)]])
    scored = _streamed("arma, streamed", engine, _utterance(cut), cut, "clean")
    assert scored.ended == "stream_end"
    assert not scored.correct
    assert "tomorrow" not in scored.hypothesis


def test_out_of_domain_speech_streamed_is_not_recognised(engine: Engine) -> None:
    text = "my brother plays football every sunday morning"
    audio = np.concatenate([np.zeros(4800, np.float32), synthesize(text, FLITE)])
    scored = _streamed("arma, streamed", engine, _utterance(audio, text, None), audio, "clean")
    assert scored.intent is None
    assert scored.correct  # an out-of-domain sentence is right when nothing is accepted
