"""Serial numbers written the way Whisper writes them: letters and digits run together in
capitals ("DGC6771"), read back as the graph's one word per letter or digit (English).

How we tried to break it: a run where the graph cannot say letters (a salon request), a run
longer than the serial grammar allows, lower-case runs, characters with no spoken name,
Turkish (where runs stay off), and the spaced spelling that worked before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.asr.build import BuiltModel
from models.asr.recognizer import Recognizer
from models.asr.tokens import (
    MAX_RUN_CHARACTERS,
    MIN_RUN_LETTERS,
    TokenAutomaton,
    WhisperTokenizer,
    run_words,
    syllables,
)
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import Engine
from models.eval.synth import Voice, synthesize
from models.normalize.measures import parse_serial
from tests.models.asr.speech_fixtures import phrase_graph, walk

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tokenizer(built_model: BuiltModel) -> WhisperTokenizer:
    return WhisperTokenizer.load(built_model.directory / "tokenizer.json")


def _automaton(tokenizer: WhisperTokenizer, name: str) -> TokenAutomaton:
    domain = compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml"), train_intent_model=False)
    return TokenAutomaton(domain.word_graph, tokenizer, domain.language)


@pytest.mark.parametrize(
    ("name", "written", "words", "serial"),
    [
        (
            "calibration_en",
            " Serial No. DGC6771",
            ["serial", "no", "d", "g", "c", "six", "seven", "seven", "one"],
            "DGC6771",
        ),
        ("calibration_en", " serial no W642.", ["serial", "no", "w", "six", "four", "two"], "W642"),
        (
            "calibration_en",
            " The serial number is YJ8726",
            ["the", "serial", "number", "is", "y", "j", "eight", "seven", "two", "six"],
            "YJ8726",
        ),
    ],
)
def test_a_run_reads_back_as_the_letters_and_digits_said(
    tokenizer: WhisperTokenizer, name: str, written: str, words: list[str], serial: str
) -> None:
    auto = _automaton(tokenizer, name)
    end = walk(auto, written)
    assert end is not None and auto.is_final(end)
    read = auto.words(tokenizer.encode(written))
    assert read == words
    assert parse_serial(read[-len(serial) :], auto.language) == serial  # one word a character


def test_the_spaced_spelling_still_walks(tokenizer: WhisperTokenizer) -> None:
    auto = _automaton(tokenizer, "calibration_en")
    text = " serial no t j c six seven seven one"
    end = walk(auto, text)
    assert end is not None and auto.is_final(end)
    assert auto.words(tokenizer.encode(text))[2:] == ["t", "j", "c", "six", "seven", "seven", "one"]


@pytest.mark.parametrize(
    "refused",
    [
        " serial no DGC67712345",  # 11 characters: the serial grammar takes at most 8 items
        " serial no dgc6771",  # Whisper writes a run in capitals; lower case is words
        " serial no DG#6771",  # "#" is no run character
        " serial no DGÇ67",  # a Turkish capital is no run character either
    ],
)
def test_runs_the_serial_grammar_cannot_say_are_refused(
    tokenizer: WhisperTokenizer, refused: str
) -> None:
    auto = _automaton(tokenizer, "calibration_en")
    end = walk(auto, refused)
    assert end is None or not auto.is_final(end)


def test_turkish_spells_its_serials_as_before(tokenizer: WhisperTokenizer) -> None:
    """Turkish letter names are written as syllables ("Fe"), so capitals are ambiguous."""
    auto = _automaton(tokenizer, "calibration_tr")
    assert walk(auto, " Seri numarası RV8726") is None
    spaced = " seri numarası re ve sekiz yedi iki altı"
    end = walk(auto, spaced)
    assert end is not None and auto.is_final(end)
    assert parse_serial(auto.words(tokenizer.encode(spaced))[2:], "tr") == "RV8726"


def test_no_runs_where_the_graph_cannot_say_letters(tokenizer: WhisperTokenizer) -> None:
    auto = _automaton(tokenizer, "salon_en")
    assert walk(auto, " book a haircut") is not None
    assert walk(auto, " book a DG") is None
    assert walk(auto, " How much is a haircut TJ") is None


def test_a_few_letters_are_not_a_serial(tokenizer: WhisperTokenizer) -> None:
    """Runs need a place where the graph can say most letters, not just any letter."""
    auto = TokenAutomaton(phrase_graph("code a b", "code c d"), tokenizer, "en")
    assert walk(auto, " code a b") is not None
    assert walk(auto, " code AB") is None


def test_new_serials_do_not_grow_the_automaton(tokenizer: WhisperTokenizer) -> None:
    """A hub hears a new serial every time: runs through the same graph states with the
    same characters left share one DFA state, so 300 serials cannot make more states than
    (graph states) x (characters left); when run nodes held their characters, these 300
    made 747."""
    auto = _automaton(tokenizer, "calibration_en")
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"

    def serial(i: int) -> str:
        return f" serial no {letters[i % 23]}{letters[(i * 7) % 23]}{1000 + i * 37}"

    for i in range(300):
        end = walk(auto, serial(i))
        assert end is not None and auto.is_final(end)
        assert parse_serial(auto.words(tokenizer.encode(serial(i)))[2:], "en") == serial(i)[11:]
    assert len(auto._states) <= 4 + len(auto._run_states) * (MAX_RUN_CHARACTERS + 1) < 300


def test_a_run_counts_a_syllable_a_character() -> None:
    """The search's syllable floor must let a run end: "TJC6771" is seven things said."""
    assert syllables("Serial No. TJC6771", "en") == syllables("serial no t j c 6 7 7 1", "en")
    assert syllables("book at three AM", "en") == 4  # "AM" is a word, not a run


def test_digits_where_a_serial_goes_on_are_a_run_even_with_written_numbers(
    tokenizer: WhisperTokenizer,
) -> None:
    """One reading only: with numerals on too, "67" at a serial is six seven, every time."""
    domain = compile_domain(
        load_domain(DOMAINS_DIR / "calibration_en.yaml"), train_intent_model=False
    )
    auto = TokenAutomaton(domain.word_graph, tokenizer, "en", written_numbers=True)
    tokens = tokenizer.encode(" serial no DG67")
    assert walk(auto, " serial no DG67") is not None
    assert auto.words(tokens) == ["serial", "no", "d", "g", "six", "seven"]


def test_every_letter_and_digit_has_a_spoken_word() -> None:
    turkish = "ABCÇDEFGHIİJKLMNOÖPRSŞTUÜVYZ"  # no Ğ: the domain has no name for it
    for language, capitals in (("en", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), ("tr", turkish)):
        named = run_words(language)
        assert all(c in named for c in capitals + "0123456789"), language
        assert len({named[c] for c in capitals}) >= MIN_RUN_LETTERS
    assert run_words("tr")["C"] == "ce" and run_words("tr")["6"] == "altı"
    assert run_words("en")["0"] == "zero" and run_words("en")["W"] == "w"


def test_a_dictated_serial_is_recognised_end_to_end(recognizer: Recognizer) -> None:
    """espeak-ng saying a serial: Whisper writes it "UN536"; spelled with spaces, the search
    had read "serial no is u n i b six" (the held-out draw --seed 29, clean)."""
    domain = compile_domain(load_domain(DOMAINS_DIR / "calibration_en.yaml"))
    engine = Engine(domain, recognizer=recognizer, clock=lambda: NOW)
    voice = Voice("espeak", "en-gb+f2", "en", 0.85, 60)
    result = engine.recognize(synthesize("serial no is u n five three six", voice))
    assert result.intent == "SetSerial" and result.slots == {"serial": "UN536"}, result
