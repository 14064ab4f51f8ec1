"""Numbers written as Whisper writes them: the readings of each written form, and the token
automaton accepting them only where the graph can say one of those readings, read back as
the graph's words."""

from __future__ import annotations

import pytest

from models.asr.build import BuiltModel
from models.asr.numerals import readings
from models.asr.tokens import TokenAutomaton, WhisperTokenizer
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.eval.run import NOW
from tests.models.asr.speech_fixtures import phrase_graph, walk


@pytest.fixture(scope="module")
def tokenizer(built_model: BuiltModel) -> WhisperTokenizer:
    return WhisperTokenizer.load(built_model.directory / "tokenizer.json")


@pytest.mark.parametrize(
    ("written", "reading"),
    [
        ("2:45", "two forty five"),
        ("245", "two forty five"),
        ("245", "two hundred forty five"),
        ("1745", "seventeen forty five"),
        ("10.15", "ten fifteen"),
        ("3.85", "three point eight five"),
        ("303.05", "three hundred three point zero five"),
        ("29th", "twenty ninth"),
        ("29", "twenty ninth"),  # "January 29" for "january twenty ninth"
        ("1st", "first"),
        ("65%", "sixty five percent"),
        ("22.9%", "twenty two point nine percent"),
        ("4:05", "four oh five"),
        ("5:00", "five o'clock"),
        ("17:00", "seventeen hundred"),
        ("4.19am", "four nineteen am"),
        ("5pm", "five pm"),
        ("1,200", "one thousand two hundred"),
        ("0532", "oh five three two"),
    ],
)
def test_a_written_number_reads_as_the_words_said(written: str, reading: str) -> None:
    assert tuple(reading.split()) in readings(written, "en")


@pytest.mark.parametrize(
    ("written", "not_reading"),
    [
        ("245", "twenty four five"),
        ("29th", "twenty nine"),  # an ordinal suffix is never a cardinal
        ("2:75", "two seventy five"),  # no such minute
        ("32nd", "thirty second"),  # dates only: past 31 an ordinal is not read
        ("05", "five"),  # a leading zero is said digit by digit
    ],
)
def test_impossible_readings_are_not_offered(written: str, not_reading: str) -> None:
    assert tuple(not_reading.split()) not in readings(written, "en")


@pytest.mark.parametrize("junk", ["", "abc", "2:4", "1234567", "3..5", ":45", "45 %"])
def test_what_is_not_a_complete_numeral_has_no_reading(junk: str) -> None:
    assert readings(junk, "en") == []


def test_turkish_has_no_written_numbers_yet() -> None:
    assert readings("15", "tr") == []


def test_digits_are_allowed_where_the_graph_says_a_number_and_read_back(
    tokenizer: WhisperTokenizer,
) -> None:
    auto = TokenAutomaton(
        phrase_graph("cancel at two forty five", "cancel at ten", "cancel my order"),
        tokenizer,
        "en",
        written_numbers=True,
    )
    for text, words in [
        (" Cancel at 2:45?", "cancel at two forty five"),
        (" cancel at 245.", "cancel at two forty five"),
        (" cancel at 10", "cancel at ten"),
        (" cancel at ten", "cancel at ten"),
    ]:
        end = walk(auto, text)
        assert end is not None and auto.is_final(end), text
        assert auto.words(tokenizer.encode(text)) == words.split()
    # a number the graph cannot say, and digits where it says no number
    unsaid = walk(auto, " cancel at 2:50")
    assert unsaid is None or not auto.is_final(unsaid)
    assert walk(auto, " cancel 2") is None
    assert walk(auto, " cancel my 2") is None


