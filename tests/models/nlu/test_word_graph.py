"""The word graph: accepts every sentence the domain samples, rejects junk, stays minimal.

Breaking attempts: random word salad from the graph's own vocabulary, sentences with a word
dropped or swapped (the graph and the exact parser must agree on every one), and a check that
no two states have the same right language (minimality) and that no path loops.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from models.domain import CompiledDomain, WordGraph
from models.domain.builtins import BUILTIN_TYPES, ParseContext, get_builtin
from models.normalize.dates import date_phrases
from models.normalize.times import time_phrases
from tests.models.nlu.conftest import EXAMPLES, NOW

WORD = re.compile(r"^[^\W_]+(?:'[^\W_]+)*$")  # English keeps "o'clock", "i'd"


@pytest.mark.parametrize("name", EXAMPLES)
def test_graph_accepts_every_sample(name: str, domain: Callable[[str], CompiledDomain]) -> None:
    c = domain(name)
    samples = c.sample_sentences(300, seed=11, now=NOW)
    assert len({s.intent for s in samples}) == len(c.intents)
    for s in samples:
        assert c.word_graph.accepts(s.text.split()), s.text


@pytest.mark.parametrize("name", EXAMPLES)
def test_graph_shape(name: str, domain: Callable[[str], CompiledDomain]) -> None:
    g = domain(name).word_graph
    assert g.start == 0
    for _, word, _ in g.arcs:
        assert WORD.match(word), word
        assert word == word.lower()
    succ = g.successors()
    # acyclic: a depth-first search never meets a state on its own path
    on_path: set[int] = set()
    done: set[int] = set()

    def visit(s: int) -> None:
        on_path.add(s)
        for d in succ.get(s, {}).values():
            assert d not in on_path, "cycle"
            if d not in done:
                visit(d)
        on_path.discard(s)
        done.add(s)

    visit(g.start)
    # minimal: no two states share finality and outgoing (word, target) pairs
    signatures = {(s in g.finals, tuple(sorted(succ.get(s, {}).items()))) for s in done}
    assert len(signatures) == len(done)
    assert g.num_states < 2000


@pytest.mark.parametrize("name", EXAMPLES)
def test_graph_rejects_junk_and_agrees_with_parser(
    name: str, domain: Callable[[str], CompiledDomain]
) -> None:
    c = domain(name)
    rng = random.Random(5)
    vocab = sorted(c.word_graph.vocabulary())
    salad = [[rng.choice(vocab) for _ in range(rng.randint(3, 8))] for _ in range(300)]
    accepted = [w for w in salad if c.word_graph.accepts(w)]
    assert len(accepted) <= 6, accepted[:3]
    for words in [
        ["bugün", "hava", "çok", "güzel"],
        ["what", "is", "the", "weather"],
        [],
        ["xyzzy"],
    ]:
        assert not c.word_graph.accepts(words)
    for s in c.sample_sentences(150, seed=3, now=NOW):
        words = s.text.split()
        variants = [words[:-1], words[1:]]
        if len(words) > 2:
            i = rng.randrange(len(words) - 1)
            variants.append([*words[:i], words[i + 1], words[i], *words[i + 2 :]])
        for v in variants:
            assert c.word_graph.accepts(v) == bool(c.parser.parse(v)), v


def test_word_graph_validates_itself() -> None:
    with pytest.raises(ValueError, match="non-deterministic"):
        WordGraph(0, frozenset({1}), ((0, "a", 1), (0, "a", 2)))
    with pytest.raises(ValueError, match="bad word"):
        WordGraph(0, frozenset({1}), ((0, "iki tane", 1),))


@pytest.mark.parametrize("language", ["tr", "en"])
@pytest.mark.parametrize("kind", BUILTIN_TYPES)
def test_builtin_samples_are_in_grammar_and_parse_back(kind: str, language: str) -> None:
    b = get_builtin(kind, language)
    ctx = ParseContext(NOW)
    rng = random.Random(17)
    for _ in range(300):
        words, expected = b.sample(rng, ctx)
        assert b.grammar.accepts(words), words
        assert b.parse(words, ctx) == expected, words


@pytest.mark.parametrize("language", ["tr", "en"])
def test_date_and_time_phrases_are_unambiguous(language: str) -> None:
    for table in (date_phrases(language), time_phrases(language)):
        seen: dict[tuple[str, ...], object] = {}
        clashes = [w for w, m in table if seen.setdefault(w, m) != m]
        assert clashes == []


@pytest.mark.parametrize("name", EXAMPLES)
def test_focused_graph_accepts_exactly_the_focused_intents(
    name: str, domain: Callable[[str], CompiledDomain]
) -> None:
    """A dialogue that waits for a confirmation searches only the answer intents: every
    sampled sentence of those intents is in the focused graph, no sentence of the others is
    (unless the very same words also belong to a focused intent)."""
    c = domain(name)
    focus = frozenset({"Yes", "No", "Cancel", "Help", "Repeat"}) & frozenset(c.intents)
    graph = c.focused_graph(focus | {"NotAnIntentHere"})
    assert graph is c.focused_graph(focus)  # built once, unknown names ignored
    assert len(graph.arcs) < len(c.word_graph.arcs)
    samples = c.sample_sentences(300, seed=5, now=NOW)
    focused = {s.text for s in samples if s.intent in focus}
    assert focused
    for s in samples:
        assert graph.accepts(s.text.split()) == (s.intent in focus or s.text in focused), s.text
    # no focus that names an intent of this domain: the whole graph
    assert c.focused_graph({"NotAnIntentHere"}) is c.word_graph
    assert c.focused_graph(c.intents) is c.word_graph
