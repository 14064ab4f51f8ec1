"""Constrained recognition with the built int8 artifacts on speech synthesised here.

Broken on purpose: speech the graph cannot express (another topic), silence, pink noise
and a phrase list whose right answer was removed must all come back "not recognised"."""

from __future__ import annotations

import numpy as np
import pytest

from models.asr.decoder import CrossAttention, WhisperRunner
from models.asr.recognizer import Recognizer
from models.eval.noise import pink_noise
from models.eval.synth import Voice, synthesize
from tests.models.asr.speech_fixtures import phrase_graph

EN = phrase_graph(
    "i would like two bottles of moisturiser please",
    "i would like three bottles of shampoo please",
    "book a haircut for tomorrow at three pm",
    "book a massage for friday at two pm",
    "cancel my appointment",
)
TR = phrase_graph(
    "yarın saat üçte saç kesimi için randevu almak istiyorum",
    "yarın saat ikide saç boyama için randevu almak istiyorum",
    "randevumu iptal et",
    "nemlendirici krem stokta var mı",
)
FLITE = Voice("flite", "slt", "en")
ESPEAK_TR = Voice("espeak", "tr", "tr", 0.8)


@pytest.mark.parametrize(
    ("text", "voice", "graph"),
    [
        ("book a haircut for tomorrow at three pm", FLITE, EN),
        ("I would like three bottles of shampoo, please.", Voice("espeak", "en-us", "en", 0.9), EN),
        ("yarın saat üçte saç kesimi için randevu almak istiyorum", ESPEAK_TR, TR),
        ("nemlendirici krem stokta var mı", ESPEAK_TR, TR),
    ],
)
def test_domain_phrases_are_recognised(
    recognizer: Recognizer, text: str, voice: Voice, graph: object
) -> None:
    auto = recognizer.automaton(graph, voice.language)  # type: ignore[arg-type]
    result = recognizer.transcribe(synthesize(text, voice), auto)
    expected = text.lower().replace(",", "").replace(".", "")
    assert result.recognised, result
    assert result.text == expected
    assert result.confidence > 0.5


@pytest.mark.parametrize(
    ("text", "voice", "graph"),
    [
        ("what is the weather like in london today", FLITE, EN),
        ("my brother plays football every sunday morning", FLITE, EN),
        ("bugün hava çok güzel, parka gidelim mi", ESPEAK_TR, TR),
    ],
)
def test_out_of_domain_speech_is_not_recognised(
    recognizer: Recognizer, text: str, voice: Voice, graph: object
) -> None:
    auto = recognizer.automaton(graph, voice.language)  # type: ignore[arg-type]
    result = recognizer.transcribe(synthesize(text, voice), auto)
    assert not result.recognised, result
    assert result.confidence < 0.5


def test_silence_noise_and_a_removed_answer_are_not_recognised(recognizer: Recognizer) -> None:
    auto = recognizer.automaton(EN, "en")
    silence = np.zeros(32000, np.float32)
    noise = 0.05 * pink_noise(32000, np.random.default_rng(3))
    for audio in (silence, noise, np.zeros(100, np.float32)):
        assert not recognizer.transcribe(audio, auto).recognised
    # the same request against a graph that lacks it
    speech = synthesize("cancel my appointment", FLITE)
    assert recognizer.transcribe(speech, auto).text == "cancel my appointment"
    without = recognizer.automaton(
        phrase_graph("i would like two bottles of moisturiser please", "book a massage"), "en"
    )
    assert not recognizer.transcribe(speech, without).recognised


def test_free_reading_is_cut_where_it_starts_looping() -> None:
    """Whisper's free pass often loops on short or unclear audio ("Emet Emet Emet"); the
    near-certain repeats must not make it a yardstick no real command can reach."""
    from models.asr.decoder import free_reading, loop_start

    assert loop_start([7, 8, 7, 8, 7, 8]) == 2
    assert loop_start([7, 7]) == 1
    assert loop_start([1, 2, 3, 4, 1, 2, 3, 4, 9]) == 4
    assert loop_start([1, 2, 3, 1, 2]) is None  # an unfinished second cycle is no loop yet
    assert loop_start([5, 6, 7]) is None
    looped = free_reading([7, 8, 7, 8, 7, 8], [-3.0, -1.0, -0.1, -0.01, 0.0, 0.0], True)
    assert looped.tokens == (7, 8) and not looped.finished
    assert looped.mean_logprob == -2.0
    assert looped.token_logprobs == (-3.0, -1.0)  # what the yardstick counts, no more
    # a finished reading: the end of text's log-probability comes last, not its token
    plain = free_reading([5, 6], [-1.0, -0.5, -0.25], True)
    assert plain.tokens == (5, 6) and plain.finished and plain.n_tokens == 3
    assert plain.token_logprobs == (-1.0, -0.5, -0.25) and plain.logprob == -1.75