def test_am_and_pm_may_be_written_with_dots(tokenizer: WhisperTokenizer) -> None:
    auto = TokenAutomaton(
        phrase_graph("at five pm", "at five am please"), tokenizer, "en", written_numbers=True
    )
    for text, words in [
        (" At 5 p.m.", ["at", "five", "pm"]),
        (" at five PM?", ["at", "five", "pm"]),
        (" at 5 a.m. please.", ["at", "five", "am", "please"]),
        (" at 5pm", ["at", "five", "pm"]),
    ]:
        end = walk(auto, text)
        assert end is not None and auto.is_final(end), text
        assert auto.words(tokenizer.encode(text)) == words


def test_a_digit_loop_ends(tokenizer: WhisperTokenizer) -> None:
    """Whisper loops on noise ("21212121..."): a numeral that is neither short and
    unfinished nor readable where it stands is not taken, so a looping path runs out of
    tokens instead of growing for the whole token budget and crowding out the words."""
    auto = TokenAutomaton(
        phrase_graph("at ten", "at one hundred eleven"), tokenizer, "en", written_numbers=True
    )
    state = auto.step(0, tokenizer.encode(" at")[0])
    state = auto.step(state, tokenizer.encode(" 1")[0])
    one = tokenizer.encode("1")[0]
    taken = 0
    while one in set(auto.allowed(state).tolist()) and taken < 10:
        state, taken = auto.step(state, one), taken + 1
    assert taken == 2  # "11", then "111" (one hundred eleven), and no further
    assert auto.is_final(state) and auto.words(tokenizer.encode(" at 111")) == [
        "at",
        "one",
        "hundred",
        "eleven",
    ]
    # "788" where the graph takes no such number: " 7" may still grow, "88" is not taken
    seven, eighty_eight = tokenizer.encode(" 788")
    state = auto.step(auto.step(0, tokenizer.encode(" at")[0]), seven)
    assert eighty_eight not in set(auto.allowed(state).tolist())


@pytest.mark.parametrize(
    "text", ["7,8,", "7,,", "1,2345", "2:456", "3.4.5", "12345678", "788,00st", "2:4am"]
)
def test_shapes_that_cannot_become_a_numeral_are_cut_at_once(text: str) -> None:
    """A comma after one digit was let through once: a noisy request became
    "7,8,2,3,,,,,,," until the token budget ran out, and nothing was recognised."""
    from models.asr.numerals import may_start

    assert not may_start(text)
    assert may_start(text[:2])


def test_written_numbers_are_off_unless_asked_for(tokenizer: WhisperTokenizer) -> None:
    auto = TokenAutomaton(phrase_graph("cancel at ten"), tokenizer, "en")
    assert walk(auto, " cancel at 10") is None
    assert walk(auto, " cancel at ten") is not None


def test_a_salon_request_with_a_date_and_time_in_digits_reads_as_the_domain_words(
    tokenizer: WhisperTokenizer,
) -> None:
    """The free readings a natural voice got (docs/speech.md, "Numbers as digits")."""
    domain = compile_domain(load_domain(DOMAINS_DIR / "salon_en.yaml"))
    auto = TokenAutomaton(domain.word_graph, tokenizer, "en", written_numbers=True)
    text = " Do you have a free slot at quarter past 10 in the morning, January 29th?"
    end = walk(auto, text)
    assert end is not None and auto.is_final(end)
    words = auto.words(tokenizer.encode(text))
    assert words[-8:] == ["past", "ten", "in", "the", "morning", "january", "twenty", "ninth"]
    meaning = domain.understand(" ".join(words), NOW)
    assert meaning is not None and meaning.intent == "AskAvailability"
    assert meaning.slots["time"] == "10:15"


def test_the_fallback_twin_spells_numbers_only(tokenizer: WhisperTokenizer) -> None:
    """The recogniser's second try when every path of a search ran into unreadable digits."""
    auto = TokenAutomaton(phrase_graph("at ten"), tokenizer, "en", written_numbers=True)
    twin = auto.spelled_only()
    assert auto.writes_numbers and not twin.writes_numbers
    assert twin.spelled_only() is twin and auto.spelled_only() is twin
    assert walk(twin, " at 10") is None and walk(auto, " at 10") is not None
