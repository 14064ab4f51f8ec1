"""Domain-constrained recognition: audio + word graph -> words, or "not recognised".

The decision rule (calibrated by ``arma-models eval``, see docs/speech.md): the constrained
beam search's best path is accepted when its mean log-probability per token falls at most
``reject_margin`` nats below that of Whisper's own free (unconstrained, greedy) reading of
the same audio. Speech the domain can express scores about as well constrained as free;
other speech, silence and noise score far worse. Confidence maps the same margin through a
logistic centred on the threshold. When no search passes the margin, the final path is
still accepted if the free reading spells its letters but for a letter or so ("eve ton aylı
yurtum" for "evet onaylıyorum"): Whisper wrote the sentence itself, only cut into other
words than the grammar's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Indel

from models.asr.audio import loud_frames
from models.asr.build import BuiltModel, ensure_built
from models.asr.decoder import (
    ENDING_WEIGHT,
    Hypothesis,
    WhisperRunner,
    release_free_memory,
)
from models.asr.features import SAMPLE_RATE
from models.asr.tokens import TokenAutomaton, WhisperTokenizer, WordGraphLike, lower

# Nats per token the constrained path may fall below the free reading, per language,
# calibrated on the tuning draws (`--seed 11`, checked on `--seed 5`: clean and 9 dB
# in-domain vs out-of-domain sentences; docs/speech.md, "Rejection"). Before Turkish got
# the adapted encoder it needed a tighter bound (1.5): Whisper read espeak-ng's Turkish so
# poorly that its free reading was weak too, which flattered wrong paths. English runs the
# plain encoder, as calibrated before.
REJECT_MARGINS = {"en": 2.3, "tr": 2.0}
DEFAULT_REJECT_MARGIN = 2.0  # other languages
# A path the margin rejects is still accepted when its letters and the free reading's
# (lower case, letters and digits only, spaces gone) are at least SPELLED_ALIKE alike
# (rapidfuzz's normalised Indel similarity), differ by at most SPELLED_MAX_EDITS insertions
# and deletions (one changed letter is two) and in length by at most SPELLED_MAX_LENGTH_GAP:
# the grammar spells a word in one tokenisation, and where Whisper heard other word
# boundaries ("eve ton aylı yurtum") one or two of the grammar's tokens cost 7-9 nats. The
# caps keep out what similarity alone forgives: a negation ("istiyorum" / "istemiyorum",
# "cancel" / "don't cancel"), another word in a slot ("five" / "nine", "thursday" /
# "saturday") and a path that finishes a sentence the speaker has not ("friday at" / "friday
# at five"). Replayed on four tuning draws (benchmarks/rejection_rules.py, docs/speech.md,
# "Rejection rules measured").
SPELLED_ALIKE = 0.8
SPELLED_MAX_EDITS = 3
SPELLED_MAX_LENGTH_GAP = 1
# A path must have at least this many syllables per second of detected speech (people say
# 3-6 a second; espeak-ng at the rates used here about 4).
MIN_SYLLABLE_RATE = 1.5
MIN_AUDIO_SECONDS = 0.2
# Short utterances are encoded in a window padded with silence to this length: Whisper reads
# a one-word answer in a window barely longer than the word poorly (docs/speech.md, "Encoder
# window"); longer audio keeps the 1 s tail.
MIN_WINDOW_SECONDS = 4.0
# The wide retry's key/value cache grows with paths x tokens: 6 layers x (keys + values) x
# 8 heads x 64 x 4 bytes = 24.6 KB per path and token, held twice while a step runs. On long
# rejected speech 32 paths took the hub past 400 MB. A wide search gets at most this many
# paths x token budget (16 + 8 per second of audio), ~50 MB of caches: all 32 paths up to
# 2 s of audio, 18 at 5 s, 9 at 12 s, never fewer than the narrow search; where that leaves
# no more than the narrow search (from ~12.25 s), no retry runs (docs/speech.md, "Wide
# retry").
RETRY_PATH_TOKENS = 1024
# Whisper's decoder has favourite phrases ("that's right", "what can you do") that it finds
# likely over babble or a word it cannot make out. The word sequences a search finished are
# compared by their rank less PRIOR_WEIGHT x their mean log-probability per token over
# silence (a contextual calibration: what the decoder would write with no speech at all),
# counted down to PRIOR_FLOOR only, so that a rare phrase gains nothing from being rarer
# still; only those within PRIOR_WINDOW nats/token of the best rank are scored, the rest
# could not overtake it on the tuning draws (docs/speech.md, "Favourite phrases").
PRIOR_WEIGHT = 0.2
PRIOR_FLOOR = -7.0
PRIOR_WINDOW = 0.5
PRIOR_CACHE_ENTRIES = 20_000


@dataclass(frozen=True)
class Transcript:
    words: tuple[str, ...] | None  # None = not recognised
    confidence: float
    margin: float  # constrained minus free mean log-probability per token (<= ~0)
    logprob: float
    free_text: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    # the finished paths of its searches: a later retry on the same audio chooses among
    # these and its own, as one call with both searches would
    finished: tuple[Hypothesis, ...] = ()
    # accepted because the free reading spells it, not on the margin (SPELLED_ALIKE)
    spelled: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words or ())

    @property
    def recognised(self) -> bool:
        return self.words is not None


def confidence_from_margin(margin: float, threshold: float) -> float:
    return 1.0 / (1.0 + math.exp(-2.0 * (margin + threshold)))


def letters(text: str, language: str) -> str:
    """Lower case letters and digits only: "Eve ton, aylı yurtum." -> "evetonaylıyurtum"."""
    return "".join(c for c in lower(text, language) if c.isalnum())


def spelled_alike(
    words: tuple[str, ...], free_text: str, language: str, similarity: float = SPELLED_ALIKE
) -> bool:
    """The free reading spells the path's letters but for a letter or so
    (``SPELLED_ALIKE``, ``SPELLED_MAX_EDITS``, ``SPELLED_MAX_LENGTH_GAP``)."""
    ours, theirs = letters(" ".join(words), language), letters(free_text, language)
    if not ours or not theirs or abs(len(ours) - len(theirs)) > SPELLED_MAX_LENGTH_GAP:
        return False
    edits = Indel.distance(ours, theirs)  # normalised: 1 - edits / both lengths
    return edits <= SPELLED_MAX_EDITS and 1 - edits / (len(ours) + len(theirs)) >= similarity


def active_seconds(audio: np.ndarray, frame: int = 320) -> float:
    """Time in 20 ms frames within 30 dB of the loudest frame (a VAD-free fallback)."""
    return float(loud_frames(audio, 30.0, frame).size * frame / SAMPLE_RATE)


def token_budget(seconds: float) -> int:
    """The most tokens a search may decode for audio of this length."""
    return int(16 + 8 * seconds)


def search_width(requested: int, narrow: int, max_tokens: int, path_tokens: int | None) -> int:
    """Paths for a search of ``requested`` paths over at most ``max_tokens`` tokens: a
    search wider than the ``narrow`` one gets at most ``path_tokens`` paths x tokens, and
    never fewer paths than the narrow one (``path_tokens`` None: no cap)."""
    if requested <= narrow or path_tokens is None:
        return requested
    return max(narrow, min(requested, path_tokens // max_tokens))


class Recognizer:
    def __init__(
        self,
        built: BuiltModel | None = None,
        *,
        threads: int = 1,
        beam: int = 8,
        retry_beam: int = 32,
        retry_path_tokens: int | None = RETRY_PATH_TOKENS,
        prune: float | None = None,
        written_numbers: bool = False,
        ending_weight: float = ENDING_WEIGHT,
        prior_weight: float = PRIOR_WEIGHT,
        reject_margin: float | None = None,
        spelled_alike: float | None = SPELLED_ALIKE,
        tail_seconds: float = 1.0,
        min_window_seconds: float = MIN_WINDOW_SECONDS,
    ) -> None:
        self.built = built or ensure_built()
        self.tokenizer = WhisperTokenizer.load(self.built.directory / "tokenizer.json")
        self.runner = WhisperRunner(
            self.built.encoders, self.built.decoder, self.tokenizer, threads=threads
        )
        self.beam = beam
        self.retry_beam = retry_beam
        self.retry_path_tokens = retry_path_tokens
        self.prune = prune  # nats; None = no pruning (docs/speech.md, "Pruning")
        # numbers also as Whisper writes them (docs/speech.md, "Numbers as digits")
        self.written_numbers = written_numbers
        # an unlikely ending costs a path this much (docs/speech.md, "Endings"; 0: off)
        self.ending_weight = ending_weight
        # a favourite phrase's prior costs this much (docs/speech.md, "Favourite phrases"; 0: off)
        self.prior_weight = prior_weight
        self._priors: dict[tuple[str, tuple[str, ...]], float] = {}
        self.reject_margin = reject_margin  # None: per-language REJECT_MARGINS
        self.spelled_alike = spelled_alike  # None: the margin alone decides
        self.tail_seconds = tail_seconds
        self.min_window_seconds = min_window_seconds

    @classmethod
    def from_directory(cls, directory: Path, **kwargs: object) -> Recognizer:
        from models.asr.build import load_built

        built = load_built(directory)
        if built is None:
            raise FileNotFoundError(f"no built speech model in {directory}")
        return cls(built, **kwargs)  # type: ignore[arg-type]

    def threshold(self, language: str) -> float:
        if self.reject_margin is not None:
            return self.reject_margin
        return REJECT_MARGINS.get(language, DEFAULT_REJECT_MARGIN)

    def automaton(self, graph: WordGraphLike, language: str) -> TokenAutomaton:
        self.runner.prepare(language)
        return TokenAutomaton(graph, self.tokenizer, language, written_numbers=self.written_numbers)

    def search_widths(
        self, seconds: float, searches: tuple[int, ...] | None = None
    ) -> tuple[int, ...]:
        """The beam widths ``transcribe`` runs on audio of this length, in turn: a wider
        search only where its key/value budget leaves it wider than the narrow one (at
        ~12.3 s it would repeat the narrow search exactly, so it is not run)."""
        max_tokens = token_budget(seconds)
        widths = []
        for requested in searches or (self.beam, self.retry_beam):
            width = search_width(requested, self.beam, max_tokens, self.retry_path_tokens)
            if requested <= self.beam or width > self.beam:
                widths.append(width)
        return tuple(widths)

    def choose(
        self,
        finished: list[Hypothesis],
        automaton: TokenAutomaton,
        meaning: Callable[[tuple[str, ...]], Hashable] | None = None,
    ) -> Hypothesis | None:
        """The finished path the recogniser answers with. Paths compete by rank (an unlikely
        ending costs; docs/speech.md, "Endings"), one per word sequence; the sequences
        within PRIOR_WINDOW of the best rank also pay PRIOR_WEIGHT x their mean
        log-probability over silence, counted down to PRIOR_FLOOR ("Favourite phrases").
        ``meaning`` (words -> what the domain makes of them): when every close sequence means
        the same ("haircut" / "hair cut"), the prior has nothing to decide and the best-ranked
        is taken without scoring anything over silence.
        Acceptance is then the chosen path's plain mean against the free reading."""
        if not finished:
            return None
        ranks = [path.rank(self.ending_weight) for path in finished]
        best = max(ranks)
        top = finished[ranks.index(best)]  # the first of equals, as before the prior
        if self.prior_weight <= 0:
            return top
        # the best-ranked path of each word sequence within the window (only those paths
        # are read back as words: this runs after every search)
        by_words: dict[tuple[str, ...], tuple[float, Hypothesis]] = {}
        for path, rank in zip(finished, ranks, strict=True):
            if rank >= best - PRIOR_WINDOW:
                words = tuple(automaton.words(list(path.tokens)))
                if words not in by_words or rank > by_words[words][0]:
                    by_words[words] = (rank, path)
        close = list(by_words)
        if len(close) < 2 or (meaning is not None and len({meaning(w) for w in close}) < 2):
            return top
        priors = self.silence_priors(automaton.language, close)
        weight = self.prior_weight
        scores = [
            by_words[w][0] - weight * max(p, PRIOR_FLOOR)
            for w, p in zip(close, priors, strict=True)
        ]
        return by_words[close[scores.index(max(scores))]][1]

    def silence_priors(self, language: str, phrases: list[tuple[str, ...]]) -> list[float]:
        """Mean log-probability per token of each word sequence over silence, in one fixed
        spelling (a leading space, lower case, end of text); cached per phrase, so a
        domain's answers cost decoder steps only once. A phrase's figure can differ by ~0.2
        nats/token with the batch that first scored it (int8 activations are quantised per
        batch): at PRIOR_WEIGHT, ~0.04 nats/token of score."""
        known = {p: self._priors[(language, p)] for p in phrases if (language, p) in self._priors}
        missing = [p for p in phrases if p not in known]
        if missing:
            eot = self.tokenizer.eot
            spelled = [(*self.tokenizer.encode(" " + " ".join(p)), eot) for p in missing]
            totals = self.runner.silence_logprobs(language, spelled)
            for phrase, tokens, total in zip(missing, spelled, totals, strict=True):
                known[phrase] = total / len(tokens)
            if len(self._priors) + len(missing) > PRIOR_CACHE_ENTRIES:
                self._priors.clear()  # start again, with the phrases of this utterance
            self._priors.update(((language, p), prior) for p, prior in known.items())
        return [known[p] for p in phrases]

    def forget_priors(self) -> None:
        """Empty the cache of phrase priors (benchmarks measure what a new phrase costs)."""
        self._priors.clear()

    def transcribe(
        self,
        audio: np.ndarray,
        automaton: TokenAutomaton,
        speech_seconds: float | None = None,
        *,
        searches: tuple[int, ...] | None = None,
        meaning: Callable[[tuple[str, ...]], Hashable] | None = None,
        earlier: tuple[Hypothesis, ...] = (),
    ) -> Transcript:
        """``speech_seconds``: voiced time from a VAD when known (else an energy estimate).
        ``searches``: the beam widths to try in turn until one finds an acceptable path
        (default: the narrow beam, then the wide retry). ``meaning``: see ``choose``.
        ``earlier``: the finished paths of searches already run on this audio
        (``Transcript.finished``, e.g. a streaming session's narrow search at the pause):
        the choice is among those and this call's, as if one call had run them all."""
        audio = np.asarray(audio, np.float32)
        if audio.size < MIN_AUDIO_SECONDS * SAMPLE_RATE:
            return Transcript(None, 0.0, -math.inf, -math.inf, timings_ms={"encode": 0.0})
        t0 = time.perf_counter()
        cross = self.runner.encode(
            audio, self.tail_seconds, self.min_window_seconds, automaton.language
        )
        t1 = time.perf_counter()
        seconds = audio.size / SAMPLE_RATE
        voiced = active_seconds(audio) if speech_seconds is None else speech_seconds
        threshold = self.threshold(automaton.language)
        best, free = None, None
        max_tokens = token_budget(seconds)
        finished: list[Hypothesis] = list(earlier)
        for beam in self.search_widths(seconds, searches):
            # a narrow beam first; a wide one only when that finds nothing acceptable: in
            # long Turkish requests the right path can fall out of 8 beams mid-sentence
            # ("cuma günü saat on birde ..." became "önümüzdeki salıya ...")
            search = partial(
                self.runner.beam_search,
                cross,
                beam=beam,
                max_tokens=max_tokens,
                min_syllables=int(MIN_SYLLABLE_RATE * voiced),
                prune=self.prune,
                ending_weight=self.ending_weight,
            )
            found, free = search(automaton)
            if not found and automaton.writes_numbers:
                # every path ran into digits the graph cannot read ("7,8,2,3" over speech
                # it does not know): the same search over the spelled words alone
                found, free = search(automaton.spelled_only())
            finished += found
            best = self.choose(finished, automaton, meaning)
            if best and free and best.mean_logprob - free.mean_logprob >= -threshold:
                break
        release_free_memory()
        t2 = time.perf_counter()
        timings = {"encode": (t1 - t0) * 1000, "decode": (t2 - t1) * 1000}
        if best is None or free is None:
            return Transcript(
                None, 0.0, -math.inf, -math.inf, timings_ms=timings, finished=tuple(finished)
            )
        margin = best.mean_logprob - free.mean_logprob
        confidence = confidence_from_margin(margin, threshold)
        words = tuple(automaton.words(list(best.tokens)))
        free_text = self.tokenizer.decode(list(free.tokens)).strip()
        accepted = margin >= -threshold and bool(words)
        # only once every search has failed the margin (the wide retry may still find a path
        # that passes it), and as sure as a path on the margin's edge
        spelled = (
            not accepted
            and bool(words)
            and self.spelled_alike is not None
            and spelled_alike(words, free_text, automaton.language, self.spelled_alike)
        )
        return Transcript(
            words if accepted or spelled else None,
            0.5 if spelled else confidence,
            margin,
            best.logprob,
            free_text=free_text,
            timings_ms=timings,
            finished=tuple(finished),
            spelled=spelled,
        )
