"""Running the int8 Whisper graphs: encoding, constrained beam search, free greedy decoding.

The beam search walks a :class:`~models.asr.tokens.TokenAutomaton`; all beams go through
the decoder step as one batch and share the encoder's cross-attention keys/values (batch 1;
the graph folds the beams into one query axis). Every hypothesis also carries its
*regret*: the summed gap between the best token the model wanted at each step (over the
whole vocabulary) and the token the domain allowed. In-domain speech has a regret near zero
per token; speech the domain cannot express has a large one -- the recogniser's "not
recognised" signal.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.asr.features import SAMPLE_RATE, encoder_input
from models.asr.tokens import TokenAutomaton, WhisperTokenizer, syllables
from models.asr.weights import layer_names

# a live path whose mean log-probability per token trails the best ended one by more than
# this cannot usually catch up (docs/speech.md, "Search")
STOP_SLACK = 1.0
# Whisper's own probability of ending the text says whether the words so far cover the audio:
# a path that stops before the speech does ("please cancel my haircut appointment", with "ten
# past five in the morning" still to come) ended on an end-of-text token of -1.7 to -5.3
# nats on the tuning draws, one that covers it on -0.1 to -0.4. Averaged over the path's
# tokens that cost all but vanishes, so finished paths are ranked by their mean
# log-probability less ENDING_WEIGHT nats for every nat the ending falls below
# -ENDING_SLACK (docs/speech.md, "Endings").
ENDING_SLACK = 1.0
ENDING_WEIGHT = 2.0
# The decoder's prior is measured over this much digital silence: the recogniser's shortest
# encoder window by default (docs/speech.md, "Favourite phrases")
SILENCE_SECONDS = 4.0


# a live beam: (tokens, summed log-probability, regret, automaton state, each token's own
# log-probability)
Live = tuple[tuple[int, ...], float, float, int, tuple[float, ...]]


@dataclass(frozen=True)
class CrossAttention:
    """The audio's keys and values for every decoder layer, as the decoder takes them."""

    feeds: dict[str, np.ndarray]  # cross_k_i (1, H, dh, T), cross_v_i (1, H, T, dh)
    frames: int


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]
    logprob: float
    regret: float
    finished: bool
    end_logprob: float = 0.0  # of the end-of-text token, for finished paths
    # each scored token's log-probability as the search counted it (a written number's
    # first token less its entry cost), the end of text's included; for diagnostics
    # (benchmarks/rejection_rules.py)
    token_logprobs: tuple[float, ...] = ()

    @property
    def n_tokens(self) -> int:
        """Scored tokens, end of text included."""
        return len(self.tokens) + (1 if self.finished else 0)

    @property
    def mean_regret(self) -> float:
        return self.regret / max(1, self.n_tokens)

    @property
    def mean_logprob(self) -> float:
        return self.logprob / max(1, self.n_tokens)

    def rank(self, ending_weight: float = ENDING_WEIGHT) -> float:
        """What finished paths are compared by: the mean log-probability per token, less
        ``ending_weight`` nats for every nat the end-of-text token's own log-probability
        falls below ``-ENDING_SLACK`` (0: the plain mean)."""
        shortfall = max(0.0, -self.end_logprob - ENDING_SLACK)
        return (self.logprob - ending_weight * shortfall) / max(1, self.n_tokens)


_LIBC: ctypes.CDLL | None
try:
    _LIBC = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc
    _LIBC = None


