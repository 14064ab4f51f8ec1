"""Rejection rules replayed offline on the same decodes (docs/speech.md, "Rejection rules
measured"): would a floor on each token's log-probability, or accepting a path whose letters
Whisper's own free reading spells, separate misheard commands from out-of-domain speech
better than the plain margin?

A command the domain can say is sometimes rejected because one or two of its tokens cost
7-9 nats: Whisper splits espeak-ng's "evet onaylıyorum" as "eve ton aylı yurtum", so the
grammar's " evet" and "yorum" are near-impossible tokens in an otherwise likely sentence.
Counting each token at no less than ``floor`` nats would forgive that, if out-of-domain
sentences do not have the same shape. And the free reading there, "eve ton aylı yurtum",
spells the command's letters all but exactly once the spaces are gone: a path may also be
accepted when its letters and the free reading's are at least ``similar`` alike
(``models.asr.recognizer.spelled_alike`` with its caps on edits and length, as the
recogniser's ``SPELLED_ALIKE`` rule; the decodes are recorded with that rule off).

The recogniser runs once per utterance of the tuning draws (one-shot, as ``Engine.recognize``,
clean and 9 dB, the synthetic and neural voices); every search's chosen path and free reading
is kept with its tokens' log-probabilities (a written number's path includes its entry cost),
and acceptance is then replayed offline for each rule: the first search whose chosen path
passes the margin is the answer; the spelling rule judges the last search's path when none
does, as the recogniser does. Exact for the plain margin and the spelling rule (the wide
retry was recorded wherever the narrow search failed the plain margin). Not exact for a
stricter margin or a floor that fails a narrow search the plain margin passed: the wide
retry the recogniser would then run was never recorded, so those rows under-count what a
stricter rule would keep.

    .venv/bin/python -m benchmarks.rejection_rules [--seeds 5,11] [--n 20]

Prints, per rule (floor and margin shift; similarity), the commands right, the commands
accepted with a wrong intent or slot, and the out-of-domain sentences accepted, in all and
per language / voice / noise.
"""

from __future__ import annotations

import argparse
import collections
import json
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

FLOORS = (None, -10.0, -8.0, -7.0, -6.0, -5.0, -4.0)
SHIFTS = (0.0, -0.2, -0.4, -0.6)
SIMILAR = (0.95, 0.9, 0.85, 0.8, 0.75)
LOOSER = (0.2, 0.4, 0.6)  # exact: a search the looser margin passes ends the replay there
LIFTS = (1.0, 1.5, 1.75, 2.0, 2.5, 3.0)
YES_FLOORS = (0.6, 0.7, 0.8, 0.9)


def record(seed: int, n: int) -> list[dict[str, Any]]:
    """Every utterance of the draw with each search's chosen path and free reading."""
    from models.asr.recognizer import REJECT_MARGINS, Recognizer
    from models.eval import run

    utterances, compiled = run.build_set(run.domain_names(), n, seed)
    searches: list[tuple[Any, Any, tuple[str, ...] | None]] = []
    # the margin alone decides, as before the spelled-alike rule: the replay adds rules
    recognizer = Recognizer(threads=1, spelled_alike=None)
    plain_search = recognizer.runner.beam_search
    plain_choose = recognizer.choose
    last_free: list[Any] = [None]

    def beam_search(*args: Any, **kwargs: Any) -> Any:
        found, free = plain_search(*args, **kwargs)
        last_free[0] = free
        return found, free

    def choose(finished: Any, automaton: Any, meaning: Any = None) -> Any:
        best = plain_choose(finished, automaton, meaning)
        words = tuple(automaton.words(list(best.tokens))) if best is not None else None
        searches.append((best, last_free[0], words))
        return best

    recognizer.runner.beam_search = beam_search  # type: ignore[method-assign]
    recognizer.choose = choose  # type: ignore[method-assign]
    engines = run.engines(compiled, recognizer)
    draw = run.NoiseDraw(utterances, seed)
    rows = []
    for snr in (None, 9.0):
        for u, audio in draw.mixed(snr):
            searches.clear()
            result = engines[u.domain].recognize(audio)
            kept = []
            for best, free, words in searches:
                right = None
                if words:
                    text = " ".join(words)
                    meaning = compiled[u.domain].understand(text, run.NOW)
                    slots = dict(meaning.slots) if meaning.intent else {}
                    right = run._score(
                        "replay",
                        u,
                        snr="",
                        text=text,
                        intent=meaning.intent,
                        slots=slots,
                        margin=float("nan"),
                        elapsed=0.0,
                    ).correct
                free_text = recognizer.tokenizer.decode(list(free.tokens)) if free else ""
                kept.append(
                    {
                        "best": best.token_logprobs if best is not None else None,
                        "free": free.token_logprobs if free is not None else None,
                        "words": list(words or ()),
                        "free_text": free_text,
                        "right": right,
                    }
                )
            rows.append(
                {
                    "cell": (
                        u.language,
                        "neural" if u.neural else "synthetic",
                        run.snr_label(snr),
                    ),
                    "language": u.language,
                    "command": u.intent is not None,
                    "margin": REJECT_MARGINS[u.language],
                    "heard": bool(result.text),
                    "searches": kept,
                }
            )
    return rows


