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
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tokenizers import Tokenizer

from models.asr import numerals
from models.normalize.measures import LETTERS
from models.normalize.numbers import number_words

PUNCTUATION = (",", ".", "?", "!")
# how Whisper also writes some of the graph's words; :meth:`TokenAutomaton.words` reads them
# back ("a.m." -> "am")
WRITTEN_FORMS = {"en": {"am": ("a.m.", "AM"), "pm": ("p.m.", "PM")}}
# nats charged for starting a number written as digits rather than spelled (the setting
# measured; docs/speech.md, "Numbers as digits")
NUMERAL_COST = 2.0
_DOTTED = re.compile(r"\b([ap])\.m\.", re.IGNORECASE)
LANGUAGES = ("tr", "en")
# Serial numbers: Whisper writes spelled letters and digits run together in capitals
# ("serial no DGC6771", "W642"), where the graph has one word per letter or number ("d g c
# six seven seven one"). Wherever the graph can say at least MIN_RUN_LETTERS different
# letters, a run of capitals and digits may stand for them, read back one word per
# character (docs/speech.md, "Serial numbers").
# English only: Turkish letter names are written as syllables ("Fe", "Ce"), so a capital
# run is ambiguous there ("FEME17": F E M E, or F M?); measured, it gained and lost a
# Turkish serial each on the two draws tried.
RUN_LANGUAGES = ("en",)
# how a run's end is marked where a numeral's end carries its reading (``words`` spells the
# run from its tokens: run nodes do not hold their characters, so runs through the same
# graph states share one DFA state however many serials the hub has heard)
RUN_READING = ("<run>",)
RUN_PIECE = re.compile(r"[A-Z0-9]+")
MIN_RUN_LETTERS = 20
MAX_RUN_CHARACTERS = 12


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

    def _pieces(self, pattern: re.Pattern[str]) -> dict[int, str]:
        """The ordinary tokens whose text, leading space aside, is all ``pattern``, with
        their text: one scan of the vocabulary (only the matches are kept)."""
        pieces = {}
        for ident in range(self.eot):
            text = str(self.tokenizer.decode([ident]))
            if pattern.fullmatch(text.removeprefix(" ")):
                pieces[ident] = text
        return pieces

    @cached_property
    def numeral_pieces(self) -> dict[int, str]:
        """Tokens that can be part of a written number ("2", " 45", ":", "th", "%"), with
        their text (on first use)."""
        return self._pieces(numerals.PIECE)

    @cached_property
    def run_pieces(self) -> dict[int, str]:
        """Tokens that can be part of a serial run ("DG", " W", "67"), with their text."""
        return self._pieces(RUN_PIECE)

    @cached_property
    def numeral_starts(self) -> np.ndarray:
        """The numeral pieces that start a written number: a space, then a digit (" 2")."""
        pieces = self.numeral_pieces.items()
        starts = [t for t, piece in pieces if piece[:1] == " " and piece[1:2].isdigit()]
        return np.array(starts, np.int64)


def capitalise(word: str, language: str) -> str:
    """First letter upper case, Turkish dotted/dotless i handled."""
    if not word:
        return word
    turkish_i = {"i": "İ", "ı": "I"} if language == "tr" else {}
    return turkish_i.get(word[0], word[0].upper()) + word[1:]


_VOWEL_GROUPS = {"tr": re.compile("[aeıioöuüâîû]"), "en": re.compile("[aeiouy]+")}


def syllables(text: str, language: str) -> int:
    """Rough syllable count (Turkish: vowels; English: vowel groups, at least one a word; a
    serial run, "DGC6771", at least one a character: each is said; "AM" stays a word)."""
    pattern = _VOWEL_GROUPS.get(language, _VOWEL_GROUPS["en"])
    count = 0
    for word in text.split():
        said = max(1, len(pattern.findall(lower(word, language))))
        bare = word.strip("".join(PUNCTUATION))
        run = RUN_PIECE.fullmatch(bare) and (len(bare) > 2 or any(c.isdigit() for c in bare))
        count += max(said, len(bare)) if run else said
    return count