def release_free_memory() -> None:
    """Hand freed heap pages back to the system after an utterance: the KV caches and logits
    of a 33-row beam are freed into glibc's heap, and without a trim a hub's RSS ratchets up
    by ~300 MB after a few wide-beam utterances."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def loop_start(tokens: list[int], longest: int = 6) -> int | None:
    """Index where ``tokens`` first repeat the n-gram just before it (n <= ``longest``)."""
    for i in range(1, len(tokens)):
        for n in range(1, min(longest, i) + 1):
            if tokens[i : i + n] == tokens[i - n : i]:  # a short tail never equals
                return i
    return None


def free_reading(tokens: list[int], logprobs: list[float], done: bool) -> Hypothesis:
    """The free greedy pass as a yardstick, cut where it falls into a repetition loop.

    Whisper on a short, unclear or cut-off window often loops ("Emet Emet Emet ..."); every
    token after the first cycle is near-certain, which would make the free reading look far
    better than any real sentence and reject correct commands. Only the reading up to the
    loop counts (``finished`` is then False, so the end-of-text score is not counted).
    """
    cut = loop_start(tokens)
    kept = tuple(logprobs if cut is None else logprobs[:cut])
    if cut is None:
        return Hypothesis(tuple(tokens), float(sum(kept)), 0.0, done, token_logprobs=kept)
    return Hypothesis(tuple(tokens[:cut]), float(sum(kept)), 0.0, False, token_logprobs=kept)


def make_session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = False  # keeps RSS close to what the tensors need
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class WhisperRunner:
    """``encoders``: the encoder file per language (``"*"`` for the rest); each session is
    opened on first use, so a hub with English domains only never loads the Turkish one."""

    def __init__(
        self,
        encoder: Path | dict[str, Path],
        decoder: Path,
        tokenizer: WhisperTokenizer,
        threads: int = 1,
    ) -> None:
        self.tokenizer = tokenizer
        self._encoder_files = encoder if isinstance(encoder, dict) else {"*": encoder}
        self._encoders: dict[Path, ort.InferenceSession] = {}
        self._threads = threads
        self._opening = threading.Lock()
        self._session_for("*")
        self._decoder = make_session(decoder, threads)
        first = next(i for i in self._decoder.get_inputs() if i.name == "past_k_0")
        layers = sum(i.name.startswith("past_") for i in self._decoder.get_inputs()) // 2
        self._past_names = layer_names("past", layers)
        self._outputs = ["logprobs", *layer_names("present", layers)]
        self._cache_shape = (int(first.shape[1]), int(first.shape[3]))
        self._silence: dict[str, CrossAttention] = {}  # float16

    def _session_for(self, language: str | None) -> ort.InferenceSession:
        path = self._encoder_files.get(language or "*", self._encoder_files["*"])
        session = self._encoders.get(path)
        if session is None:
            with self._opening:  # a loader thread and the inference thread may both ask
                session = self._encoders.get(path)
                if session is None:
                    session = self._encoders[path] = make_session(path, self._threads)
        return session

    def prepare(self, language: str) -> None:
        """Open the language's encoder and encode its window of silence now (not inside
        the first request)."""
        self._session_for(language)
        self._encoded_silence(language)

    def _encoded_silence(self, language: str) -> CrossAttention:
        """The encoded window of silence, kept as float16 between uses: 2.5 MB a language
        instead of 4.9 (the hub's peak is the wide retry's, which this sits beside)."""
        kept = self._silence.get(language)
        if kept is None:
            silence = np.zeros(SAMPLE_RATE, np.float32)  # + padding: SILENCE_SECONDS of zeros
            cross = self.encode(silence, 0.0, SILENCE_SECONDS, language)
            halves = {name: value.astype(np.float16) for name, value in cross.feeds.items()}
            kept = self._silence[language] = CrossAttention(halves, cross.frames)
        return kept

    def _silence_for(self, language: str) -> CrossAttention:
        """The window of silence as the decoder takes it (float32)."""
        kept = self._encoded_silence(language)
        feeds = {name: value.astype(np.float32) for name, value in kept.feeds.items()}
        return CrossAttention(feeds, kept.frames)

    def encode(
        self,
        audio: np.ndarray,
        tail_seconds: float = 1.0,
        min_seconds: float = 0.0,
        language: str | None = None,
    ) -> CrossAttention:
        mel = encoder_input(audio, tail_seconds, min_seconds=min_seconds)
        session = self._session_for(language)
        names = [o.name for o in session.get_outputs()]
        outputs = session.run(names, {"mel": mel[None]})
        return CrossAttention(dict(zip(names, outputs, strict=True)), mel.shape[1])

    def _step(
        self, tokens: np.ndarray, past: list[np.ndarray], cross: CrossAttention
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One decoder step; ``past`` is the cache per layer (k, v, k, v, ...)."""
        feeds = dict(zip(self._past_names, past, strict=True))
        feeds.update(cross.feeds)
        feeds["tokens"] = tokens
        logprobs, *present = self._decoder.run(self._outputs, feeds)
        return logprobs, present

    def _start(self, cross: CrossAttention, language: str) -> tuple[np.ndarray, list[np.ndarray]]:
        heads, d_head = self._cache_shape
        empty = np.zeros((1, heads, 0, d_head), np.float32)
        prompt = np.array([self.tokenizer.prompt(language)], np.int64)
        return self._step(prompt, [empty] * len(self._past_names), cross)

    def silence_logprobs(self, language: str, sequences: list[tuple[int, ...]]) -> list[float]:
        """Summed log-probability of each token sequence (its end-of-text token included)
        over a window of digital silence: how readily the decoder writes it with no speech
        at all. Sequences that share a prefix share its decoder rows, so the cost is the
        prompt step and one step per token of the longest sequence but its last, with one
        row per distinct prefix."""
        cross = self._silence_for(language)
        logprobs, past = self._start(cross, language)
        rows: dict[tuple[int, ...], int] = {(): 0}
        totals = [0.0] * len(sequences)
        depth = 0
        while True:
            following: dict[tuple[int, ...], int] = {}
            parents: list[int] = []
            feed: list[int] = []
            for i, sequence in enumerate(sequences):
                if depth >= len(sequence):
                    continue
                row = rows[sequence[:depth]]
                totals[i] += float(logprobs[row, sequence[depth]])
                prefix = sequence[: depth + 1]
                if depth + 1 < len(sequence) and prefix not in following:
                    following[prefix] = len(parents)
                    parents.append(row)
                    feed.append(sequence[depth])
            if not parents:
                return totals
            past = [layer.take(np.array(parents), axis=0) for layer in past]
            logprobs, past = self._step(np.array(feed, np.int64)[:, None], past, cross)
            rows, depth = following, depth + 1

    def beam_search(
        self,
        cross: CrossAttention,
        automaton: TokenAutomaton,
        *,
        beam: int = 8,
        max_tokens: int = 64,
        min_syllables: int = 0,
        opening_beam: int = 24,
        opening_steps: int = 3,
        stop_slack: float = STOP_SLACK,
        prune: float | None = None,
        ending_weight: float = ENDING_WEIGHT,
    ) -> tuple[list[Hypothesis], Hypothesis]:
        """(complete paths through the automaton, free greedy transcription).

        Live beams are ranked by summed log-probability (all have the same length); finished
        ones by mean log-probability per token, so that a short phrase the domain allows
        does not beat the long one that was said, less a cost for an ending Whisper finds
        unlikely (``Hypothesis.rank``: the audio goes on after those words). The search
        stops once ``beam`` paths have finished. A free greedy row rides in the same batch:
        its mean log-probability is the yardstick for how well the best constrained path
        explains the audio.
        The first ``opening_steps`` tokens keep ``opening_beam`` paths: the first word is
        where the domain offers the most choices and the audio helps least.
        A path may end only once it has ``min_syllables`` (from the speech duration): a
        one-word command cannot end the search over three seconds of speech.
        ``prune``: drop candidates (continuations and endings) more than this many nats
        (summed) below the best continuation before the next step (off by default: it
        saves about a fifth of the decode and costs accuracy in noise; docs/speech.md,
        "Pruning").
        """
        logprobs, past = self._start(cross, automaton.language)
        live: list[Live] = [((), 0.0, 0.0, 0, ())]
        finished: list[Hypothesis] = []
        eot = self.tokenizer.eot
        free_tokens: list[int] = []
        free_lps: list[float] = []
        free_done = False
        free_row = 0  # the free row shares the prompt row at first
        for step in range(max_tokens):
            width = max(beam, opening_beam) if step < opening_steps else beam
            if not free_done:
                token = int(np.argmax(logprobs[free_row]))
                free_lps.append(float(logprobs[free_row, token]))
                free_done = token == eot
                if not free_done:
                    free_tokens.append(token)
            # (summed score, regret, row, token, the token's own log-probability)
            candidates: list[tuple[float, float, int, int, float]] = []
            for row, (_toks, score, regret, state, _lps) in enumerate(live):
                allowed = automaton.allowed(state)
                if allowed.size == 0:
                    continue
                lp_row = logprobs[row]
                best = float(lp_row.max())
                lp_allowed = lp_row[allowed]
                cost = automaton.entry_cost(state)
                if cost is not None:
                    lp_allowed = lp_allowed - cost
                for j in np.argsort(-lp_allowed)[:width]:
                    lp = float(lp_allowed[j])
                    candidates.append((score + lp, regret + best - lp, row, int(allowed[j]), lp))
            candidates.sort(key=lambda c: -c[0])
            # pruning is measured against the best continuation, not an ending
            best_live = next((c[0] for c in candidates if c[3] != eot), None)
            floor = -np.inf if prune is None or best_live is None else best_live - prune
            next_live: list[Live] = []
            parents: list[int] = []
            for score, regret, row, token, lp in candidates[: 2 * width]:
                if score < floor:  # sorted: every later candidate, ending or not, is pruned
                    break
                toks, _, _, state, lps = live[row]
                if token == eot:
                    # an ending counts only if it ranks among the best `beam` candidates, so
                    # a domain full of one-word commands cannot end the search at once
                    if len(next_live) < width and self._long_enough(toks, automaton, min_syllables):
                        finished.append(Hypothesis(toks, score, regret, True, lp, (*lps, lp)))
                elif len(next_live) < width:
                    after = automaton.step(state, token)
                    next_live.append(((*toks, token), score, regret, after, (*lps, lp)))
                    parents.append(row)
            if not next_live or self._settled(finished, next_live, beam, stop_slack, ending_weight):
                break
            live = next_live
            feed = [t[0][-1] for t in live]
            if not free_done:
                parents.append(free_row)
                feed.append(free_tokens[-1])
            rows = np.array(parents)
            past = [layer.take(rows, axis=0) for layer in past]
            free_row = len(live)
            logprobs, past = self._step(np.array(feed, np.int64)[:, None], past, cross)
        return finished, free_reading(free_tokens, free_lps, free_done)

    @staticmethod
    def _settled(
        finished: list[Hypothesis],
        live: list[Live],
        beam: int,
        slack: float,
        ending_weight: float = ENDING_WEIGHT,
    ) -> bool:
        """Enough paths have ended and no live one is still within ``slack`` nats/token of
        the best ended one. Stopping at the first ``beam`` endings instead lets a domain's
        one-word commands end the search before the long sentence that was said can."""
        if len(finished) < beam:
            return False
        best_done = max(h.rank(ending_weight) for h in finished)
        best_live = max(score / (len(toks) + 1) for toks, score, *_ in live)
        return best_live < best_done - slack

    def _long_enough(
        self, tokens: tuple[int, ...], automaton: TokenAutomaton, min_syllables: int
    ) -> bool:
        if min_syllables <= 0:
            return True
        return syllables(self.tokenizer.decode(list(tokens)), automaton.language) >= min_syllables

    def forced(
        self, cross: CrossAttention, language: str, tokens: list[int]
    ) -> list[tuple[float, int, float]]:
        """The decoder fed ``tokens`` one row at a time (a diagnostic): for each, its
        log-probability there, the token the decoder liked best there and that one's
        log-probability. The last token is scored, not fed."""
        logprobs, past = self._start(cross, language)
        scored = []
        for i, token in enumerate(tokens):
            top = int(np.argmax(logprobs[0]))
            scored.append((float(logprobs[0, token]), top, float(logprobs[0, top])))
            if i + 1 < len(tokens):
                logprobs, past = self._step(np.array([[token]], np.int64), past, cross)
        return scored

    def greedy(self, cross: CrossAttention, language: str, max_tokens: int = 48) -> Hypothesis:
        """Unconstrained greedy transcription (the free reference for scoring)."""
        logprobs, past = self._start(cross, language)
        tokens: list[int] = []
        total = 0.0
        for _ in range(max_tokens):
            token = int(np.argmax(logprobs[0]))
            total += float(logprobs[0, token])
            if token == self.tokenizer.eot:
                return Hypothesis(tuple(tokens), total, 0.0, True)
            tokens.append(token)
            logprobs, past = self._step(np.array([[token]], np.int64), past, cross)
        return Hypothesis(tuple(tokens), total, 0.0, False)