def floored_mean(logprobs: Iterable[float], floor: float | None) -> float:
    values = [v if floor is None else max(v, floor) for v in logprobs]
    return sum(values) / max(1, len(values))


def replay(
    row: dict[str, Any], floor: float | None, shift: float, similar: float | None = None
) -> tuple[bool, bool]:
    """(accepted, right) under this floor and margin shift, as the recogniser decides: the
    first search within the margin answers; when none is, the last search's path is taken
    if, with ``similar``, the free reading spells it (``spelled_alike``)."""
    from models.asr.recognizer import spelled_alike

    searches = [s for s in row["searches"] if s["best"] is not None and s["free"] is not None]
    answer = answering_search(row, floor, shift)
    if answer is not None:
        search = answer[0]
        return (True, bool(search["right"])) if search["words"] else (False, False)
    if searches and similar is not None:
        last = searches[-1]
        words, free_text = tuple(last["words"]), last["free_text"]
        if words and spelled_alike(words, free_text, row["language"], similar):
            return True, bool(last["right"])
    return False, not row["command"]


def answering_search(
    row: dict[str, Any], floor: float | None = None, shift: float = 0.0
) -> tuple[dict[str, Any], float] | None:
    """(the first search within the margin, its margin), as the recogniser stops at it."""
    for search in row["searches"]:
        if search["best"] is None or search["free"] is None:
            continue
        margin = floored_mean(search["best"], floor) - floored_mean(search["free"], floor)
        if margin >= -(row["margin"] + shift):
            return search, margin
    return None


def accepted_searches(
    rows: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], dict[str, Any], float]]:
    """(row, search, margin) for every utterance the plain margin accepts with words."""
    answers = ((row, answering_search(row)) for row in rows)
    return [(row, a[0], a[1]) for row, a in answers if a is not None and a[0]["words"]]


def outcome(row: dict[str, Any], search: dict[str, Any]) -> str:
    return ("right" if search["right"] else "wrong") if row["command"] else "out of domain"


def lift_report(rows: list[dict[str, Any]]) -> None:
    """A second test after the margin: the path's mean log-probability over the audio less
    its prior over silence (the recogniser's ``silence_priors``, "Favourite phrases"). The
    priors come from the build in use, the decodes from the one that recorded them: the
    Turkish figures in docs/speech.md were replayed with the first adapter's build."""
    from models.asr.recognizer import Recognizer

    recognizer = Recognizer(threads=1)
    for language in ("en", "tr"):
        recognizer.runner.prepare(language)
    lifts = []  # (outcome, cell, lift)
    for row, search, _ in accepted_searches(rows):
        prior = recognizer.silence_priors(row["language"], [tuple(search["words"])])[0]
        lift = floored_mean(search["best"], None) - prior
        lifts.append((outcome(row, search), "/".join(row["cell"]), lift))
    groups: dict[str, list[float]] = collections.defaultdict(list)
    for kind, cell, lift in lifts:
        groups[kind].append(lift)
        groups[f"{kind}, {cell}"].append(lift)
    for name, values in sorted(groups.items()):
        q = np.percentile(values, [5, 25, 50])
        print(f"lift, {name}: n {len(values)}, 5/25/50 % {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}")
    for least in LIFTS:
        turned = collections.Counter(kind for kind, _, lift in lifts if lift < least)
        print(f"lift >= {least}: turns away {dict(sorted(turned.items()))}")


