"""End to end with the example domains: synthesised Turkish and English requests through
the Engine (one shot and streamed through VAD as PCM16 chunks) give the right intent and
normalised slots; out-of-domain speech and silence give "not recognised".

Expected slots are written by hand from the request and the fixed reference time
(Tuesday 2026-11-24 09:00 UTC), not copied from output."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from models.asr.audio import float_to_pcm16, loud_frames
from models.asr.decoder import Hypothesis
from models.asr.recognizer import Recognizer, Transcript
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import EndpointEvent, Engine
from models.eval.synth import Voice, synthesize
from models.vad import EndpointConfig, EndpointKind

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


def test_finalists_that_mean_the_same_share_one_meaning(engines: dict[str, Engine]) -> None:
    """What the recogniser compares before scoring finalists over silence: the same request
    spelled two ways the domain allows has one meaning; another hour, another meaning."""
    meaning = engines["salon_en"].meaning(NOW)
    haircut, hair_cut, four = (
        tuple(f"i would like to book a {service} tomorrow at {hour} pm".split())
        for service, hour in (("haircut", "three"), ("hair cut", "three"), ("haircut", "four"))
    )
    assert meaning(haircut) == meaning(hair_cut) != meaning(four)
    assert meaning(haircut)[0] == "BookAppointment"
    assert dict(meaning(haircut)[1])["time"] == "15:00"


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


def _trim(audio: np.ndarray) -> np.ndarray:
    """The synthesiser's own leading and trailing silence cut off (20 ms frames)."""
    loud = loud_frames(audio, 35.0)
    return audio[loud[0] * 320 : (loud[-1] + 1) * 320]


def _end_of(engine: Engine, audio: np.ndarray) -> tuple[int, EndpointEvent]:
    """(samples fed when the utterance ended, the event), fed in 32 ms PCM16 chunks."""
    session = engine.new_session()
    for i in range(0, audio.size, 512):
        event = session.feed(float_to_pcm16(audio[i : i + 512]))
        if event is not None and event.kind is EndpointKind.UTTERANCE_ENDED:
            return i + 512, event
    raise AssertionError("the utterance never ended")


def test_a_complete_command_ends_after_a_short_silence(engines: dict[str, Engine]) -> None:
    """The speculative result is a command the domain understands: the utterance ends after
    `confident_end_ms` (250 ms) of silence, not the 500 ms a doubtful one waits for."""
    speech = _trim(synthesize("randevumu iptal et", ESPEAK_TR))
    lead, tail = np.zeros(8000, np.float32), np.zeros(16000, np.float32)
    audio = np.concatenate([lead, speech, tail])
    speech_end = lead.size + speech.size
    fed, event = _end_of(engines["salon_tr"], audio)
    assert event.reason == "confident"
    assert event.result is not None and event.result.intent == "CancelAppointment"
    assert event.result.timings["speculative_reused"] == 1.0
    assert 250 <= (fed - speech_end) / 16 < 500
    patient = Engine(
        engines["salon_tr"].domain,
        recognizer=engines["salon_tr"].recognizer,
        endpoint=EndpointConfig(confident_end_ms=None),
    )
    fed, event = _end_of(patient, audio)
    assert event.reason == "silence" and (fed - speech_end) / 16 >= 500
    assert event.result is not None and event.result.intent == "CancelAppointment"
    assert event.result.timings["speculative_reused"] == 1.0  # decoded during the pause


