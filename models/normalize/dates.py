"""Spoken dates (Turkish, English) relative to a reference day.

Every accepted phrase is enumerated with its meaning (`date_phrases`), which gives the word
graph, the sampler and an exact longest-match parser from one table. Rules (docs/domain.md):

* "bugün/today" +0, "yarın/tomorrow" +1, "öbür gün/yarından sonra/the day after tomorrow" +2,
  "haftaya bugün/a week from today" +7.
* A bare weekday ("cuma", "on friday", "önümüzdeki cuma", "gelecek cuma") is the next such day
  strictly after today; "bu cuma/this friday" is this week's day, today included (if it has
  passed, the next one); "haftaya cuma/gelecek hafta cuma/next friday/friday next week" is that
  day in the next Monday-based calendar week.
* Day and month ("yirmi beş kasım", "kasımın yirmi beşinde", "november twenty fifth", "the
  twenty fifth of november") is the next such date, today included; "ayın yirmi beşi/the
  twenty fifth" the next such day of a month. Impossible dates (30 February) do not parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from models.normalize.numbers import en_ordinal_words, number_words, tr_inflect

TR_WEEKDAYS = ["pazartesi", "salı", "çarşamba", "perşembe", "cuma", "cumartesi", "pazar"]
TR_WEEKDAYS_DAT = [
    "pazartesiye",
    "salıya",
    "çarşambaya",
    "perşembeye",
    "cumaya",
    "cumartesiye",
    "pazara",
]
EN_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
TR_MONTHS = [
    "ocak",
    "şubat",
    "mart",
    "nisan",
    "mayıs",
    "haziran",
    "temmuz",
    "ağustos",
    "eylül",
    "ekim",
    "kasım",
    "aralık",
]
TR_MONTHS_LOC = [
    "ocakta",
    "şubatta",
    "martta",
    "nisanda",
    "mayısta",
    "haziranda",
    "temmuzda",
    "ağustosta",
    "eylülde",
    "ekimde",
    "kasımda",
    "aralıkta",
]
TR_MONTHS_GEN = [
    "ocağın",
    "şubatın",
    "martın",
    "nisanın",
    "mayısın",
    "haziranın",
    "temmuzun",
    "ağustosun",
    "eylülün",
    "ekimin",
    "kasımın",
    "aralığın",
]
EN_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


@dataclass(frozen=True)
class DateMeaning:
    """kind: rel (offset days), upcoming/this/next_week (weekday), day_month, month_day."""

    kind: str
    a: int = 0
    b: int = 0


def resolve_date(m: DateMeaning, today: date) -> date | None:
    """The calendar day a meaning denotes for a reference day, or None if impossible."""
    if m.kind == "rel":
        return today + timedelta(days=m.a)
    if m.kind == "upcoming":
        return today + timedelta(days=(m.a - today.weekday() - 1) % 7 + 1)
    if m.kind == "this":
        return today + timedelta(days=(m.a - today.weekday()) % 7)
    if m.kind == "next_week":
        return today + timedelta(days=7 - today.weekday() + m.a)
    if m.kind == "day_month":
        for year in (today.year, today.year + 1, today.year + 2, today.year + 3, today.year + 4):
            try:
                d = date(year, m.b, m.a)
            except ValueError:
                if (m.b, m.a) != (2, 29):
                    return None
                continue
            if d >= today:
                return d
        return None
    if m.kind == "month_day":
        y, mo = today.year, today.month
        for _ in range(13):
            try:
                d = date(y, mo, m.a)
                if d >= today:
                    return d
            except ValueError:
                pass
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
        return None
    raise ValueError(f"unknown date meaning {m.kind}")


def _tr_phrases() -> list[tuple[tuple[str, ...], DateMeaning]]:
    out: list[tuple[tuple[str, ...], DateMeaning]] = []
    for words, n in (
        ("bugün", 0),
        ("yarın", 1),
        ("öbür gün", 2),
        ("öbürgün", 2),
        ("yarından sonra", 2),
        ("haftaya bugün", 7),
    ):
        out.append((tuple(words.split()), DateMeaning("rel", n)))
    for wd, (name, dat) in enumerate(zip(TR_WEEKDAYS, TR_WEEKDAYS_DAT, strict=True)):
        forms: list[tuple[str, ...]] = [(name,), (name, "günü"), (dat,)]
        for form in forms:
            out.append((form, DateMeaning("upcoming", wd)))
            for word in ("önümüzdeki", "gelecek"):
                out.append(((word, *form), DateMeaning("upcoming", wd)))
            out.append((("bu", *form), DateMeaning("this", wd)))
            next_week: list[tuple[str, ...]] = [
                ("haftaya",),
                ("gelecek", "hafta"),
                ("önümüzdeki", "hafta"),
            ]
            for pre in next_week:
                out.append(((*pre, *form), DateMeaning("next_week", wd)))
    for day in range(1, 32):
        dw = number_words(day, "tr")
        for mi in range(12):
            m = DateMeaning("day_month", day, mi + 1)
            out.append(((*dw, TR_MONTHS[mi]), m))
            out.append(((*dw, TR_MONTHS_LOC[mi]), m))
            out.append(((TR_MONTHS_GEN[mi], *tr_inflect(dw, "poss")), m))
            out.append(((TR_MONTHS_GEN[mi], *tr_inflect(dw, "possloc")), m))
        out.append((("ayın", *tr_inflect(dw, "poss")), DateMeaning("month_day", day)))
        out.append((("ayın", *tr_inflect(dw, "possloc")), DateMeaning("month_day", day)))
    return out


def _en_phrases() -> list[tuple[tuple[str, ...], DateMeaning]]:
    out: list[tuple[tuple[str, ...], DateMeaning]] = []
    for words, n in (
        ("today", 0),
        ("tomorrow", 1),
        ("the day after tomorrow", 2),
        ("day after tomorrow", 2),
        ("a week from today", 7),
    ):
        out.append((tuple(words.split()), DateMeaning("rel", n)))
    for wd, name in enumerate(EN_WEEKDAYS):
        for pre in ((), ("on",)):
            out.append(((*pre, name), DateMeaning("upcoming", wd)))
            out.append(((*pre, name, "next", "week"), DateMeaning("next_week", wd)))
        out.append((("this", name), DateMeaning("this", wd)))
        out.append((("next", name), DateMeaning("next_week", wd)))
    for day in range(1, 32):
        ordinal = tuple(en_ordinal_words(day))
        cardinal = tuple(number_words(day, "en"))
        for mi, month in enumerate(EN_MONTHS):
            m = DateMeaning("day_month", day, mi + 1)
            for pre in ((), ("on",)):
                out.append(((*pre, month, *ordinal), m))
                out.append(((*pre, month, "the", *ordinal), m))
                out.append(((*pre, "the", *ordinal, "of", month), m))
            out.append(((month, *cardinal), m))
        for pre in ((), ("on",)):
            out.append(((*pre, "the", *ordinal), DateMeaning("month_day", day)))
    return out


@lru_cache(maxsize=2)
def date_phrases(language: str) -> tuple[tuple[tuple[str, ...], DateMeaning], ...]:
    """Every spoken date form the grammar accepts, with its meaning."""
    return tuple(_tr_phrases() if language == "tr" else _en_phrases())


@lru_cache(maxsize=2)
def _table(language: str) -> dict[tuple[str, ...], DateMeaning]:
    return dict(date_phrases(language))


def parse_date(words: list[str], language: str, today: date) -> date | None:
    """The date a whole phrase denotes, or None when it is not a date phrase."""
    meaning = _table(language).get(tuple(words))
    return None if meaning is None else resolve_date(meaning, today)
