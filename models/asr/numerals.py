"""Numbers as Whisper writes them, read back as the words a domain's graph spells.

Whisper was trained on transcripts that write most numbers as digits: a natural voice saying
"can you cancel my appointment two forty five" is read "... appointment at 2:45?", "January
the twenty ninth" as "January 29th", "sixty five percent" as "65%". The word graph spells
every number out, so a search restricted to it had to pay for "two", "forty", "five" one
improbable token at a time, and the cheapest way out was often to stop before the number
("can you cancel my appointment"). The token automaton therefore also accepts these written
forms wherever the graph can say a number, and maps each back to the words it stands for
(:func:`readings`); the graph decides which reading fits (docs/speech.md, "Numbers
as digits").

Written by hand: the forms are few and tied to Whisper's habits, and the readings must be
exactly the graph's own spellings (``models.normalize.numbers``), which no number-to-words
library guarantees.
"""

from __future__ import annotations

import re

from models.normalize.numbers import EN_TENS, EN_UNITS, en_ordinal_words, number_words

LANGUAGES = ("en",)  # Turkish written forms carry suffixes ("3'te", "15:30'da"): not yet

# what a numeral may look like while it is being written, and when it is complete
PREFIX = re.compile(
    r"(?:\d+(?:\.\d*)?"  # 45, 3.85
    r"|\d{1,3}(?:,\d{3})+(?:\.\d*)?"  # 1,200
    r"|\d{1,2}:\d{2})"  # 2:45
    r"(?:s|st|n|nd|r|rd|t|th|%|a|am|p|pm)?"
    r"|\d{1,3}(?:,\d{3})*,\d{0,2}"  # 1,2 on the way to 1,200
    r"|\d{1,2}:\d?"  # 2:4 on the way to 2:45
)
COMPLETE = re.compile(
    r"(?P<body>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\d{1,2}:\d{2})(?P<suffix>st|nd|rd|th|%|am|pm)?"
)
# the tokens a numeral is written with: digits (with separators and perhaps a suffix or
# its first letter), a separator alone, or a suffix or its last letters
PIECE = re.compile(
    r"[\d,.:%]*\d[\d,.:%]*(?:st|nd|rd|th|am|pm|s|n|r|t|a|p)?"
    r"|[,.:%]|st|nd|rd|th|am|pm|h|d|m"
)
ORDINAL_SUFFIXES = ("st", "nd", "rd", "th")
MAX_DIGITS = 6


def may_start(text: str) -> bool:
    """Whether ``text`` can begin a numeral: the right shape, and at most ``MAX_DIGITS``
    digits (Whisper falls into digit loops on noise: "2121212…" must end somewhere)."""
    return PREFIX.fullmatch(text) is not None and sum(c.isdigit() for c in text) <= MAX_DIGITS


# numerals on their way to a complete one: at most two digits, a clock or a decimal
# waiting for its digits, a thousands group, or a suffix half written ("29t")
_GROWING = re.compile(
    r"\d{1,2}|\d{1,2}:\d?|\d+\.|\d{1,3}(?:,\d{3})*,\d{0,2}|[\d.:,]*\d(?:s|n|r|t|a|p)"
)


def may_grow(text: str) -> bool:
    """Whether ``text`` is an unfinished numeral that more tokens could make complete; a
    longer one must be complete as it stands, and readable where it is (checked by the
    automaton), or the path may not take it."""
    return _GROWING.fullmatch(text) is not None


def first_words(language: str) -> frozenset[str]:
    """Words a spelled number can start with: where the graph has one, digits may start."""
    if language != "en":
        return frozenset()
    ordinals = {en_ordinal_words(n)[0] for n in range(1, 32)}
    return frozenset({*EN_UNITS, *(t for t in EN_TENS if t), "oh", *ordinals})


def _minutes(minute: int) -> tuple[str, ...]:
    if minute < 10:
        return ("oh", EN_UNITS[minute])
    return tuple(number_words(minute, "en"))


def _clock(hour: int, minute: int) -> list[tuple[str, ...]]:
    """'2:45' -> two forty five; '5:00' -> five o'clock, five, and 'seventeen hundred'."""
    if not (0 < hour <= 23 and 0 <= minute <= 59):
        return []
    h = tuple(number_words(hour, "en"))
    if minute:
        return [h + _minutes(minute)]
    return [(*h, "o'clock"), h, *([(*h, "hundred")] if hour > 12 else [])]


def _digit_by_digit(digits: str) -> list[tuple[str, ...]]:
    spelled = tuple(EN_UNITS[int(d)] for d in digits)
    readings = [spelled]
    if "0" in digits:
        readings.append(tuple("oh" if d == "0" else EN_UNITS[int(d)] for d in digits))
    return readings


def _integer(digits: str, ordinal: bool) -> list[tuple[str, ...]]:
    value = int(digits)
    readings: list[tuple[str, ...]] = []
    canonical = digits == "0" or not digits.startswith("0")
    if ordinal:
        return [tuple(en_ordinal_words(value))] if canonical and 0 < value <= 31 else []
    if canonical:
        readings.append(tuple(number_words(value, "en")))
        if 0 < value <= 31:  # "January 29" for "january twenty ninth"
            readings.append(tuple(en_ordinal_words(value)))
    if len(digits) in (3, 4) and canonical:  # "245" / "1745" for a time
        readings += _clock(int(digits[:-2]), int(digits[-2:]))
    if len(digits) > 1:  # phone and serial numbers are said digit by digit
        readings += _digit_by_digit(digits)
    return readings


def _body(body: str, ordinal: bool) -> list[tuple[str, ...]]:
    if "," in body:
        return [] if ordinal else [tuple(number_words(int(body.replace(",", "")), "en"))]
    if ":" in body:
        hour, minute = body.split(":")
        return [] if ordinal else _clock(int(hour), int(minute))
    if "." in body:
        whole, fraction = body.split(".")
        if ordinal or (whole.startswith("0") and whole != "0"):
            return []
        readings = [(*number_words(int(whole), "en"), "point", *_digit_by_digit(fraction)[0])]
        if len(fraction) == 2:  # "10.15" for "ten fifteen"
            readings += _clock(int(whole), int(fraction))
        return readings
    return _integer(body, ordinal)


def readings(text: str, language: str) -> list[tuple[str, ...]]:
    """The word sequences a complete written numeral may stand for ([] when none)."""
    match = COMPLETE.fullmatch(text)
    if language not in LANGUAGES or match is None:
        return []
    body, suffix = match.group("body"), match.group("suffix") or ""
    if sum(c.isdigit() for c in body) > MAX_DIGITS:
        return []
    found = _body(body, suffix in ORDINAL_SUFFIXES)
    if suffix == "%":
        found = [(*r, "percent") for r in found if r[-1] not in ("o'clock", "hundred")]
    elif suffix in ("am", "pm"):
        found = [(*r, suffix) for r in found if "point" not in r]
    unique: dict[tuple[str, ...], None] = dict.fromkeys(found)
    return list(unique)