def forced(
    runner: WhisperRunner, cross: CrossAttention, language: str, tokens: list[int]
) -> list[float]:
    """Each token's log-probability, teacher-forced one row at a time (the last one is
    scored, not fed)."""
    return [logprob for logprob, _top, _top_logprob in runner.forced(cross, language, tokens)]


def test_an_unlikely_ending_costs_a_path_in_proportion_to_how_unlikely() -> None:
    """Ranking of finished paths: the plain mean while the end-of-text token is likelier
    than -ENDING_SLACK, then ENDING_WEIGHT nats per nat below it, spread over the tokens."""
    from models.asr.decoder import ENDING_SLACK, ENDING_WEIGHT, Hypothesis

    covered = Hypothesis((1, 2, 3), -2.4, 0.0, True, end_logprob=-0.4)
    assert covered.rank() == covered.mean_logprob == -0.6
    cut = Hypothesis((1, 2, 3), -6.0, 0.0, True, end_logprob=-(ENDING_SLACK + 3.0))
    assert cut.mean_logprob == -1.5
    assert cut.rank() == pytest.approx((-6.0 - ENDING_WEIGHT * 3.0) / 4)
    assert cut.rank(ending_weight=0.0) == cut.mean_logprob
    assert cut.rank() < cut.rank(ending_weight=1.0) < cut.mean_logprob


