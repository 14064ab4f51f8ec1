"""The pocketsphinx peer: CMU en-US acoustic model with a grammar made from the same domain
word graph, decoding in a worker process under a per-utterance time budget (with a realistic
grammar pocketsphinx can take tens of seconds on one utterance; see facts.md).

The grammar is handed over as a finite-state grammar (``create_fsg``) with the graph's own
states and arcs: pocketsphinx 5.1.1's JSGF compiler killed the process on the ~5,000-arc
right-linear JSGF of a domain (:func:`jsgf_from_graph` still writes it for inspection).

Words missing from the CMU dictionary cannot be in a pocketsphinx grammar: their arcs are
dropped and counted (:attr:`PocketsphinxPeer.dropped_words`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from models.asr.audio import float_to_pcm16
from models.asr.tokens import WordGraphLike

log = logging.getLogger(__name__)


def _model_paths() -> tuple[str, str]:
    from pocketsphinx import get_model_path

    root = Path(get_model_path())
    return str(root / "en-us" / "en-us"), str(root / "en-us" / "cmudict-en-us.dict")


def dictionary_words() -> set[str]:
    _, dict_path = _model_paths()
    words = set()
    with open(dict_path, encoding="utf-8") as stream:
        for line in stream:
            head = line.split(" ", 1)[0]
            words.add(head.split("(", 1)[0])
    return words


def jsgf_from_graph(graph: WordGraphLike, known: set[str]) -> tuple[str, set[str]]:
    """A right-linear JSGF grammar: one rule per state. Returns (grammar, dropped words)."""
    outgoing: dict[int, list[tuple[str, int]]] = {}
    dropped: set[str] = set()
    for src, word, dst in graph.arcs:
        if word in known:
            outgoing.setdefault(src, []).append((word, dst))
        else:
            dropped.add(word)
    states = {graph.start, *graph.finals} | {s for s, _, _ in graph.arcs}
    states |= {d for _, _, d in graph.arcs}
    lines = ["#JSGF V1.0;", "grammar domain;"]
    for state in sorted(states):
        options = [f"{w} <s{d}>" for w, d in outgoing.get(state, [])]
        if state in graph.finals:
            options.append("<NULL>")
        body = " | ".join(options) if options else "<VOID>"
        prefix = "public " if state == graph.start else ""
        lines.append(f"{prefix}<s{state}> = {body};")
    return "\n".join(lines) + "\n", dropped


def fsg_transitions(
    graph: WordGraphLike, known: set[str]
) -> tuple[int, list[tuple[int, int, float, str | None]]]:
    """(final state, transitions) with uniform probabilities and epsilon arcs from every
    final state to one added final state."""
    outgoing: dict[int, list[tuple[str, int]]] = {}
    for src, word, dst in graph.arcs:
        if word in known:
            outgoing.setdefault(src, []).append((word, dst))
    states = {graph.start, *graph.finals} | {s for s, _, _ in graph.arcs}
    states |= {d for _, _, d in graph.arcs}
    final = max(states) + 1
    transitions: list[tuple[int, int, float, str | None]] = []
    for state in sorted(states):
        arcs: list[tuple[int, str | None]] = [(d, w) for w, d in outgoing.get(state, [])]
        if state in graph.finals:
            arcs.append((final, None))
        for dst, word in arcs:
            if word is None:  # epsilon: pocketsphinx wants a 3-tuple
                transitions.append((state, dst, 1.0 / len(arcs)))  # type: ignore[arg-type]
            else:
                transitions.append((state, dst, 1.0 / len(arcs), word))
    return final, transitions


def _worker(
    graph: tuple[int, frozenset[int], tuple[tuple[int, str, int], ...]], conn: Connection
) -> None:
    from pocketsphinx import Config, Decoder

    hmm, dictionary = _model_paths()
    config = Config(hmm=hmm, dict=dictionary, loglevel="FATAL")
    decoder = Decoder(config)
    start, finals, arcs = graph
    final, transitions = fsg_transitions(_Graph(start, finals, arcs), dictionary_words())
    fsg = decoder.create_fsg("domain", start, final, transitions)
    decoder.add_fsg("domain", fsg)
    decoder.activate_search("domain")
    conn.send("ready")
    while True:
        pcm = conn.recv()
        if pcm is None:
            return
        decoder.start_utt()
        decoder.process_raw(pcm, no_search=False, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        conn.send(hyp.hypstr if hyp is not None else "")


@dataclass(frozen=True)
class _Graph:
    start: int
    finals: frozenset[int]
    arcs: tuple[tuple[int, str, int], ...]


@dataclass
class PeerResult:
    text: str | None  # None = over the time budget
    elapsed_ms: float


class PocketsphinxPeer:
    def __init__(self, graph: WordGraphLike, budget_s: float = 4.0) -> None:
        self.grammar, self.dropped_words = jsgf_from_graph(graph, dictionary_words())
        self._graph = (graph.start, frozenset(graph.finals), tuple(graph.arcs))
        self.budget_s = budget_s
        self._ctx = mp.get_context("fork")
        self._proc: Any = None
        self._conn: Connection | None = None
        self.timeouts = 0

    def _start(self) -> Connection:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker, args=(self._graph, child), daemon=True)
        self._proc.start()
        if not parent.poll(120) or parent.recv() != "ready":
            raise RuntimeError("pocketsphinx worker did not start")
        self._conn = parent
        return parent

    def recognize(self, samples: np.ndarray) -> PeerResult:
        conn = self._conn or self._start()
        t0 = time.perf_counter()
        conn.send(float_to_pcm16(samples))
        if conn.poll(self.budget_s):
            text = conn.recv()
            return PeerResult(str(text), (time.perf_counter() - t0) * 1000)
        self.timeouts += 1
        self.close()
        return PeerResult(None, self.budget_s * 1000)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        self._proc, self._conn = None, None
