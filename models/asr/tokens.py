"""Whisper's tokenizer and the token automaton that constrains decoding to a domain.

A domain's :class:`~models.domain.WordGraph` accepts word sequences. Whisper emits BPE tokens
with a leading space per word, capitalised words at the start of sentences and punctuation.
:class:`TokenAutomaton` spells every arc's word as tokens (lowercase and capitalised, with the
leading space), shares prefixes in a trie per graph state, allows punctuation after a word,
and determinises lazily (sets of NFA nodes), so the beam search asks only "which tokens may
follow here" and "where does this token lead".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tokenizers import Tokenizer

PUNCTUATION = (",", ".", "?", "!")
LANGUAGES = ("tr", "en")


class WordGraphLike(Protocol):
    @property
    def start(self) -> int: ...

    @property
    def finals(self) -> frozenset[int]: ...

    @property
    def arcs(self) -> tuple[tuple[int, str, int], ...]: ...


class TokenizerError(ValueError):
    """The tokenizer file lacks a token Whisper's prompt needs."""


@dataclass(frozen=True)
class WhisperTokenizer:
    tokenizer: Tokenizer
    sot: int
    eot: int
    transcribe: int
    no_timestamps: int
    languages: dict[str, int]

    @classmethod
    def load(cls, path: Path) -> WhisperTokenizer:
        tok = Tokenizer.from_file(str(path))

        def special(text: str) -> int:
            ident = tok.token_to_id(text)
            if ident is None:
                raise TokenizerError(f"{path}: no token {text}")
            return int(ident)

        return cls(
            tokenizer=tok,
            sot=special("<|startoftranscript|>"),
            eot=special("<|endoftext|>"),
            transcribe=special("<|transcribe|>"),
            no_timestamps=special("<|notimestamps|>"),
            languages={lang: special(f"<|{lang}|>") for lang in LANGUAGES},
        )

    def prompt(self, language: str) -> list[int]:
        if language not in self.languages:
            raise TokenizerError(f"unsupported language {language!r}")
        return [self.sot, self.languages[language], self.transcribe, self.no_timestamps]

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode([i for i in ids if i < self.eot]))


def capitalise(word: str, language: str) -> str:
    """First letter upper case, Turkish dotted/dotless i handled."""
    if not word:
        return word
    turkish_i = {"i": "İ", "ı": "I"} if language == "tr" else {}
    return turkish_i.get(word[0], word[0].upper()) + word[1:]


_VOWEL_GROUPS = {"tr": re.compile("[aeıioöuüâîû]"), "en": re.compile("[aeiouy]+")}


def syllables(text: str, language: str) -> int:
    """Rough syllable count (Turkish: vowels; English: vowel groups, at least one a word)."""
    pattern = _VOWEL_GROUPS.get(language, _VOWEL_GROUPS["en"])
    return sum(max(1, len(pattern.findall(w))) for w in lower(text, language).split())


def lower(text: str, language: str) -> str:
    if language == "tr":
        text = text.replace("İ", "i").replace("I", "ı")
    return unicodedata.normalize("NFC", text.lower())


class TokenAutomaton:
    """Lazy DFA over token ids built from a word graph; state 0 is the start."""

    def __init__(self, graph: WordGraphLike, tokenizer: WhisperTokenizer, language: str) -> None:
        self.tokenizer = tokenizer
        self.language = language
        self.eot = tokenizer.eot
        # NFA: graph states are nodes ("g", s); trie nodes are ("t", s, token prefix)
        self._edges: dict[object, dict[int, set[object]]] = {}
        self._final_nodes = {("g", s) for s in graph.finals}
        spellings: dict[str, list[int]] = {}
        for src, word, dst in graph.arcs:
            for surface in {word, capitalise(word, language)}:
                ids = spellings.setdefault(surface, tokenizer.encode(" " + surface))
                self._add_path(src, ids, dst)
        # one punctuation mark may follow a word: ("p", s) continues like ("g", s) but
        # allows no further mark, so beams cannot stall on ",,,,"
        punct = [ids[0] for ids in (tokenizer.encode(p) for p in PUNCTUATION) if len(ids) == 1]
        for state in {s for _, _, s in graph.arcs}:
            words = self._edges.get(("g", state), {})
            self._edges[("p", state)] = dict(words)
            if state in graph.finals:
                self._final_nodes.add(("p", state))
            for token in punct:
                self._edges.setdefault(("g", state), {}).setdefault(token, set()).add(("p", state))
        self._states: list[frozenset[object]] = [frozenset({("g", graph.start)})]
        self._index: dict[frozenset[object], int] = {self._states[0]: 0}
        self._allowed: dict[int, np.ndarray] = {}
        self._next: dict[tuple[int, int], int] = {}

    def _add_path(self, src: int, ids: list[int], dst: int) -> None:
        node: object = ("g", src)
        for i, token in enumerate(ids):
            targets = self._edges.setdefault(node, {}).setdefault(token, set())
            if i == len(ids) - 1:
                targets.add(("g", dst))
            else:
                child = ("t", src, tuple(ids[: i + 1]))
                targets.add(child)
                node = child

    def is_final(self, state: int) -> bool:
        return any(n in self._final_nodes for n in self._states[state])

    def allowed(self, state: int) -> np.ndarray:
        """Sorted token ids that may follow (end of text included at final states)."""
        cached = self._allowed.get(state)
        if cached is None:
            tokens: set[int] = set()
            for node in self._states[state]:
                tokens.update(self._edges.get(node, {}))
            if self.is_final(state):
                tokens.add(self.eot)
            cached = np.array(sorted(tokens), dtype=np.int64)
            self._allowed[state] = cached
        return cached

    def step(self, state: int, token: int) -> int:
        key = (state, token)
        found = self._next.get(key)
        if found is None:
            nodes: set[object] = set()
            for node in self._states[state]:
                nodes.update(self._edges.get(node, {}).get(token, ()))
            if not nodes:
                raise KeyError(f"token {token} not allowed in state {state}")
            frozen = frozenset(nodes)
            found = self._index.get(frozen)
            if found is None:
                found = len(self._states)
                self._states.append(frozen)
                self._index[frozen] = found
            self._next[key] = found
        return found

    def words(self, tokens: list[int]) -> list[str]:
        """The graph words a constrained token sequence spells (punctuation dropped)."""
        text = self.tokenizer.decode(tokens)
        for p in PUNCTUATION:
            text = text.replace(p, " ")
        return [lower(w, self.language) for w in text.split()]
