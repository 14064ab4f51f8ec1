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
    used = [False] * len(words)
    slots: dict[str, str] = {}
    groups: dict[str, tuple[Builtin, list[SlotSource]]] = {}
    for src in sources:
        if src.builtin is not None:
            groups.setdefault(src.builtin.name, (src.builtin, []))[1].append(src)
    for kind in sorted(groups, key=_PRIORITY.index):
        builtin, group = groups[kind]
        spans = builtin.find_spans(words, ctx)
        chosen: list[tuple[int, int, str]] = []
        for sp in sorted(spans, key=lambda sp: (sp[0] - sp[1], sp[0])):  # longest first
            if len(chosen) < len(group) and not any(used[sp[0] : sp[1]]):
                chosen.append(sp)
                for k in range(sp[0], sp[1]):
                    used[k] = True
        free = list(group)
        for start, _end, value in sorted(chosen):
            before = set(words[max(0, start - 2) : start])
            best = max(free, key=lambda s: (bool(before & s.left), s.weight))
            free.remove(best)
            slots[best.slot] = value
    for src in sources:
        if src.builtin is not None:
            continue
        found = _match_list(words, used, src)
        if found is not None:
            start, end, value = found
            for k in range(start, end):
                used[k] = True
            slots[src.slot] = value
    return slots


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
