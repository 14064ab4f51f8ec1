"""Slot filling for transcripts outside the grammar: builtin spans, then list values.

Builtin slots take the longest parseable spans their grammar accepts (most specific types
first); list slots take an exact spoken form, else the best fuzzy match (rapidfuzz ratio on
word n-grams, cut-off 80) among the list's spoken forms, so "şampuanı", "nemlendirici kremi" or
a misrecognised "nemlendiri krem" still resolve to the catalog entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from models.domain.builtins import Builtin, ParseContext

FUZZY_CUTOFF = 80.0
# most specific first: a number inside a measure must not become the quantity
_PRIORITY = (
    "phone",
    "serial",
    "measure",
    "temperature",
    "percent",
    "date",
    "time",
    "quantity",
    "number",
)


@dataclass(frozen=True)
class SlotSource:
    """What extraction needs to know about one slot of an intent."""

    slot: str
    builtin: Builtin | None
    lookup: Mapping[tuple[str, ...], tuple[str, str]]
    choices: tuple[str, ...] = ()
    choice_values: tuple[tuple[str, str], ...] = ()
    left: frozenset[str] = frozenset()  # words said just before this slot in the templates
    weight: int = 0  # how many expansions use the slot (tie-break between same-type slots)
    template_words: frozenset[str] = frozenset()  # never fuzzy-matched alone ("have"~"shave")


def extract(words: list[str], sources: list[SlotSource], ctx: ParseContext) -> dict[str, str]:
    """Slot name -> normalised value for the slots of `sources` found in `words`."""
    return {slot: value for _, _, slot, value in find_spans(words, sources, ctx)}


def find_spans(
    words: list[str], sources: list[SlotSource], ctx: ParseContext
) -> list[tuple[int, int, str, str]]:
    """Non-overlapping (start, end, slot, value) spans, in order of position."""
    used = [False] * len(words)
    found: list[tuple[int, int, str, str]] = []
    groups: dict[str, tuple[Builtin, list[SlotSource]]] = {}
    for src in sources:
        if src.builtin is not None:
            groups.setdefault(src.builtin.name, (src.builtin, []))[1].append(src)
    for kind in sorted(groups, key=_PRIORITY.index):
        builtin, group = groups[kind]
        chosen: list[tuple[int, int, str]] = []
        for sp in sorted(builtin.find_spans(words, ctx), key=lambda sp: (sp[0] - sp[1], sp[0])):
            if len(chosen) < len(group) and not any(used[sp[0] : sp[1]]):  # longest first
                chosen.append(sp)
                for k in range(sp[0], sp[1]):
                    used[k] = True
        free = list(group)
        for start, end, value in sorted(chosen):
            before = set(words[max(0, start - 2) : start])
            best = max(free, key=lambda s: (bool(before & s.left), s.weight))
            free.remove(best)
            found.append((start, end, best.slot, value))
    for src in sources:
        if src.builtin is not None:
            continue
        hit = _match_list(words, used, src)
        if hit is not None:
            start, end, value = hit
            for k in range(start, end):
                used[k] = True
            found.append((start, end, src.slot, value))
    return sorted(found)


def delexicalise(words: list[str], spans: list[tuple[int, int, str, str]]) -> list[str]:
    """Replace each span with a class token "<slot>" (the intent model's view of a sentence)."""
    out: list[str] = []
    i = 0
    for start, end, slot, _ in spans:
        out.extend(words[i:start])
        out.append(f"<{slot}>")
        i = end
    out.extend(words[i:])
    return out


def _match_list(words: list[str], used: list[bool], src: SlotSource) -> tuple[int, int, str] | None:
    longest = max((len(k) for k in src.lookup), default=1)
    for n in range(min(longest, len(words)), 0, -1):
        for i in range(len(words) - n + 1):
            if any(used[i : i + n]):
                continue
            hit = src.lookup.get(tuple(words[i : i + n]))
            if hit is not None:
                return i, i + n, hit[0]
    best: tuple[float, int, int, str] | None = None
    for n in range(1, min(longest + 1, len(words)) + 1):
        for i in range(len(words) - n + 1):
            if any(used[i : i + n]):
                continue
            text = " ".join(words[i : i + n])
            if len(text) < 3 or all(w in src.template_words for w in words[i : i + n]):
                continue
            res = process.extractOne(
                text, src.choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
            )
            if res is None:
                continue
            score = float(res[1])
            if best is None or (score, n) > (best[0], best[2] - best[1]):
                best = (score, i, i + n, src.choice_values[res[2]][0])
    return None if best is None else (best[1], best[2], best[3])
