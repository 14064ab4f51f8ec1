"""When no search passes the margin, the final path is accepted if Whisper's free reading
spells its letters but for a letter or so (docs/speech.md, "Rejection rules measured").

Broken on purpose: another sentence as the free reading, a short word one letter off, an
empty reading, a negation, another word in a slot, a sentence the path finishes for the
speaker, and the rule switched off must all leave the path rejected."""

from __future__ import annotations

import numpy as np
import pytest

from models.asr.decoder import Hypothesis
from models.asr.recognizer import (
    REJECT_MARGINS,
    Recognizer,
    letters,
    spelled_alike,
)
from models.eval.synth import Voice, synthesize
from tests.models.asr.speech_fixtures import phrase_graph

ANSWERS_TR = phrase_graph("evet onaylıyorum", "evet", "onaylıyorum", "hayır", "iptal")
ANSWERS_EN = phrase_graph("repeat that", "repeat", "say that again", "yes", "no", "cancel", "help")


def test_letters_keep_letters_and_digits_in_the_language_s_lower_case() -> None:
    assert letters("Eve ton, aylı yurtum.", "tr") == "evetonaylıyurtum"
    assert letters("İyi IŞIK", "tr") == "iyiışık"  # Turkish dotted and dotless i
    assert letters("It's 3 PM!", "en") == "its3pm"


@pytest.mark.parametrize(
    ("path", "free", "language", "alike"),
    [
        # Whisper cut the sentence into other words, a letter or so apart
        ("evet onaylıyorum", " Eve ton aylı yurtum.", "tr", True),
        ("say that again", " Save that again.", "en", True),
        ("repeat that", " Repeat that.", "en", True),
        # another sentence that merely starts alike (the closest out-of-domain sentence on
        # the tuning draws)
        ("what is the lotion cost", " What is the weather like in London?", "en", False),
        # a short word one letter off is another word
        ("stop", " Shop.", "en", False),
        ("yes", " Yep.", "en", False),
        ("evet", "", "tr", False),  # nothing read freely
        # a negation is a few letters more: the opposite command
        ("randevumu iptal etmek istiyorum", " Randevumu iptal etmek istemiyorum.", "tr", False),
        ("randevumu iptal et", " Randevumu iptal etme.", "tr", False),
        ("cancel my appointment", " Don't cancel my appointment.", "en", False),
        # another word in a slot
        ("book a haircut for thursday", " Book a haircut for Saturday.", "en", False),
        ("book a haircut for friday at five", " Book a haircut for Friday at nine.", "en", False),
        ("yarın saat on birde", " Yarın saat on ikide.", "tr", False),
        # a path that finishes what the speaker has not said (a pause mid-sentence)
        ("book a haircut for friday at five", " Book a haircut for Friday at", "en", False),
        ("randevumu iptal et", " Randevumu iptal", "tr", False),
    ],
)
def test_the_free_reading_spells_the_path_or_not(
    path: str, free: str, language: str, alike: bool
) -> None:
    assert spelled_alike(tuple(path.split()), free, language) is alike


def test_a_path_the_free_reading_spells_is_accepted_once_every_search_fails_the_margin(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The figures of espeak-ng's "evet onaylıyorum": the grammar's path at -2.9 nats per
    token, Whisper's free "eve ton aylı yurtum" at -0.6, so 2.3 nats apart where Turkish
    allows 2.0. The wide retry still runs (it might find a path within the margin); then
    the path is accepted because the free reading spells it, at the margin's edge (0.5)."""
    tokenizer = recognizer.tokenizer
    said = tuple(tokenizer.encode(" evet onaylıyorum"))
    path = Hypothesis(said, -2.9 * (len(said) + 1), 0.0, True, end_logprob=-0.1)

    def free_reading(text: str) -> Hypothesis:
        ids = tuple(tokenizer.encode(text))
        return Hypothesis(ids, -0.6 * (len(ids) + 1), 0.0, True)

    free = free_reading(" eve ton aylı yurtum")
    assert path.mean_logprob - free.mean_logprob < -REJECT_MARGINS["tr"]
    auto = recognizer.automaton(ANSWERS_TR, "tr")
    audio = np.zeros(16000, np.float32)  # the search is replaced; the encoder still runs
    widths: list[int] = []

    def search(reading: Hypothesis, mean: float) -> object:
        def run(*args: object, beam: int, **kwargs: object) -> object:
            widths.append(beam)
            return [Hypothesis(said, mean * (len(said) + 1), 0.0, True, -0.1)], reading

        return run

    monkeypatch.setattr(recognizer.runner, "beam_search", search(free, -2.9))
    heard = recognizer.transcribe(audio, auto)
    assert heard.text == "evet onaylıyorum" and heard.spelled
    assert heard.confidence == 0.5
    assert widths == [recognizer.beam, recognizer.retry_beam]
    # within the margin: accepted by it, after the narrow search alone
    widths.clear()
    monkeypatch.setattr(recognizer.runner, "beam_search", search(free, -1.0))
    heard = recognizer.transcribe(audio, auto)
    assert heard.recognised and not heard.spelled and widths == [recognizer.beam]
    # another free reading, or the rule off: rejected
    monkeypatch.setattr(
        recognizer.runner, "beam_search", search(free_reading(" bugün hava çok güzel"), -2.9)
    )
    assert not recognizer.transcribe(audio, auto).recognised
    monkeypatch.setattr(recognizer.runner, "beam_search", search(free, -2.9))
    monkeypatch.setattr(recognizer, "spelled_alike", None)
    assert not recognizer.transcribe(audio, auto).recognised


def test_an_answer_whisper_reads_letter_for_letter_is_taken_below_the_margin(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end on the built model: flite kal16's "repeat that" is read freely as "repeat
    that" and scores below the margin (-2.39 against English's 2.3 here). The margin is set
    stricter for the test, so that it does not hang on the last decimals of a CPU's int8
    kernels. (Until the fourteenth session this was espeak-ng's Turkish "evet onaylıyorum";
    the adapter fine-tuned on everyday replies now takes that within the margin.)"""
    speech = synthesize("repeat that", Voice("flite", "kal16", "en", 1.0, 0))
    auto = recognizer.automaton(ANSWERS_EN, "en")
    monkeypatch.setattr(recognizer, "reject_margin", 1.5)
    heard = recognizer.transcribe(speech, auto)
    assert heard.text == "repeat that" and heard.spelled and heard.confidence == 0.5
    assert heard.margin < -1.5
    assert spelled_alike(heard.words or (), heard.free_text, "en")
    monkeypatch.setattr(recognizer, "spelled_alike", None)
    assert not recognizer.transcribe(speech, auto).recognised


def test_espeak_s_evet_onayliyorum_is_within_the_margin_with_the_shipped_adapter(
    recognizer: Recognizer,
) -> None:
    speech = synthesize("evet onaylıyorum", Voice("espeak", "tr", "tr", 0.8, 50))
    heard = recognizer.transcribe(speech, recognizer.automaton(ANSWERS_TR, "tr"))
    assert heard.text == "evet onaylıyorum" and not heard.spelled