def yes_floor_report(rows: list[dict[str, Any]]) -> None:
    """What a higher confidence for Yes (the answer that places an order) would turn away."""
    from benchmarks.yes_floor import print_floors
    from models.asr.recognizer import REJECT_MARGINS, confidence_from_margin
    from models.domain import compile_domain, load_domain
    from models.domain.loader import DOMAINS_DIR
    from models.eval.run import NOW

    domains = {
        lang: compile_domain(load_domain(DOMAINS_DIR / f"salon_{lang}.yaml"))
        for lang in ("en", "tr")
    }
    yes = []
    for row, search, margin in accepted_searches(rows):
        if domains[row["language"]].understand(" ".join(search["words"]), NOW).intent == "Yes":
            confidence = confidence_from_margin(margin, REJECT_MARGINS[row["language"]])
            yes.append((row["language"], outcome(row, search), confidence))
    print_floors(yes, YES_FLOORS)


def report(rows: list[dict[str, Any]], name: str, **rule: Any) -> None:
    # per cell: commands right, commands accepted wrong, commands; out of domain accepted, all
    cells: dict[tuple[str, ...], list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in rows:
        accepted, right = replay(r, **rule)
        cell = cells[tuple(r["cell"])]
        if r["command"]:
            cell[0] += right
            cell[1] += accepted and not right
            cell[2] += 1
        else:
            cell[3] += accepted
            cell[4] += 1
    totals = [sum(c[i] for c in cells.values()) for i in range(5)]
    detail = "  ".join(
        f"{'/'.join(k)} {c[0]}/{c[2]} wrong {c[1]} fa {c[3]}/{c[4]}"
        for k, c in sorted(cells.items())
    )
    print(
        f"{name}: right {totals[0]}, accepted wrong {totals[1]}, "
        f"out-of-domain accepted {totals[3]} | {detail}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="5,11", help="comma list of draws (tuning: 5,11)")
    parser.add_argument("--n", type=int, default=20, help="sentences per domain")
    parser.add_argument("--save", type=Path, help="write the recorded decodes here (JSON)")
    parser.add_argument("--load", type=Path, help="replay decodes recorded with --save")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.load:
        rows = json.loads(args.load.read_text())
    else:
        with ProcessPoolExecutor(max_workers=min(2, len(seeds))) as pool:
            rows = [r for draw in pool.map(record, seeds, [args.n] * len(seeds)) for r in draw]
    if args.save:
        args.save.write_text(json.dumps(rows))
    # the replay without a floor must give what the recogniser answered
    mismatched = sum(replay(r, None, 0.0)[0] != r["heard"] for r in rows)
    print(f"{len(rows)} utterances; the plain replay differs from the recogniser on {mismatched}")
    for floor in FLOORS:
        for shift in SHIFTS:
            name = "none" if floor is None else f"{floor:g}"
            report(rows, f"floor {name:>4} margin {shift:+.1f}", floor=floor, shift=shift)
    for similar in SIMILAR:
        for shift in SHIFTS:
            name = f"similar {similar:.2f} margin {shift:+.1f}"
            report(rows, name, floor=None, shift=shift, similar=similar)
    for shift in LOOSER:
        name = f"similar 0.80 margin {shift:+.1f} (looser)"
        report(rows, name, floor=None, shift=shift, similar=0.8)
    lift_report(rows)
    yes_floor_report(rows)


if __name__ == "__main__":
    main()
