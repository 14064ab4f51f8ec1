"""Finite-state acceptors over words: build, determinise, minimise, simulate with tags.

`Nfa` is the mutable builder (epsilon arcs may carry a tag: intent and slot boundaries);
`Dfa` is an epsilon-free deterministic acceptor. Domains are finite languages, so every
automaton here is acyclic and minimisation is the linear bottom-up merge of states with
equal right languages (signature = finality + outgoing (word, class) pairs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Tag = tuple[str, str]


@dataclass
class Nfa:
    """Mutable NFA: arcs[s] = list of (word or None for epsilon, dst, tag or None)."""

    arcs: list[list[tuple[str | None, int, Tag | None]]] = field(default_factory=list)
    finals: set[int] = field(default_factory=set)
    start: int = 0

    def __post_init__(self) -> None:
        if not self.arcs:
            self.arcs.append([])

    def state(self) -> int:
        self.arcs.append([])
        return len(self.arcs) - 1

    def add(self, src: int, word: str | None, dst: int, tag: Tag | None = None) -> None:
        self.arcs[src].append((word, dst, tag))

    def add_words(self, src: int, words: Sequence[str], dst: int) -> None:
        """A chain of word arcs from src to dst (an epsilon arc when words is empty)."""
        if not words:
            self.add(src, None, dst)
            return
        cur = src
        for w in words[:-1]:
            nxt = self.state()
            self.add(cur, w, nxt)
            cur = nxt
        self.add(cur, words[-1], dst)

    def embed(self, dfa: Dfa, src: int, dst: int) -> None:
        """Copy a DFA between src and dst (src -eps-> its start, its finals -eps-> dst)."""
        mapping = [self.state() for _ in range(dfa.num_states)]
        self.add(src, None, mapping[dfa.start])
        for s, trans in enumerate(dfa.trans):
            for w, d in trans.items():
                self.add(mapping[s], w, mapping[d])
        for f in dfa.finals:
            self.add(mapping[f], None, dst)


@dataclass(frozen=True)
class Dfa:
    """Deterministic acceptor: trans[s] maps a word to the next state."""

    start: int
    finals: frozenset[int]
    trans: tuple[dict[str, int], ...]

    @property
    def num_states(self) -> int:
        return len(self.trans)

    @property
    def num_arcs(self) -> int:
        return sum(len(t) for t in self.trans)

    def accepts(self, words: Iterable[str]) -> bool:
        s = self.start
        for w in words:
            nxt = self.trans[s].get(w)
            if nxt is None:
                return False
            s = nxt
        return s in self.finals

    def arcs(self) -> Iterable[tuple[int, str, int]]:
        for s, t in enumerate(self.trans):
            for w, d in sorted(t.items()):
                yield (s, w, d)

    def vocabulary(self) -> set[str]:
        return {w for t in self.trans for w in t}


def _closure(nfa: Nfa, states: Iterable[int], cache: dict[int, frozenset[int]]) -> frozenset[int]:
    out: set[int] = set()
    for s in states:
        c = cache.get(s)
        if c is None:
            seen = {s}
            stack = [s]
            while stack:
                u = stack.pop()
                for w, d, _ in nfa.arcs[u]:
                    if w is None and d not in seen:
                        seen.add(d)
                        stack.append(d)
            c = cache[s] = frozenset(seen)
        out |= c
    return frozenset(out)


def determinize(nfa: Nfa) -> Dfa:
    """Subset construction (tags ignored), then minimisation."""
    cache: dict[int, frozenset[int]] = {}
    start = _closure(nfa, [nfa.start], cache)
    index: dict[frozenset[int], int] = {start: 0}
    todo = [start]
    trans: list[dict[str, int]] = [{}]
    finals: set[int] = set()
    while todo:
        subset = todo.pop()
        sid = index[subset]
        if subset & nfa.finals:
            finals.add(sid)
        moves: dict[str, set[int]] = {}
        for s in subset:
            for w, d, _ in nfa.arcs[s]:
                if w is not None:
                    moves.setdefault(w, set()).add(d)
        for w, dsts in moves.items():
            target = _closure(nfa, dsts, cache)
            tid = index.get(target)
            if tid is None:
                tid = index[target] = len(trans)
                trans.append({})
                todo.append(target)
            trans[sid][w] = tid
    return minimize(Dfa(0, frozenset(finals), tuple(trans)))


def minimize(dfa: Dfa) -> Dfa:
    """Merge states with equal right languages; drop states that reach no final state.

    Raises ValueError on a cycle: domain languages must be finite.
    """
    order: list[int] = []
    colour = [0] * dfa.num_states  # 0 new, 1 on stack, 2 done
    stack: list[tuple[int, Iterable[int]]] = [(dfa.start, iter(dfa.trans[dfa.start].values()))]
    colour[dfa.start] = 1
    while stack:
        s, it = stack[-1]
        for d in it:
            if colour[d] == 1:
                raise ValueError("cyclic automaton: domain languages must be finite")
            if colour[d] == 0:
                colour[d] = 1
                stack.append((d, iter(dfa.trans[d].values())))
                break
        else:
            stack.pop()
            colour[s] = 2
            order.append(s)
    cls: dict[int, int] = {}
    signatures: dict[tuple[object, ...], int] = {}
    new_trans: list[dict[str, int]] = []
    new_finals: set[int] = set()
    dead = -1
    for s in order:  # post-order: successors first
        out = tuple(sorted((w, cls[d]) for w, d in dfa.trans[s].items() if cls[d] != dead))
        final = s in dfa.finals
        if not out and not final:
            cls[s] = dead
            continue
        sig = (final, out)
        c = signatures.get(sig)
        if c is None:
            c = signatures[sig] = len(new_trans)
            new_trans.append(dict(out))
            if final:
                new_finals.add(c)
        cls[s] = c
    if cls[dfa.start] == dead:
        return Dfa(0, frozenset(), ({},))
    # renumber so that the start state is 0 and states appear in breadth-first order
    start = cls[dfa.start]
    remap = {start: 0}
    queue = [start]
    for s in queue:
        for _, d in sorted(new_trans[s].items()):
            if d not in remap:
                remap[d] = len(remap)
                queue.append(d)
    trans = [dict[str, int]() for _ in remap]
    for old, new in remap.items():
        trans[new] = {w: remap[d] for w, d in new_trans[old].items()}
    return Dfa(0, frozenset(remap[f] for f in new_finals if f in remap), tuple(trans))


def dfa_from_phrases(phrases: Iterable[Sequence[str]]) -> Dfa:
    """Minimal DFA accepting exactly the given word sequences."""
    trans: list[dict[str, int]] = [{}]
    finals: set[int] = set()
    for words in phrases:
        s = 0
        for w in words:
            nxt = trans[s].get(w)
            if nxt is None:
                nxt = trans[s][w] = len(trans)
                trans.append({})
            s = nxt
        finals.add(s)
    return minimize(Dfa(0, frozenset(finals), tuple(trans)))


def concat(*parts: Dfa | None) -> Dfa:
    """Concatenation; a None part stands for the empty word (handy for optional parts)."""
    nfa = Nfa()
    cur = nfa.start
    for part in parts:
        nxt = nfa.state()
        if part is None:
            nfa.add(cur, None, nxt)
        else:
            nfa.embed(part, cur, nxt)
        cur = nxt
    nfa.finals.add(cur)
    return determinize(nfa)


def union(*parts: Dfa) -> Dfa:
    nfa = Nfa()
    end = nfa.state()
    nfa.finals.add(end)
    for part in parts:
        nfa.embed(part, nfa.start, end)
    return determinize(nfa)


def optional(part: Dfa) -> Dfa:
    return union(part, dfa_from_phrases([()]))


@dataclass(frozen=True)
class TagEvent:
    """A tag passed on an accepting path, at word position `pos` (words consumed so far)."""

    kind: str
    name: str
    pos: int


@dataclass(frozen=True)
class TaggedIndex:
    """Read-only view of an Nfa for simulation: word arcs and (tagged) epsilon arcs per state."""

    start: int
    finals: frozenset[int]
    by_word: tuple[dict[str, tuple[int, ...]], ...]
    eps: tuple[tuple[tuple[int, Tag | None], ...], ...]

    @staticmethod
    def of(nfa: Nfa) -> TaggedIndex:
        by_word: list[dict[str, tuple[int, ...]]] = []
        eps: list[tuple[tuple[int, Tag | None], ...]] = []
        for arcs in nfa.arcs:
            bw: dict[str, list[int]] = {}
            for w, d, _ in arcs:
                if w is not None:
                    bw.setdefault(w, []).append(d)
            by_word.append({w: tuple(ds) for w, ds in bw.items()})
            eps.append(tuple((d, t) for w, d, t in arcs if w is None))
        return TaggedIndex(nfa.start, frozenset(nfa.finals), tuple(by_word), tuple(eps))

    def parse(self, words: Sequence[str], max_paths: int = 4096) -> list[tuple[TagEvent, ...]]:
        """Tag sequences of all accepting paths for `words` (bounded simulation), shortest first."""
        configs = self._close({(self.start, ())}, 0, max_paths)
        for pos, w in enumerate(words, start=1):
            nxt = {(d, tags) for s, tags in configs for d in self.by_word[s].get(w, ())}
            if not nxt:
                return []
            configs = self._close(nxt, pos, max_paths)
        return sorted({tags for s, tags in configs if s in self.finals}, key=len)

    def _close(
        self, configs: set[tuple[int, tuple[TagEvent, ...]]], pos: int, max_paths: int
    ) -> set[tuple[int, tuple[TagEvent, ...]]]:
        out = set(configs)
        stack = list(configs)
        while stack and len(out) < max_paths:
            s, tags = stack.pop()
            for d, tag in self.eps[s]:
                item = (d, (*tags, TagEvent(tag[0], tag[1], pos)) if tag else tags)
                if item not in out:
                    out.add(item)
                    stack.append(item)
        return out
