"""End to end with the example domains: synthesised Turkish and English requests through
the Engine (one shot and streamed through VAD as PCM16 chunks) give the right intent and
normalised slots; out-of-domain speech and silence give "not recognised".

Expected slots are written by hand from the request and the fixed reference time
(Tuesday 2026-11-24 09:00 UTC), not copied from output."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from models.asr.audio import float_to_pcm16
from models.asr.recognizer import Recognizer
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import EndpointEvent, Engine
from models.eval.synth import Voice, synthesize
from models.vad import EndpointKind

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# tr+f2: with the plain `tr` voice at this rate Whisper often loses the opening "yarın saat
# üçte" and the search drops it (a measured weakness; see docs/speech.md), so the end-to-end
# case uses a voice the evaluation shows is read reliably.
ESPEAK_TR = Voice("espeak", "tr+f2", "tr", 0.8, 60)
FLITE = Voice("flite", "slt", "en")


@pytest.fixture(scope="module")
def engines(recognizer: Recognizer) -> dict[str, Engine]:
    out = {}
    for name in ("salon_tr", "salon_en", "shop_tr", "shop_en"):
        compiled = compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml"))
        out[name] = Engine(compiled, recognizer=recognizer, clock=lambda: NOW)
    return out


CASES = [
    (
        "salon_tr",
        ESPEAK_TR,
        "yarın saat üçte saç kesimi için randevu almak istiyorum",
        "BookAppointment",
        {"date": "2026-11-25", "time": "15:00", "service": "sac-kesimi"},
    ),
    (
        "shop_tr",
        ESPEAK_TR,
        "iki tane nemlendirici krem istiyorum",
        "OrderProduct",
        {"quantity": "2", "product": "nemlendirici-krem"},
    ),
    (
        "salon_en",
        FLITE,
        "i would like to book a haircut tomorrow at three pm",
        "BookAppointment",
        {"date": "2026-11-25", "time": "15:00", "service": "haircut"},
    ),
    (
        "shop_en",
        FLITE,
        "i want two bottles of moisturiser",
        "OrderProduct",
        {"quantity": "2", "product": "moisturiser"},
    ),
]


@pytest.mark.parametrize(("domain", "voice", "text", "intent", "slots"), CASES)
def test_requests_are_understood_end_to_end(
    engines: dict[str, Engine],
    domain: str,
    voice: Voice,
    text: str,
    intent: str,
    slots: dict[str, str],
) -> None:
    result = engines[domain].recognize(synthesize(text, voice))
    assert result.intent == intent, result
    assert result.slots == slots
    assert 0.5 < result.confidence <= 1.0
    assert result.timings["total"] > 0


def _stream(engine: Engine, audio: np.ndarray, chunk_ms: int = 32) -> list[EndpointEvent]:
    session = engine.new_session()
    pcm = float_to_pcm16(audio)
    step = 32 * chunk_ms  # bytes per chunk of PCM16 at 16 kHz
    events = []
    for i in range(0, len(pcm), step):
        event = session.feed(pcm[i : i + step])
        if event is not None:
            events.append(event)
    return events


def test_streamed_request_ends_at_the_endpoint_with_the_result(engines: dict[str, Engine]) -> None:
    speech = synthesize("randevumu iptal et", ESPEAK_TR)
    gap = np.zeros(12000, np.float32)
    events = _stream(engines["salon_tr"], np.concatenate([gap, speech, gap, gap]))
    assert [e.kind for e in events] == [EndpointKind.SPEECH_STARTED, EndpointKind.UTTERANCE_ENDED]
    result = events[-1].result
    assert result is not None and result.intent == "CancelAppointment" and result.slots == {}
    # the speculative pass during the trailing silence was reused at the endpoint
    assert result.timings["speculative_reused"] == 1.0
    assert result.timings["after_endpoint"] < result.timings["encode"] + result.timings["decode"]


def test_out_of_domain_and_silence_are_not_recognised(engines: dict[str, Engine]) -> None:
    ood = synthesize("what is the weather like in london today", FLITE)
    assert engines["shop_en"].recognize(ood).intent is None
    ood_tr = synthesize("bugün hava çok güzel, parka gidelim mi", ESPEAK_TR)
    assert engines["shop_tr"].recognize(ood_tr).intent is None
    assert engines["salon_en"].recognize(np.zeros(32000, np.float32)).intent is None
    events = _stream(engines["salon_en"], np.zeros(16000 * 9, np.float32))
    assert [e.kind for e in events] == [EndpointKind.NO_SPEECH]
    assert events[0].result is not None and events[0].result.intent is None


CONFIRM = ("Yes", "No", "Cancel", "Help", "Repeat")


def test_a_session_waiting_for_a_confirmation_searches_only_the_answers(
    engines: dict[str, Engine],
) -> None:
    """After "do you confirm?" the hub narrows the search to the answer intents: the answer
    is understood, and an order said instead can no longer come back as an order."""
    engine = engines["shop_tr"]
    assert engine.automaton_for(CONFIRM) is engine.automaton_for(reversed(CONFIRM))
    assert engine.automaton_for(CONFIRM) is not engine.automaton
    # (a bare "evet" from this espeak-ng voice sits at the rejection threshold: Whisper
    # reads it as "Emek" or "İmme"; the two-word answer the demo devices give is clear)
    yes = engine.recognize(synthesize("evet tamam", ESPEAK_TR), expect=CONFIRM)
    assert yes.intent == "Yes", yes
    order = synthesize("iki tane nemlendirici krem istiyorum", ESPEAK_TR)
    assert engine.recognize(order).intent == "OrderProduct"
    focused = engine.recognize(order, expect=CONFIRM)
    assert focused.intent in {None, *CONFIRM}, focused
    # streamed sessions take the same focus
    gap = np.zeros(8000, np.float32)
    session = engine.new_session(CONFIRM)
    assert session.automaton is engine.automaton_for(CONFIRM)
    pcm = float_to_pcm16(np.concatenate([gap, synthesize("hayır", ESPEAK_TR), gap, gap, gap]))
    events = [e for i in range(0, len(pcm), 1024) if (e := session.feed(pcm[i : i + 1024]))]
    assert events[-1].result is not None and events[-1].result.intent == "No", events