def test_the_search_settles_and_the_recogniser_chooses_by_rank(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cut-off path with the better mean but an ending at -4 nats against the whole
    request: the search does not settle on the cut one, and the recogniser returns the
    whole request (the cut one with ``ending_weight=0``, the old ranking)."""
    from models.asr.decoder import Hypothesis, WhisperRunner

    short, full = "cancel my appointment", "cancel my appointment at ten past five"
    tokenizer = recognizer.tokenizer
    cut_ids, full_ids = (tuple(tokenizer.encode(" " + t)) for t in (short, full))
    cut = Hypothesis(cut_ids, -0.5 * (len(cut_ids) + 1), 0.0, True, end_logprob=-4.0)
    whole = Hypothesis(full_ids, -0.8 * (len(full_ids) + 1), 0.0, True, end_logprob=-0.2)
    assert cut.mean_logprob > whole.mean_logprob and cut.rank() < whole.rank()
    # live path at -1.6 nats/token: within the slack of the cut path's rank, not its mean
    live = [((*cut_ids, 11), -1.6 * (len(cut_ids) + 2), 0.0, 0)]
    assert WhisperRunner._settled([cut] * 8, live, 8, 1.0, ending_weight=0.0)
    assert not WhisperRunner._settled([cut] * 8, live, 8, 1.0)

    free = Hypothesis((1, 2, 3), -1.5, 0.0, True)  # mean -0.375: both within the margin
    monkeypatch.setattr(
        recognizer.runner, "beam_search", lambda *args, **kwargs: ([cut, whole], free)
    )
    auto = recognizer.automaton(phrase_graph(short, full), "en")
    speech = synthesize(full, FLITE)
    assert recognizer.transcribe(speech, auto).text == full
    monkeypatch.setattr(recognizer, "ending_weight", 0.0)
    assert recognizer.transcribe(speech, auto).text == short


def test_a_path_that_ends_before_the_speech_does_ends_on_an_unlikely_token(
    recognizer: Recognizer,
) -> None:
    """A request said in full: Whisper's own end-of-text log-probability after its first
    three words is far below the slack (the audio goes on), after the whole request it is
    not; the beam search records that same figure on the path it finishes."""
    from models.asr.decoder import ENDING_SLACK

    short, full = "cancel my appointment", "cancel my appointment at ten past five in the morning"
    runner, tokenizer = recognizer.runner, recognizer.tokenizer
    speech = synthesize(full, FLITE)
    cross = runner.encode(speech, 1.0, 4.0, "en")

    def ending(tokens: list[int]) -> float:
        return forced(runner, cross, "en", [*tokens, tokenizer.eot])[-1]

    for text in (short, short + "."):
        assert ending(tokenizer.encode(" " + text)) < -ENDING_SLACK - 1.0, text
    assert ending(tokenizer.encode(" " + full + ".")) > -ENDING_SLACK
    auto = recognizer.automaton(phrase_graph(short, full), "en")
    found, _free = runner.beam_search(cross, auto)
    best = max(found, key=lambda h: h.rank())
    assert " ".join(auto.words(list(best.tokens))) == full
    # the same token's log-probability, up to int8 rounding in a batch of other rows
    assert best.end_logprob == pytest.approx(ending(list(best.tokens)), abs=0.3)
    # every path keeps its tokens' own log-probabilities, the ending's last
    for path in found:
        assert len(path.token_logprobs) == path.n_tokens
        assert sum(path.token_logprobs) == pytest.approx(path.logprob)
        assert path.token_logprobs[-1] == path.end_logprob
    assert recognizer.transcribe(speech, auto).text == full
    # a graph that can only say the first three words must end there, and pays for it
    found, _free = runner.beam_search(cross, recognizer.automaton(phrase_graph(short), "en"))
    cut = max(found, key=lambda h: h.mean_logprob)
    assert cut.end_logprob == pytest.approx(ending(list(cut.tokens)), abs=0.3)
    assert cut.rank() < cut.mean_logprob - 1.0 / cut.n_tokens


def test_silence_scores_share_prefixes_and_match_one_phrase_at_a_time(
    recognizer: Recognizer,
) -> None:
    """The decoder's prior over silence, batched over phrases that share prefixes ("that's
    right" / "that's wrong"), equals each phrase teacher-forced on its own, up to int8
    rounding in a batch of other rows; and Whisper's favourite phrase is the likelier one."""
    runner, tokenizer = recognizer.runner, recognizer.tokenizer
    phrases = [("that's", "right"), ("that's", "wrong"), ("pardon",), ("cancel", "that")]
    spelled = [(*tokenizer.encode(" " + " ".join(p)), tokenizer.eot) for p in phrases]
    batched = runner.silence_logprobs("en", spelled)
    silence = runner._silence_for("en")  # encoded by the call above, kept as float16

    def alone(tokens: tuple[int, ...]) -> float:
        return sum(forced(runner, silence, "en", list(tokens)))

    for tokens, total in zip(spelled, batched, strict=True):
        assert total == pytest.approx(alone(tokens), abs=0.25 * len(tokens))
        assert runner.silence_logprobs("en", [tokens]) == [pytest.approx(alone(tokens))]
    # the order of the batch does not matter (a row mixed up with another would), a duplicate
    # gets the same figure, a bare end of text is scored on the prompt row, and a sequence
    # that is a prefix of another ("that's") shares its rows
    eot_only, prefix = (tokenizer.eot,), (*tokenizer.encode(" that's"), tokenizer.eot)
    mixed = [spelled[2], spelled[0], eot_only, spelled[3], prefix, spelled[1], spelled[0]]
    again = runner.silence_logprobs("en", mixed)
    for tokens, total in zip(mixed, again, strict=True):
        if tokens in spelled:
            assert total == pytest.approx(batched[spelled.index(tokens)], abs=1e-3)
    assert again[1] == again[-1]
    assert again[2] == pytest.approx(alone(eot_only), abs=1e-4)
    assert again[4] == pytest.approx(alone(prefix), abs=0.25 * len(prefix))
    means = dict(zip(phrases, recognizer.silence_priors("en", phrases), strict=True))
    assert means[("that's", "right")] > means[("pardon",)] + 1.0
    assert means[("that's", "right")] > means[("cancel", "that")] + 1.0


def test_a_favourite_phrase_of_the_decoder_pays_for_its_prior(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two finished paths a tenth of a nat/token apart: "that's right" ahead on rank,
    "pardon" behind. With the prior, "pardon" wins, because Whisper writes "that's right"
    over silence far more readily; with ``prior_weight=0`` (the old choice) "that's right"
    does. A path further behind than PRIOR_WINDOW is never scored, and a phrase is scored
    over silence once, then taken from the cache."""
    from models.asr.decoder import Hypothesis
    from models.asr.recognizer import PRIOR_WINDOW

    tokenizer = recognizer.tokenizer
    right, pardon, wrong = (
        tuple(tokenizer.encode(" " + t)) for t in ("that's right", "pardon", "that's wrong")
    )
    favourite = Hypothesis(right, -0.6 * (len(right) + 1), 0.0, True, end_logprob=-0.2)
    said = Hypothesis(pardon, -0.7 * (len(pardon) + 1), 0.0, True, end_logprob=-0.2)
    behind = -(0.6 + PRIOR_WINDOW + 0.05)
    far = Hypothesis(wrong, behind * (len(wrong) + 1), 0.0, True, end_logprob=-0.2)
    free = Hypothesis((1, 2), -0.9, 0.0, True)  # within the margin of all three
    paths = [favourite, said, far]
    monkeypatch.setattr(recognizer.runner, "beam_search", lambda *args, **kwargs: (paths, free))
    asked: list[str] = []
    scores = recognizer.runner.silence_logprobs

    def scoring(language: str, sequences: list[tuple[int, ...]]) -> list[float]:
        asked.extend(tokenizer.decode(list(tokens)).strip() for tokens in sequences)
        return scores(language, sequences)

    monkeypatch.setattr(recognizer.runner, "silence_logprobs", scoring)
    monkeypatch.setattr(recognizer, "_priors", {})
    auto = recognizer.automaton(phrase_graph("that's right", "pardon", "that's wrong"), "en")
    speech = synthesize("pardon", FLITE)
    assert recognizer.transcribe(speech, auto).text == "pardon"
    assert asked == ["that's right", "pardon"]  # "that's wrong" is too far behind
    assert recognizer.transcribe(speech, auto).text == "pardon"
    assert asked == ["that's right", "pardon"]  # the second time, both came from the cache
    monkeypatch.setattr(recognizer, "prior_weight", 0.0)
    assert recognizer.transcribe(speech, auto).text == "that's right"


def test_finalists_that_mean_the_same_are_not_scored_over_silence(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Close finalists "book a haircut" / "book a hair cut" mean the same: with a ``meaning``
    the better ranked is taken and nothing is scored over silence; once a third means
    something else, all three are scored, as without a ``meaning``."""
    from models.asr.decoder import Hypothesis

    tokenizer = recognizer.tokenizer
    texts = ("book a haircut", "book a hair cut", "book a massage")
    ids = [tuple(tokenizer.encode(" " + t)) for t in texts]
    joined, split, other = (
        Hypothesis(tokens, mean * (len(tokens) + 1), 0.0, True, end_logprob=-0.2)
        for tokens, mean in zip(ids, (-0.6, -0.65, -0.7), strict=True)
    )
    asked: list[list[tuple[str, ...]]] = []

    def priors(language: str, phrases: list[tuple[str, ...]]) -> list[float]:
        asked.append(phrases)
        return [-5.0] * len(phrases)

    monkeypatch.setattr(recognizer, "silence_priors", priors)
    auto = recognizer.automaton(phrase_graph(*texts), "en")

    def meaning(words: tuple[str, ...]) -> str:
        return "".join(words)  # "haircut" and "hair cut" mean the same

    assert recognizer.choose([joined, split], auto, meaning) is joined and asked == []
    assert recognizer.choose([joined, split], auto) is joined
    assert asked == [[("book", "a", "haircut"), ("book", "a", "hair", "cut")]]
    asked.clear()
    assert recognizer.choose([split, other, joined], auto, meaning) is joined
    assert asked == [
        [("book", "a", "hair", "cut"), ("book", "a", "massage"), ("book", "a", "haircut")]
    ]


def test_the_prior_cache_is_emptied_when_full_and_still_answers(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PRIOR_CACHE_ENTRIES the cache starts again; a call that mixes a phrase cached
    before that with new ones still answers for every phrase (it used to look the old one
    up after emptying the cache)."""
    import models.asr.recognizer as recognizer_module

    monkeypatch.setattr(recognizer_module, "PRIOR_CACHE_ENTRIES", 2)
    monkeypatch.setattr(recognizer, "_priors", {})
    right, help_, yes = ("that's", "right"), ("help",), ("yes",)
    first = recognizer.silence_priors("en", [right])
    recognizer.silence_priors("en", [help_])
    mixed = recognizer.silence_priors("en", [right, yes])
    assert mixed[0] == first[0]  # from the cache, read before it was emptied
    assert set(recognizer._priors) == {("en", right), ("en", yes)}
    assert recognizer.silence_priors("en", [yes]) == [mixed[1]]


def test_a_rare_phrase_gains_nothing_from_rarity_below_the_floor(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prior counts down to PRIOR_FLOOR only. A booking 0.45 nats/token behind "that's
    right", and so rare over silence (-12 nats/token) that the whole prior would carry it
    past (-5.5), must not win on rarity alone; without the floor it would ("yep" came back
    as a booking in the tuning draws' noise)."""
    import models.asr.recognizer as recognizer_module
    from models.asr.decoder import Hypothesis
    from models.asr.recognizer import PRIOR_FLOOR, PRIOR_WINDOW

    tokenizer = recognizer.tokenizer
    short, long = "that's right", "book a haircut for tomorrow at three pm"
    right, booking = (tuple(tokenizer.encode(" " + t)) for t in (short, long))
    assert PRIOR_FLOOR > -12.0 and PRIOR_WINDOW > 0.45
    common = Hypothesis(right, -0.6 * (len(right) + 1), 0.0, True, end_logprob=-0.2)
    rare = Hypothesis(booking, -1.05 * (len(booking) + 1), 0.0, True, end_logprob=-0.2)
    free = Hypothesis((1, 2), -0.9, 0.0, True)
    monkeypatch.setattr(
        recognizer.runner, "beam_search", lambda *args, **kwargs: ([common, rare], free)
    )
    priors = {tuple(short.split()): -5.5, tuple(long.split()): -12.0}
    monkeypatch.setattr(
        recognizer, "silence_priors", lambda language, phrases: [priors[p] for p in phrases]
    )
    auto = recognizer.automaton(phrase_graph(short, long), "en")
    speech = synthesize("that's right", FLITE)
    assert recognizer.transcribe(speech, auto).text == short
    monkeypatch.setattr(recognizer_module, "PRIOR_FLOOR", -99.0)
    assert recognizer.transcribe(speech, auto).text == long


def test_the_wide_retry_is_capped_by_its_key_value_budget() -> None:
    """The retry's key/value cache grows with paths x tokens; a long utterance gets fewer
    paths, a short one all of them, and no search gets fewer than the narrow one."""
    from models.asr.recognizer import RETRY_PATH_TOKENS, search_width

    assert search_width(8, 8, 112, RETRY_PATH_TOKENS) == 8  # the narrow search is never cut
    assert search_width(32, 8, 32, RETRY_PATH_TOKENS) == 32  # 2 s: 16 + 8 x 2 tokens
    assert search_width(32, 8, 56, RETRY_PATH_TOKENS) == 18  # 5 s
    assert search_width(32, 8, 112, RETRY_PATH_TOKENS) == 9  # 12 s, the longest utterance
    assert search_width(32, 8, 114, RETRY_PATH_TOKENS) == 8  # 12 s + pre-roll: the floor
    assert search_width(32, 8, 112, None) == 32


def test_a_retry_the_budget_squeezes_to_the_narrow_width_is_not_run(
    recognizer: Recognizer,
) -> None:
    """At the longest utterance (12 s of speech + 288 ms of pre-roll) the budget leaves the
    retry 8 paths: it would repeat the narrow search exactly, so only one search runs."""
    assert recognizer.search_widths(5.0) == (8, 18)
    assert recognizer.search_widths(12.288) == (8,)
    assert recognizer.search_widths(12.288, (32,)) == ()
    assert recognizer.search_widths(12.288, (8,)) == (8,)


def test_pruning_feeds_fewer_rows_and_keeps_a_clear_request(recognizer: Recognizer) -> None:
    """Pruned paths never reach the decoder: the same clear request decodes to the same
    words with fewer decoder rows (docs/speech.md, "Pruning")."""
    auto = recognizer.automaton(TR, "tr")
    speech = synthesize("yarın saat üçte saç kesimi için randevu almak istiyorum", ESPEAK_TR)
    runner = recognizer.runner
    rows: list[int] = []
    step = runner._step

    def counting(tokens, past, cross):  # type: ignore[no-untyped-def]
        rows.append(tokens.shape[0])
        return step(tokens, past, cross)

    cross = runner.encode(speech, 1.0, 4.0, "tr")
    results = {}
    try:
        runner._step = counting  # type: ignore[method-assign]
        for prune in (None, 8.0):
            rows.clear()
            found, _free = runner.beam_search(cross, auto, prune=prune)
            best = max(found, key=lambda h: h.rank())
            results[prune] = (auto.words(list(best.tokens)), sum(rows))
    finally:
        del runner._step  # type: ignore[method-assign]
    assert results[None][0] == results[8.0][0]
    assert " ".join(results[8.0][0]) == "yarın saat üçte saç kesimi için randevu almak istiyorum"
    assert results[8.0][1] < results[None][1], results
