"""Token automaton: only the domain's spellings are allowed, punctuation at most once after
a word, the end only at final states, Turkish capital İ/I."""

from __future__ import annotations

import pytest

from models.asr.build import BuiltModel
from models.asr.tokens import TokenAutomaton, WhisperTokenizer, capitalise, lower
from tests.models.asr.speech_fixtures import phrase_graph


@pytest.fixture(scope="module")
def tokenizer(built_model: BuiltModel) -> WhisperTokenizer:
    return WhisperTokenizer.load(built_model.directory / "tokenizer.json")


def _walk(auto: TokenAutomaton, text: str) -> int:
    state = 0
    for token in auto.tokenizer.encode(text):
        assert token in set(auto.allowed(state).tolist()), (text, token)
        state = auto.step(state, token)
    return state


def test_paths_of_the_graph_walk_and_end_at_finals(tokenizer: WhisperTokenizer) -> None:
    auto = TokenAutomaton(
        phrase_graph("book a haircut", "book a massage", "cancel"), tokenizer, "en"
    )
    end = _walk(auto, " Book a haircut.")
    assert auto.is_final(end) and tokenizer.eot in auto.allowed(end)
    middle = _walk(auto, " book a")
    assert not auto.is_final(middle) and tokenizer.eot not in auto.allowed(middle)
    assert auto.words(tokenizer.encode(" Book a haircut.")) == ["book", "a", "haircut"]


def test_words_outside_the_graph_and_double_punctuation_are_refused(
    tokenizer: WhisperTokenizer,
) -> None:
    auto = TokenAutomaton(phrase_graph("book a haircut", "cancel"), tokenizer, "en")
    start = set(auto.allowed(0).tolist())
    assert tokenizer.encode(" weather")[0] not in start
    assert tokenizer.eot not in start
    after_comma = auto.step(_walk(auto, " cancel"), tokenizer.encode(",")[0])
    assert tokenizer.encode(",")[0] not in set(auto.allowed(after_comma).tolist())
    with pytest.raises(KeyError):
        auto.step(0, tokenizer.encode(" weather")[0])


def test_turkish_capitals_and_prompt(tokenizer: WhisperTokenizer) -> None:
    assert capitalise("iptal", "tr") == "İptal" and capitalise("ılık", "tr") == "Ilık"
    assert capitalise("iptal", "en") == "Iptal"
    assert lower("İPTAL Irmak", "tr") == "iptal ırmak"
    auto = TokenAutomaton(phrase_graph("iptal et"), tokenizer, "tr")
    assert auto.is_final(_walk(auto, " İptal et"))
    assert tokenizer.prompt("tr")[1] == tokenizer.languages["tr"] != tokenizer.languages["en"]
    with pytest.raises(ValueError):
        tokenizer.prompt("de")
