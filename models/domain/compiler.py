"""compile_domain: a loaded Domain -> word graph, tagged parser, samplers, intent model.

The templates are expanded to word sequences with list placeholders, per intent, and merged
into one minimal placeholder-level DFA. Each placeholder arc is then replaced by a copy of its
list's word DFA (text list or builtin grammar) between tagged epsilon arcs (slot open/close),
giving a tagged NFA that parses in-grammar transcripts exactly. Removing the tags and
determinising gives the WordGraph the speech decoder searches.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.domain.builtins import Builtin, ParseContext, get_builtin
from models.domain.expand import Expander, split_placeholder
from models.domain.fsa import Dfa, Nfa, TaggedIndex, determinize, dfa_from_phrases
from models.domain.loader import Domain, ListSpec
from models.domain.types import DomainSchemaError, DomainTemplateError, WordGraph
from models.normalize.numbers import number_words

if TYPE_CHECKING:
    from models.domain.compiled import CompiledDomain

log = logging.getLogger(__name__)
INTENT_MARK = "\x03"


@dataclass(frozen=True)
class CompiledList:
    """A list ready for matching: grammar, spoken words -> (value, display), or a builtin."""

    spec: ListSpec
    grammar: Dfa
    lookup: dict[tuple[str, ...], tuple[str, str]]
    variants: tuple[tuple[tuple[str, ...], str, str], ...]  # (words, value, display)
    builtin: Builtin | None = None


def _compile_list(spec: ListSpec, expander: Expander, language: str) -> CompiledList:
    if spec.kind == "builtin":
        assert spec.builtin is not None
        b = get_builtin(spec.builtin, language)
        return CompiledList(spec, b.grammar, {}, (), b)
    if spec.kind == "range":
        assert spec.range is not None
        lo, hi, step = spec.range
        variants = tuple(
            (tuple(number_words(n, language)), str(n), str(n)) for n in range(lo, hi + 1, step)
        )
    else:
        vs: list[tuple[tuple[str, ...], str, str]] = []
        for v in spec.values:
            for words in expander.expand(v.spoken, f"lists.{spec.name} value {v.spoken!r}"):
                if any(split_placeholder(w) for w in words):
                    raise DomainTemplateError(f"lists.{spec.name}: values cannot contain lists")
                if words:
                    vs.append((words, v.out, v.display))
        variants = tuple(vs)
    lookup: dict[tuple[str, ...], tuple[str, str]] = {}
    for words, value, display in variants:
        if words in lookup and lookup[words][0] != value:
            log.warning(
                "list %s: %r is spoken the same as %r; keeping the first",
                spec.name,
                value,
                lookup[words][0],
            )
        lookup.setdefault(words, (value, display))
    if not lookup and spec.catalog is None:
        raise DomainSchemaError(f"lists.{spec.name}: no speakable values")
    return CompiledList(spec, dfa_from_phrases(lookup), lookup, variants)


def compile_domain(
    domain: Domain, *, train_intent_model: bool = True, seed: int = 0
) -> CompiledDomain:
    """Compile a domain for the voice pipeline (see models.domain.compiled.CompiledDomain)."""
    from models.domain.compiled import CompiledDomain

    t0 = time.perf_counter()
    expander = Expander(domain.language, domain.rules, set(domain.lists))
    lists = {
        name: _compile_list(spec, expander, domain.language) for name, spec in domain.lists.items()
    }
    expansions: dict[str, list[tuple[str, ...]]] = {}
    symbol_seqs: list[tuple[str, ...]] = []
    for intent in domain.intents:
        for b, (sentences, _fixed) in enumerate(intent.data_blocks):
            key = f"{intent.name}#{b}"
            seqs: set[tuple[str, ...]] = set()
            for i, template in enumerate(sentences):
                where = f"intents.{intent.name}.data[{b}].sentences[{i}]"
                for words in expander.expand(template, where):
                    if not words:
                        raise DomainTemplateError(f"{where}: template can be empty")
                    if not any(
                        (ph := split_placeholder(w))
                        and not lists[ph[0]].lookup
                        and lists[ph[0]].builtin is None
                        for w in words
                    ):
                        seqs.add(words)
            if not seqs:
                continue  # every sentence names an empty catalog list
            expansions[key] = sorted(seqs)
            symbol_seqs.extend((INTENT_MARK + key, *s) for s in seqs)
    _check_slots(domain, expansions)
    nfa = _tagged_nfa(dfa_from_phrases(symbol_seqs), lists)
    graph = _graph(nfa)
    t1 = time.perf_counter()
    compiled = CompiledDomain(domain, lists, expansions, TaggedIndex.of(nfa), graph)
    if train_intent_model:
        compiled.train_intent_model(seed=seed)
    t2 = time.perf_counter()
    log.info(
        "compiled domain %s: %d graph states, %d arcs, grammar %.2fs, intent model %.2fs",
        domain.name,
        graph.num_states,
        len(graph.arcs),
        t1 - t0,
        t2 - t1,
    )
    return compiled


def _check_slots(domain: Domain, expansions: dict[str, list[tuple[str, ...]]]) -> None:
    spoken = {key.split("#")[0] for key in expansions}
    for intent in domain.intents:
        if intent.name not in spoken:
            log.warning("intent %s has no sentence left (empty catalog list)", intent.name)
            continue
        slots = set(intent.fixed_slots)
        for key, seqs in expansions.items():
            if key.split("#")[0] == intent.name:
                for s in seqs:
                    slots.update(p[1] for w in s if (p := split_placeholder(w)))
        for name in intent.required:
            if name not in slots:
                raise DomainSchemaError(
                    f"intents.{intent.name}.required: no slot {name!r} in its sentences"
                )
        if intent.reply:
            import string

            for _, field, _, _ in string.Formatter().parse(intent.reply):
                if field and field not in slots:
                    raise DomainSchemaError(
                        f"intents.{intent.name}.reply: unknown slot {{{field}}}"
                    )


def _graph(nfa: Nfa) -> WordGraph:
    dfa = determinize(nfa)
    return WordGraph(dfa.start, dfa.finals, tuple(dfa.arcs()))


def focused_graph(
    expansions: dict[str, list[tuple[str, ...]]],
    lists: dict[str, CompiledList],
    intents: frozenset[str],
) -> WordGraph:
    """The word graph of only some intents: what the decoder searches when the dialogue
    expects an answer of a known kind (after "do you confirm?" only yes/no/cancel/...)."""
    seqs = [
        (INTENT_MARK + key, *words)
        for key, block in expansions.items()
        if key.split("#")[0] in intents
        for words in block
    ]
    if not seqs:
        raise DomainSchemaError(f"no sentences for intents {sorted(intents)}")
    return _graph(_tagged_nfa(dfa_from_phrases(seqs), lists))


def _tagged_nfa(skeleton: Dfa, lists: dict[str, CompiledList]) -> Nfa:
    nfa = Nfa()
    states = [nfa.start] + [nfa.state() for _ in range(skeleton.num_states - 1)]
    # skeleton is renumbered breadth-first with start 0, so states[i] maps skeleton state i
    for s, w, d in skeleton.arcs():
        if w.startswith(INTENT_MARK):
            nfa.add(states[s], None, states[d], ("intent", w[1:]))
        elif (ph := split_placeholder(w)) is not None:
            list_name, slot = ph
            a, b = nfa.state(), nfa.state()
            nfa.add(states[s], None, a, ("open", f"{slot}:{list_name}"))
            nfa.embed(lists[list_name].grammar, a, b)
            nfa.add(b, None, states[d], ("close", slot))
        else:
            nfa.add(states[s], w, states[d])
    nfa.finals.update(states[f] for f in skeleton.finals)
    return nfa


def sample_words(
    compiled_lists: dict[str, CompiledList],
    seq: tuple[str, ...],
    rng: random.Random,
    ctx: ParseContext,
) -> tuple[list[str], dict[str, str], list[str]]:
    """Fill the placeholders of one expansion with random values: (words, expected slots,
    words with each value replaced by its list's class token "<list>")."""
    words: list[str] = []
    slots: dict[str, str] = {}
    delex: list[str] = []
    for sym in seq:
        ph = split_placeholder(sym)
        if ph is None:
            words.append(sym)
            delex.append(sym)
            continue
        delex.append(f"<{ph[0]}>")
        cl = compiled_lists[ph[0]]
        if cl.builtin is not None:
            w, value = cl.builtin.sample(rng, ctx)
        else:
            wt, value, _display = rng.choice(cl.variants)
            w = list(wt)
        words.extend(w)
        slots[ph[1]] = value
    return words, slots, delex
