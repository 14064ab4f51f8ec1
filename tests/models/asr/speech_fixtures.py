"""Session fixtures shared by the speech tests: the built int8 artifacts (built on first use,
about 15 s, cached outside git by recipe hash) and a recogniser on one thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from models.asr.build import BuiltModel, ensure_built
from models.asr.recognizer import Recognizer
from models.asr.tokens import TokenAutomaton


@dataclass(frozen=True)
class Graph:
    """A hand-made word graph (the WordGraph contract: start, finals, arcs)."""

    start: int
    finals: frozenset[int]
    arcs: tuple[tuple[int, str, int], ...]


def phrase_graph(*phrases: str) -> Graph:
    arcs: list[tuple[int, str, int]] = []
    finals: set[int] = set()
    next_state = 1
    for phrase in phrases:
        state = 0
        for word in phrase.split():
            arcs.append((state, word, next_state))
            state, next_state = next_state, next_state + 1
        finals.add(state)
    return Graph(0, frozenset(finals), tuple(arcs))


@pytest.fixture(scope="session")
def built_model() -> BuiltModel:
    return ensure_built()


@pytest.fixture(scope="session")
def recognizer(built_model: BuiltModel) -> Iterator[Recognizer]:
    yield Recognizer(built_model, threads=1)


def walk(auto: TokenAutomaton, text: str) -> int | None:
    """The automaton's state after ``text``'s tokens, or None where a token is not allowed."""
    state = 0
    for token in auto.tokenizer.encode(text):
        if token not in set(auto.allowed(state).tolist()):
            return None
        state = auto.step(state, token)
    return state