def test_a_pause_the_free_reading_merely_spells_waits_for_the_full_silence(
    engines: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pause's path accepted only because the free reading spells it (``spelled``) may be
    a sentence the speaker has not finished: no confident end on it, and the endpoint runs
    the wide retry instead of reusing it. Every recognised transcript is marked spelled
    here, so the same request that ends confidently above must wait the full 500 ms."""
    from dataclasses import replace

    engine = engines["salon_tr"]
    recognizer = engine.recognizer
    plain = recognizer.transcribe
    searches: list[object] = []

    def spelled_only(*args: Any, **kwargs: Any) -> Transcript:
        heard = plain(*args, **kwargs)
        searches.append(kwargs.get("searches"))
        return replace(heard, spelled=True) if heard.recognised else heard

    monkeypatch.setattr(recognizer, "transcribe", spelled_only)
    speech = _trim(synthesize("randevumu iptal et", ESPEAK_TR))
    lead, tail = np.zeros(8000, np.float32), np.zeros(16000, np.float32)
    fed, event = _end_of(engine, np.concatenate([lead, speech, tail]))
    assert event.reason == "silence" and (fed - lead.size - speech.size) / 16 >= 500
    assert event.result is not None and event.result.intent == "CancelAppointment"
    assert event.result.timings["speculative_reused"] == 0.0
    assert searches[0] == (recognizer.beam,) and searches[-1] == (recognizer.retry_beam,)


def test_speech_the_domain_rejects_waits_and_gets_the_wide_retry_once(
    engines: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a complete command: the utterance waits the full 500 ms. The speculative decodes
    run the narrow search only (most pauses are inside a sentence); the wide retry runs
    once, at the endpoint, and its verdict is the result."""
    engine = engines["salon_tr"]
    runner = engine.recognizer.runner
    widths: list[int] = []
    budgets: list[int] = []
    search = runner.beam_search

    def recording(*args: object, **kwargs: object) -> object:
        widths.append(int(kwargs["beam"]))  # type: ignore[call-overload]
        budgets.append(int(kwargs["max_tokens"]))  # type: ignore[call-overload]
        return search(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "beam_search", recording)
    ood = _trim(synthesize("bugün hava çok güzel, parka gidelim mi", ESPEAK_TR))
    lead, tail = np.zeros(8000, np.float32), np.zeros(16000, np.float32)
    fed, event = _end_of(engine, np.concatenate([lead, ood, tail]))
    assert event.reason == "silence" and (fed - lead.size - ood.size) / 16 >= 500
    assert event.result is not None and event.result.intent is None
    assert event.result.timings["speculative_reused"] == 0.0
    recognizer = engine.recognizer
    narrow, wide = recognizer.beam, recognizer.retry_beam
    # ~6 s: the key/value budget allows a retry, but not all 32 paths
    assert narrow < widths[-1] < wide and set(widths[:-1]) == {narrow}
    assert widths[-1] * budgets[-1] <= (recognizer.retry_path_tokens or 0)


def test_a_retry_in_a_second_call_chooses_as_one_call_would(engines: dict[str, Engine]) -> None:
    """The hub's session runs the narrow search at the pause and the wide retry at the
    endpoint, in two calls; `Engine.recognize` (and the evaluation) runs both in one. Given
    the first call's finished paths, the second must choose exactly as the single call does
    (without them it chose among the wide search's paths alone: a rule the evaluation never
    calibrated)."""
    engine = engines["salon_tr"]
    recognizer = engine.recognizer
    ood = _trim(synthesize("bugün hava çok güzel, parka gidelim mi", ESPEAK_TR))
    audio = np.concatenate([np.zeros(4800, np.float32), ood, np.zeros(1600, np.float32)])
    meaning = engine.meaning(NOW)
    one = recognizer.transcribe(audio, engine.automaton, meaning=meaning)
    narrow = recognizer.transcribe(
        audio, engine.automaton, searches=(recognizer.beam,), meaning=meaning
    )
    assert not narrow.recognised and narrow.finished  # so the single call ran the retry too
    two = recognizer.transcribe(
        audio,
        engine.automaton,
        searches=(recognizer.retry_beam,),
        meaning=meaning,
        earlier=narrow.finished,
    )
    assert two.finished[: len(narrow.finished)] == narrow.finished
    assert len(two.finished) > len(narrow.finished)
    assert (two.words, two.margin, two.logprob, two.free_text) == (
        one.words,
        one.margin,
        one.logprob,
        one.free_text,
    )
    assert two.finished == one.finished


def test_the_session_retry_is_given_the_pause_s_paths(
    engines: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engines["salon_tr"]
    recognizer = engine.recognizer
    calls: list[tuple[tuple[int, ...] | None, Transcript, tuple[Hypothesis, ...]]] = []
    transcribe = recognizer.transcribe

    def recording(*args: object, **kwargs: Any) -> Transcript:
        out = transcribe(*args, **kwargs)  # type: ignore[arg-type]
        calls.append((kwargs.get("searches"), out, kwargs.get("earlier", ())))
        return out

    monkeypatch.setattr(recognizer, "transcribe", recording)
    ood = _trim(synthesize("bugün hava çok güzel, parka gidelim mi", ESPEAK_TR))
    lead, tail = np.zeros(8000, np.float32), np.zeros(16000, np.float32)
    _, event = _end_of(engine, np.concatenate([lead, ood, tail]))
    assert event.result is not None and event.result.intent is None
    *pauses, (searches, final, earlier) = calls
    assert searches == (recognizer.retry_beam,)
    last_pause = pauses[-1][1]  # the speculative decode of the pause that ended it
    assert earlier == last_pause.finished and earlier
    assert final.finished[: len(earlier)] == earlier


def test_the_longest_utterance_gets_no_wide_retry(
    engines: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Speech the domain rejects that runs into the endpointer's 12 s cut: the retry's
    key/value budget would leave it no wider than the narrow search (it would repeat it
    exactly), so no second search runs, and the verdict is "not recognised"."""
    engine = engines["salon_tr"]
    runner = engine.recognizer.runner
    widths: list[int] = []
    search = runner.beam_search

    def recording(*args: object, **kwargs: object) -> object:
        widths.append(int(kwargs["beam"]))  # type: ignore[call-overload]
        return search(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "beam_search", recording)
    text = (
        "dün akşam arkadaşlarımla birlikte sinemaya gittik ve çok güzel bir film izledik "
        "sonra da yemek yedik ve eve dönerken yağmur yağmaya başladı ama kimsenin şemsiyesi "
        "yoktu"
    )
    ood = _trim(synthesize(text, ESPEAK_TR))
    assert ood.size / 16000 > EndpointConfig().max_speech_s + 1  # really cut
    _, event = _end_of(engine, np.concatenate([np.zeros(8000, np.float32), ood]))
    assert event.reason == "max_length"
    assert event.result is not None and event.result.intent is None
    assert event.result.timings["audio"] >= 12_000
    assert widths and set(widths) == {engine.recognizer.beam}


def test_a_short_pause_inside_a_request_does_not_end_it(engines: dict[str, Engine]) -> None:
    """Broken on purpose: the first half alone is a complete order, then the speaker pauses
    for 160 ms and goes on. The speculative decode of the first half must be thrown away
    and the utterance must end once, with all of the audio."""
    first = _trim(synthesize("iki tane nemlendirici krem istiyorum", ESPEAK_TR))
    second = _trim(synthesize("bir de şampuan", ESPEAK_TR))
    gap = np.zeros(2560, np.float32)
    lead, tail = np.zeros(8000, np.float32), np.zeros(16000, np.float32)
    _, alone = _end_of(engines["shop_tr"], np.concatenate([lead, first, tail]))
    assert alone.reason == "confident" and alone.result is not None
    assert alone.result.intent == "OrderProduct"
    audio = np.concatenate([lead, first, gap, second, tail])
    session = engines["shop_tr"].new_session()
    ended, pause_end, checked, first_pause = [], lead.size + first.size + gap.size, False, -1
    for i in range(0, audio.size, 512):
        event = session.feed(float_to_pcm16(audio[i : i + 512]))
        if event is not None and event.kind is EndpointKind.UTTERANCE_ENDED:
            ended.append((i + 512, event))
        if i + 512 <= pause_end < i + 1024:  # the last chunk fed within the pause
            speculated = session._current()
            assert speculated is not None and speculated.transcript.recognised
            first_pause, checked = speculated.pause_start, True
    assert checked and len(ended) == 1
    # the result is not the first half's: a decode of the later pause replaced it
    assert session._speculative is not None and session._speculative.pause_start > first_pause
    fed, event = ended[0]
    assert fed > lead.size + first.size + gap.size + second.size
    assert event.result is not None
    assert event.result.timings["audio"] >= (first.size + gap.size + second.size) / 16


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
