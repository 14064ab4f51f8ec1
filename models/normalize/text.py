"""Word-level text normalisation shared by the word graph, the parser and the classifier.

Spoken word forms are lowercase (Turkish-aware: I -> ı, İ -> i), without punctuation.
English keeps an apostrophe between letters, as Whisper and pronunciation dictionaries spell
those words ("o'clock", "i'd", "don't"); Turkish drops it, joining the suffix ("Kasım'da" ->
"kasımda"), so suffixed forms are one spelling whether or not the writer used one.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"['’`´]")
_NON_WORD = re.compile(r"[^\w\s]+")
_NON_WORD_EN = re.compile(r"[^\w\s']+|(?<![^\W\d_])'|'(?![^\W\d_])")
_NUMERIC = re.compile(r"^\d+(?:[.,:]\d+)?[^\W\d_]*$")
_DIGITS_WITH_SUFFIX = re.compile(r"^(\d+)([^\W\d_]*)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})([^\W\d_]*)$")


def lower(text: str, language: str) -> str:
    """Lowercase with Turkish dotted/dotless i rules when language is tr."""
    text = unicodedata.normalize("NFC", text)
    if language == "tr":
        text = text.replace("I", "ı").replace("İ", "i")
    return text.lower().replace("i̇", "i")


def tokenize(text: str, language: str) -> list[str]:
    """Split a transcript into spoken word forms, keeping digits (and '12.5', '15:00') intact."""
    text = lower(text, language)
    text = _APOSTROPHES.sub("'" if language == "en" else "", text)
    non_word = _NON_WORD_EN if language == "en" else _NON_WORD
    out: list[str] = []
    for raw in text.split():
        token = raw.strip("'.,;:!?\"()[]")
        if _NUMERIC.match(token):
            out.append(token.replace(",", "."))
        else:
            out.extend(non_word.sub(" ", raw).replace("_", " ").split())
    return out


def digits_to_words(tokens: list[str], language: str) -> list[str]:
    """Spell digit tokens as words so one word-level parser handles typed and spoken text.

    "15.30"/"15:30" -> hour and minute words; "12.5" stays a decimal ("on iki virgül beş");
    "3te" (from "3'te") -> "üçte": a Turkish suffix glued to digits moves onto the last word.
    """
    from models.normalize.numbers import number_words

    out: list[str] = []
    point = "virgül" if language == "tr" else "point"
    for tok in tokens:
        if not any(ch.isdigit() for ch in tok):
            out.append(tok)
            continue
        m = _DIGITS_WITH_SUFFIX.match(tok)
        if m:
            words = (
                number_words(int(m.group(1)), language)
                if len(m.group(1)) < 7
                else list(_spell_digits(m.group(1), language))
            )
            if m.group(2):
                words[-1] = words[-1] + m.group(2)
            out.extend(words)
            continue
        clock = _CLOCK.match(tok)
        if clock:
            words = number_words(int(clock.group(1)), language)
            minute = int(clock.group(2))
            if minute:
                if language == "en" and minute < 10:
                    words += ["oh"]
                words += number_words(minute, language)
            elif language == "en":
                # "15:00" is "fifteen hundred"; "3:00" is "three o'clock"
                words += ["hundred"] if int(clock.group(1)) > 12 else ["o'clock"]
            if clock.group(3):
                words[-1] = words[-1] + clock.group(3)
            out.extend(words)
            continue
        parts = tok.split(".")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            whole, frac = parts
            out.extend(number_words(int(whole), language))
            out.append(point)
            out.extend(_spell_fraction(frac, language))
            continue
        out.append(tok)
    return out


def _spell_digits(digits: str, language: str) -> list[str]:
    from models.normalize.numbers import number_words

    return [number_words(int(d), language)[0] for d in digits]


def _spell_fraction(frac: str, language: str) -> list[str]:
    from models.normalize.numbers import number_words

    if language == "en":
        return _spell_digits(frac, language)
    zeros = len(frac) - len(frac.lstrip("0"))
    rest = frac.lstrip("0")
    return ["sıfır"] * zeros + (number_words(int(rest), language) if rest else [])
