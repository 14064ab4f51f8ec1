"""Value objects and typed errors of the domain contract (what the speech engine consumes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


class DomainError(ValueError):
    """Base of every error raised for a bad domain file or catalog."""


class DomainFileError(DomainError):
    """The domain file cannot be read."""


class DomainYamlError(DomainError):
    """The domain file is not valid YAML."""


class DomainSchemaError(DomainError):
    """The YAML does not have the domain structure (missing or mistyped keys)."""


class DomainReferenceError(DomainError):
    """A template names a list or expansion rule that the domain does not define."""


class DomainTemplateError(DomainError):
    """A sentence template cannot be parsed or expanded into words."""


class CatalogError(DomainError):
    """A catalog entry is malformed."""


@dataclass(frozen=True)
class WordGraph:
    """Finite acceptor over lowercase spoken word forms: arcs are (src, word, dst).

    Deterministic, minimal, acyclic, no epsilon arcs; states are numbered from `start` = 0
    in breadth-first order.
    """

    start: int
    finals: frozenset[int]
    arcs: tuple[tuple[int, str, int], ...]

    def __post_init__(self) -> None:
        seen: set[tuple[int, str]] = set()
        for src, word, _dst in self.arcs:
            if not word or word != word.strip() or " " in word:
                raise ValueError(f"bad word label {word!r}")
            if (src, word) in seen:
                raise ValueError(f"non-deterministic arc from {src} on {word!r}")
            seen.add((src, word))

    @property
    def num_states(self) -> int:
        states = {self.start, *self.finals}
        for s, _, d in self.arcs:
            states.update((s, d))
        return len(states)

    def successors(self) -> dict[int, dict[str, int]]:
        """Adjacency map state -> {word: next state} (build once and keep it when decoding)."""
        out: dict[int, dict[str, int]] = {}
        for s, w, d in self.arcs:
            out.setdefault(s, {})[w] = d
        return out

    def accepts(self, words: Iterable[str]) -> bool:
        table = self.__dict__.get("_succ")
        if table is None:
            table = self.successors()
            object.__setattr__(self, "_succ", table)
        state = self.start
        for w in words:
            nxt = table.get(state, {}).get(w)
            if nxt is None:
                return False
            state = nxt
        return state in self.finals

    def vocabulary(self) -> frozenset[str]:
        return frozenset(w for _, w, _ in self.arcs)


@dataclass(frozen=True)
class Understanding:
    """What a transcript means in a domain. intent None = not recognised."""

    intent: str | None
    slots: dict[str, str] = field(default_factory=dict)
    confidence: float = 0.0
    reply: str | None = None
    in_grammar: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence out of range: {self.confidence}")
        if self.intent is None and self.slots:
            raise ValueError("slots without an intent")


@dataclass(frozen=True)
class SampleSentence:
    """A sentence of the domain with its intent and EXPECTED normalised slot values."""

    text: str
    intent: str
    slots: dict[str, str] = field(default_factory=dict)
