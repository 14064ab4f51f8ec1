"""Spoken clock times (Turkish, English) with the business-hours rule.

Every accepted phrase is enumerated with its meaning (`time_phrases`): the word graph, the
sampler and the exact parser share one table. Resolution to "HH:MM" (docs/domain.md):

* An hour said with a day part is read in it: "sabah/am/in the morning" keeps 1-11 (12 -> 00),
  "öğleden sonra/akşam/pm/in the afternoon/evening" adds 12 to 1-11, "gece/at night" adds 12
  to 6-11 and maps 12 to 00. Hours 13-23 and 0 are 24-hour times as said.
* Business-hours rule for an hour 1-12 said alone ("saat üçte", "three o'clock"): of h and
  h+12 take the one inside the domain's business hours [open, close) (default 09-20, so
  "üçte" -> 15:00 and "onda" -> 10:00); when neither is inside, h if h >= 7 else h + 12.
* A day part alone is a window: "sabah/in the morning" 09:00-12:00, "öğleden sonra/in the
  afternoon" 13:00-18:00, "akşam/in the evening" 18:00-21:00; "öğlen/noon" is 12:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from models.normalize.numbers import number_words, tr_inflect

DAY_WINDOWS = {"morning": "09:00-12:00", "afternoon": "13:00-18:00", "evening": "18:00-21:00"}


@dataclass(frozen=True)
class TimeMeaning:
    """hour/minute as said; part: None, am, pm, night, h24, or a DAY_WINDOWS key (window)."""

    hour: int = 0
    minute: int = 0
    part: str | None = None


def resolve_time(m: TimeMeaning, business_hours: tuple[int, int] = (9, 20)) -> str:
    if m.part in DAY_WINDOWS:
        return DAY_WINDOWS[m.part]
    h = m.hour
    if m.part == "am":
        h = h % 12
    elif m.part == "pm":
        h = h + 12 if h < 12 else h
    elif m.part == "night":
        h = 0 if h == 12 else (h + 12 if h >= 6 else h)
    elif m.part is None and 1 <= h <= 12:
        opening, closing = business_hours
        candidates = [c for c in ((h, h + 12) if h < 12 else (12,)) if opening <= c < closing]
        h = candidates[0] if candidates else (h if h >= 7 else h + 12)
    return f"{h % 24:02d}:{m.minute:02d}"


Phrase = tuple[tuple[str, ...], TimeMeaning]


def _tr_hour_forms(h: int, part: str | None) -> list[Phrase]:
    hw = number_words(h, "tr")
    prev = 12 if h == 1 else h - 1
    out: list[Phrase] = []

    def add(words: list[str], hour: int, minute: int, saat: str) -> None:
        # saat: "req" (saat required), "opt" (optional)
        out.append((("saat", *words), TimeMeaning(hour, minute, part)))
        if saat == "opt":
            out.append((tuple(words), TimeMeaning(hour, minute, part)))

    add(tr_inflect(hw, "loc"), h, 0, "opt")
    add(tr_inflect(hw, "dat"), h, 0, "opt")
    add(hw, h, 0, "req")
    add([*hw, "gibi"], h, 0, "opt")
    add([*hw, "buçukta"], h, 30, "opt")
    add([*hw, "buçuğa"], h, 30, "opt")
    add([*hw, "buçuk"], h, 30, "req")
    for m in (5, 10, 15, 20, 25):
        mw = ["çeyrek"] if m == 15 else number_words(m, "tr")
        add([*tr_inflect(hw, "acc"), *mw, "geçe"], h, m, "opt")
        add([*tr_inflect(hw, "dat"), *mw, "kala"], prev, 60 - m, "opt")
    for m in range(1, 60):
        # minutes below ten are said with a zero ("on beş sıfır beşte"); without it
        # "on ikide" would also read as 10:02
        mw = number_words(m, "tr") if m >= 10 else ["sıfır", *number_words(m, "tr")]
        add([*hw, *tr_inflect(mw, "loc")], h, m, "opt")
        add([*hw, *tr_inflect(mw, "dat")], h, m, "opt")
        add([*hw, *mw], h, m, "req")
    return out


def _tr_phrases() -> list[Phrase]:
    parts: dict[str | None, list[tuple[str, ...]]] = {
        None: [()],
        "am": [("sabah",)],
        "pm": [("öğleden", "sonra"), ("akşam",)],
        "night": [("gece",)],
    }
    out: list[Phrase] = []
    for part, prefixes in parts.items():
        for h in range(1, 13):
            for words, meaning in _tr_hour_forms(h, part):
                out.extend(((*p, *words), meaning) for p in prefixes)
    for h in [0, *range(13, 24)]:
        out.extend(_tr_hour_forms(h, "h24"))
    for spoken, part in (
        ("sabah", "morning"),
        ("öğleden sonra", "afternoon"),
        ("akşam", "evening"),
        ("akşamüstü", "evening"),
    ):
        out.append((tuple(spoken.split()), TimeMeaning(part=part)))
    for spoken in ("öğlen", "öğleyin", "öğlende", "öğle vakti", "öğle saatinde"):
        out.append((tuple(spoken.split()), TimeMeaning(12, 0, "h24")))
    return out


def _en_phrases() -> list[Phrase]:
    parts: dict[str | None, list[tuple[str, ...]]] = {
        None: [()],
        "am": [("am",), ("in", "the", "morning")],
        "pm": [("pm",), ("in", "the", "afternoon"), ("in", "the", "evening")],
        "night": [("at", "night")],
    }
    out: list[Phrase] = []
    for part, suffixes in parts.items():
        for h in range(1, 13):
            hw = tuple(number_words(h, "en"))
            nxt = tuple(number_words(1 if h == 12 else h + 1, "en"))
            forms: list[tuple[tuple[str, ...], int, int]] = [
                (hw, h, 0),
                ((*hw, "o'clock"), h, 0),
                (("half", "past", *hw), h, 30),
                (("quarter", "past", *hw), h, 15),
                (("quarter", "to", *nxt), h, 45),
            ]
            for m in (5, 10, 20, 25):
                mw = tuple(number_words(m, "en"))
                forms.append(((*mw, "past", *hw), h, m))
                forms.append(((*mw, "to", *nxt), h, 60 - m))
            for m in range(1, 60):
                mw = tuple(number_words(m, "en"))
                forms.append(((*hw, *(("oh", *mw) if m < 10 else mw)), h, m))
            for words, hour, minute in forms:
                out.extend(((*words, *s), TimeMeaning(hour, minute, part)) for s in suffixes)
    for h in range(13, 24):
        hw = tuple(number_words(h, "en"))
        out.append(((*hw, "hundred"), TimeMeaning(h, 0, "h24")))
        for m in range(1, 60):
            mw = tuple(number_words(m, "en"))
            out.append(((*hw, *(("oh", *mw) if m < 10 else mw)), TimeMeaning(h, m, "h24")))
    for spoken, part in (
        ("in the morning", "morning"),
        ("in the afternoon", "afternoon"),
        ("in the evening", "evening"),
    ):
        out.append((tuple(spoken.split()), TimeMeaning(part=part)))
    for spoken in ("noon", "midday", "twelve noon"):
        out.append((tuple(spoken.split()), TimeMeaning(12, 0, "h24")))
    out.append((("midnight",), TimeMeaning(0, 0, "h24")))
    return out


@lru_cache(maxsize=2)
def time_phrases(language: str) -> tuple[Phrase, ...]:
    """Every spoken time form the grammar accepts, with its meaning."""
    return tuple(_tr_phrases() if language == "tr" else _en_phrases())


@lru_cache(maxsize=2)
def _table(language: str) -> dict[tuple[str, ...], TimeMeaning]:
    table: dict[tuple[str, ...], TimeMeaning] = {}
    for words, meaning in time_phrases(language):
        table.setdefault(words, meaning)
    return table


def parse_time(
    words: list[str], language: str, business_hours: tuple[int, int] = (9, 20)
) -> str | None:
    """ "HH:MM" (or a day window "13:00-18:00") for a whole phrase, or None."""
    meaning = _table(language).get(tuple(words))
    return None if meaning is None else resolve_time(meaning, business_hours)