def lower(text: str, language: str) -> str:
    if language == "tr":
        text = text.replace("İ", "i").replace("I", "ı")
    return unicodedata.normalize("NFC", text.lower())


def run_words(language: str) -> dict[str, str]:
    """Each character of a serial run -> the graph word it stands for: a capital -> the
    letter's spoken name ("C" -> "c", Turkish "ce"), a digit -> the number ("6" -> "six")."""
    named = {capital: name for name, capital in LETTERS.get(language, LETTERS["en"]).items()}
    named.update({str(d): number_words(d, language)[0] for d in range(10)})
    return named


class TokenAutomaton:
    """Lazy DFA over token ids built from a word graph; state 0 is the start.

    Wherever the graph can say a number, the number may also be written as Whisper writes
    it ("2:45", "29th", "65%"; :mod:`models.asr.numerals`): the NFA then passes through
    numeral nodes ("n", s, text so far) and, once the text is a complete numeral, on to
    every graph state that one of its readings leads to from ``s``. :meth:`words` reads the
    numeral back as those words. Off by default (``written_numbers=False``: spelled-out
    words only): measured, it fixed as many commands as it cost (docs/speech.md).

    Where the graph can say most letters (a serial number goes on), English letters and
    digits may also be written run together in capitals ("DGC6771"): run nodes ("r", graph
    states the characters reach, characters left), each character read as one graph word.
    """

    def __init__(
        self,
        graph: WordGraphLike,
        tokenizer: WhisperTokenizer,
        language: str,
        *,
        written_numbers: bool = False,
    ) -> None:
        self.tokenizer = tokenizer
        self.language = language
        self.eot = tokenizer.eot
        # NFA: graph states are nodes ("g", s); trie nodes are ("t", s, token prefix)
        self._edges: dict[object, dict[int, set[object]]] = {}
        self._start = graph.start
        self._graph = graph
        self.numeral_cost = NUMERAL_COST
        self._entry_costs: dict[int, np.ndarray | None] = {}
        self._spelled_twin: TokenAutomaton | None = None
        self._arcs: dict[int, dict[str, set[int]]] = {}
        for src, word, dst in graph.arcs:
            self._arcs.setdefault(src, {}).setdefault(word, set()).add(dst)
        first = numerals.first_words(language) if written_numbers else frozenset()
        # graph states where a number may start, so digits may too
        self._numeral_states = {s for s, words in self._arcs.items() if first & words.keys()}
        # not as the first word: there digits crowd the widest beam of the search, and a
        # request rarely opens with a number
        self._numeral_states.discard(graph.start)
        # graph states where a serial may go on: a run of capitals and digits may start
        self._run_words = run_words(language) if language in RUN_LANGUAGES else {}
        letters = {w for c, w in self._run_words.items() if not c.isdigit()}
        self._run_states = {
            s for s, words in self._arcs.items() if len(letters & words.keys()) >= MIN_RUN_LETTERS
        }
        self._run_tables: dict[tuple[frozenset[int], int, bool], dict[int, Any]] = {}
        self._run_moves: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        self._numeral_edges: dict[object, dict[int, set[object]]] = {}
        self._closures: dict[object, frozenset[object]] = {}
        self._final_nodes: set[object] = {("g", s) for s in graph.finals}
        spellings: dict[str, list[int]] = {}
        for src, word, dst in graph.arcs:
            extra = WRITTEN_FORMS.get(language, {}).get(word, ())
            for surface in {word, capitalise(word, language), *extra}:
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

    def _out(self, node: Any) -> dict[int, set[object]]:
        """The NFA's token edges from ``node`` (numeral and serial-run edges made on first
        use)."""
        edges = self._edges.get(node, {})
        if not self._numeral_states and not self._run_states:
            return edges
        made = self._numeral_edges.get(node)
        if made is not None:
            return made
        kind, state = node[0], node[1]
        if kind == "n":
            text = str(node[2])
            made = {}
            for token, piece in self.tokenizer.numeral_pieces.items():
                grown = text + piece
                if not piece.startswith(" ") and self._may_take(state, grown):
                    made[token] = {("n", state, grown)}
        elif kind == "r":
            ends, room = node[1], node[2]
            made = {
                token: {("r", after, room - len(body))}
                for token, (body, after) in self._run_next(ends, room, spaced=False).items()
            }
        elif kind in ("g", "p") and state in self._numeral_states | self._run_states:
            made = {token: set(targets) for token, targets in edges.items()}
            # digits where a serial goes on are a run's, never a numeral's: one reading each
            if state in self._numeral_states and state not in self._run_states:
                for token, piece in self.tokenizer.numeral_pieces.items():
                    if piece.startswith(" ") and self._may_take(state, piece[1:]):
                        made.setdefault(token, set()).add(("n", state, piece[1:]))
            if state in self._run_states:
                starts = self._run_next(frozenset({state}), MAX_RUN_CHARACTERS, spaced=True)
                for token, (body, after) in starts.items():
                    made.setdefault(token, set()).add(("r", after, MAX_RUN_CHARACTERS - len(body)))
        else:
            made = edges
        self._numeral_edges[node] = made
        return made

    def _run_next(
        self, ends: frozenset[int], room: int, *, spaced: bool
    ) -> dict[int, tuple[str, frozenset[int]]]:
        """The tokens that may write the next characters of a serial run whose characters
        so far lead to graph states ``ends``, with at most ``room`` characters left: token
        -> (its characters, the graph states they lead to). ``spaced``: tokens with a
        leading space (a run's start), else without (its continuation). Cached by
        (ends, room, spaced): every run through the same states shares one table."""
        key = (ends, room, spaced)
        found = self._run_tables.get(key)
        if found is None:
            found = {}
            for token, piece in self.tokenizer.run_pieces.items():
                if piece.startswith(" ") != spaced or len(piece) - spaced > room:
                    continue
                body = piece[1:] if spaced else piece
                current = ends
                for character in body:
                    current = self._run_step(current, character)
                    if not current:
                        break
                if current:
                    found[token] = (body, current)
            self._run_tables[key] = found
        return found

    def _run_step(self, states: frozenset[int], character: str) -> frozenset[int]:
        """Graph states reached from ``states`` by the word ``character`` stands for."""
        key = (states, character)
        found = self._run_moves.get(key)
        if found is None:
            word = self._run_words.get(character)
            found = frozenset(d for s in states for d in self._arcs.get(s, {}).get(word or "", ()))
            self._run_moves[key] = found
        return found

    def _may_take(self, state: int, text: str) -> bool:
        """A numeral may grow to ``text`` from graph state ``state``: short and unfinished,
        or already readable there (so a path cannot wander into "788,002" where the graph
        takes a quantity up to 99, and crowd out the words that were said)."""
        if not numerals.may_start(text):
            return False
        return numerals.may_grow(text) or bool(self._readings_to(("n", state, text)))

    def _readings_to(self, node: object) -> list[tuple[tuple[str, ...], int]]:
        """For a numeral or serial-run node: (reading, graph state it leads to) for every
        reading of its text that the graph can say from where it started."""
        if not (isinstance(node, tuple) and node[0] in ("n", "r")):
            return []
        if node[0] == "r":  # ("r", graph states its characters lead to, characters left)
            return [(RUN_READING, end) for end in sorted(node[1])]
        _, state, text = node
        found = []
        for reading in numerals.readings(str(text), self.language):
            current = {int(state)}
            for word in reading:
                current = {d for s in current for d in self._arcs.get(s, {}).get(word, ())}
            found += [(reading, end) for end in sorted(current)]
        return found

    def _closure(self, nodes: set[object]) -> frozenset[object]:
        """``nodes`` plus the graph states that their complete numerals lead to."""
        more = set(nodes)
        for node in nodes:
            done = self._closures.get(node)
            if done is None:
                done = frozenset(("g", end) for _, end in self._readings_to(node))
                self._closures[node] = done
            more |= done
        return frozenset(more)

    @property
    def writes_numbers(self) -> bool:
        return bool(self._numeral_states)

    def entry_cost(self, state: int) -> np.ndarray | None:
        """Per token of ``allowed(state)``, the cost of starting a written number with it
        (None: no written number starts here); made once per state, as ``allowed`` is."""
        if not self._numeral_states or not self.numeral_cost:
            return None
        if state not in self._entry_costs:
            starts = self.tokenizer.numeral_starts
            cost = np.isin(self.allowed(state), starts) * self.numeral_cost
            self._entry_costs[state] = cost if cost.any() else None
        return self._entry_costs[state]

    def spelled_only(self) -> TokenAutomaton:
        """The same graph without written numbers (made once): the recogniser's fallback
        when every path ran into digits the graph cannot read."""
        if not self._numeral_states:
            return self
        if self._spelled_twin is None:
            self._spelled_twin = TokenAutomaton(
                self._graph, self.tokenizer, self.language, written_numbers=False
            )
        return self._spelled_twin

    def is_final(self, state: int) -> bool:
        return any(n in self._final_nodes for n in self._states[state])

    def allowed(self, state: int) -> np.ndarray:
        """Sorted token ids that may follow (end of text included at final states)."""
        cached = self._allowed.get(state)
        if cached is None:
            tokens: set[int] = set()
            for node in self._states[state]:
                tokens.update(self._out(node))
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
                nodes.update(self._out(node).get(token, ()))
            if not nodes:
                raise KeyError(f"token {token} not allowed in state {state}")
            written = self._numeral_states or self._run_states
            frozen = self._closure(nodes) if written else frozenset(nodes)
            found = self._index.get(frozen)
            if found is None:
                found = len(self._states)
                self._states.append(frozen)
                self._index[frozen] = found
            self._next[key] = found
        return found

    def _spelled(self, tokens: list[int]) -> list[str]:
        text = self.tokenizer.decode(tokens)
        if self.language == "en":
            text = _DOTTED.sub(r"\1m", text)
        for p in PUNCTUATION:
            text = text.replace(p, " ")
        return [lower(w, self.language) for w in text.split()]

    def words(self, tokens: list[int]) -> list[str]:
        """The graph words a constrained token sequence spells (punctuation dropped; a
        written number read as the words the graph has at its place)."""
        numeral = self.tokenizer.numeral_pieces if self._numeral_states else {}
        runs = self.tokenizer.run_pieces if self._run_states else {}
        if not any(t in numeral or t in runs for t in tokens):
            return self._spelled(tokens)
        # walk the NFA with back-pointers: node -> (previous node, token or reading)
        layers: list[dict[object, Any]] = []
        layer: dict[object, Any] = {("g", self._start): None}
        for token in tokens:
            layers.append(self._with_readings(layer))
            layer = {}
            for node in layers[-1]:
                for target in self._out(node).get(token, ()):
                    layer.setdefault(target, (node, token))
        layers.append(self._with_readings(layer))
        ends: list[object] = [n for n in layers[-1] if n in self._final_nodes]
        ends = ends or list(layers[-1])
        if not ends:
            raise KeyError("tokens not accepted by the automaton")
        # back from an end: the tokens spelled out, and each numeral's reading in its place
        steps: list[tuple[object, Any]] = []
        node, position = ends[0], len(tokens)
        while (back := layers[position][node]) is not None:
            previous, via = back
            steps.append((node, via))
            if isinstance(via, int):
                position -= 1
            node = previous
        words: list[str] = []
        spelled: list[int] = []
        run: list[int] = []
        for target, via in reversed(steps):
            if via == RUN_READING:  # a serial run ends: a word per character
                characters = self.tokenizer.decode(run).strip()
                words += self._spelled(spelled) + [self._run_words[c] for c in characters]
                spelled, run = [], []
            elif isinstance(via, tuple):  # a numeral ends: its reading
                words += self._spelled(spelled) + list(via)
                spelled = []
            elif isinstance(target, tuple) and target[0] == "r":
                run.append(via)
            elif not (isinstance(target, tuple) and target[0] == "n"):
                spelled.append(via)
        return words + self._spelled(spelled)

    def _with_readings(self, layer: dict[object, Any]) -> dict[object, Any]:
        """``layer`` plus the graph states its complete numerals lead to, each pointing
        back to its numeral with the reading that got it there."""
        grown = dict(layer)
        for node in layer:
            for reading, end in self._readings_to(node):
                grown.setdefault(("g", end), (node, reading))
        return grown
