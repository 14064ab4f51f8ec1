"""Number words for Turkish and English: spelling, Turkish case forms, parsing.

Written here rather than generated with unicode-rbnf: the grammar needs Turkish inflected
forms ("üçte", "dördü", "ikiye", "yirmi beşinde") and English ordinals used in dates, and the
parser must find the longest canonical number in a run of words ("beş yüz otuz iki yüz
yirmi üç" -> 532, 123 for phone numbers). Both are small tables; no dependency needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

TR_UNITS = ["sıfır", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz"]
TR_TENS = ["", "on", "yirmi", "otuz", "kırk", "elli", "altmış", "yetmiş", "seksen", "doksan"]
EN_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
EN_ORDINAL_SPECIAL = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

# Turkish case forms of every word a number can end with:
# locative (-de "at"), dative (-e "to"), accusative (-i), 3rd person possessive (-si),
# possessive + locative (-sinde), as used in "saat üçte", "üçe çeyrek kala", "üçü çeyrek
# geçe", "kasımın yirmi beşi", "kasımın yirmi beşinde".
TR_CASES = ("loc", "dat", "acc", "poss", "possloc")
_TR_FORMS = {
    "sıfır": "sıfırda sıfıra sıfırı sıfırı sıfırında",
    "bir": "birde bire biri biri birinde",
    "iki": "ikide ikiye ikiyi ikisi ikisinde",
    "üç": "üçte üçe üçü üçü üçünde",
    "dört": "dörtte dörde dördü dördü dördünde",
    "beş": "beşte beşe beşi beşi beşinde",
    "altı": "altıda altıya altıyı altısı altısında",
    "yedi": "yedide yediye yediyi yedisi yedisinde",
    "sekiz": "sekizde sekize sekizi sekizi sekizinde",
    "dokuz": "dokuzda dokuza dokuzu dokuzu dokuzunda",
    "on": "onda ona onu onu onunda",
    "yirmi": "yirmide yirmiye yirmiyi yirmisi yirmisinde",
    "otuz": "otuzda otuza otuzu otuzu otuzunda",
    "kırk": "kırkta kırka kırkı kırkı kırkında",
    "elli": "ellide elliye elliyi ellisi ellisinde",
    "altmış": "altmışta altmışa altmışı altmışı altmışında",
    "yetmiş": "yetmişte yetmişe yetmişi yetmişi yetmişinde",
    "seksen": "seksende seksene sekseni sekseni sekseninde",
    "doksan": "doksanda doksana doksanı doksanı doksanında",
    "yüz": "yüzde yüze yüzü yüzü yüzünde",
    "bin": "binde bine bini bini bininde",
}
TR_INFLECT: dict[str, dict[str, str]] = {
    base: dict(zip(TR_CASES, forms.split(), strict=True)) for base, forms in _TR_FORMS.items()
}
TR_UNINFLECT: dict[str, tuple[str, str]] = {}
for _base, _forms in TR_INFLECT.items():
    for _case, _form in _forms.items():
        TR_UNINFLECT.setdefault(_form, (_base, _case))

_TR_VALUES = (
    {w: i for i, w in enumerate(TR_UNITS)}
    | {w: i * 10 for i, w in enumerate(TR_TENS) if w}
    | {"yüz": 100, "bin": 1000}
)
_EN_VALUES = (
    {w: i for i, w in enumerate(EN_UNITS)}
    | {w: i * 10 for i, w in enumerate(EN_TENS) if w}
    | {"hundred": 100, "thousand": 1000}
)


def number_words(n: int, language: str) -> list[str]:
    """Canonical spelling of a non-negative integer below one million."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"number out of range: {n}")
    return _tr_words(n) if language == "tr" else _en_words(n)


def _tr_words(n: int) -> list[str]:
    if n == 0:
        return ["sıfır"]
    words: list[str] = []
    thousands, rest = divmod(n, 1000)
    if thousands:
        words += ([] if thousands == 1 else _tr_words(thousands)) + ["bin"]
    hundreds, rest = divmod(rest, 100)
    if hundreds:
        words += ([] if hundreds == 1 else [TR_UNITS[hundreds]]) + ["yüz"]
    tens, units = divmod(rest, 10)
    if tens:
        words.append(TR_TENS[tens])
    if units:
        words.append(TR_UNITS[units])
    return words


def _en_words(n: int) -> list[str]:
    if n < 20:
        return [EN_UNITS[n]]
    words: list[str] = []
    thousands, rest = divmod(n, 1000)
    if thousands:
        words += [*_en_words(thousands), "thousand"]
    hundreds, rest = divmod(rest, 100)
    if hundreds:
        words += [EN_UNITS[hundreds], "hundred"]
    if rest:
        if rest < 20:
            words.append(EN_UNITS[rest])
        else:
            tens, units = divmod(rest, 10)
            words.append(EN_TENS[tens])
            if units:
                words.append(EN_UNITS[units])
    return words


def tr_inflect(words: list[str], case: str) -> list[str]:
    """Put a Turkish case suffix on the last word of a spelled number."""
    return [*words[:-1], TR_INFLECT[words[-1]][case]]


def en_ordinal_words(n: int) -> list[str]:
    """English ordinal spelling: 25 -> ['twenty', 'fifth']."""
    words = _en_words(n)
    last = words[-1]
    if last in EN_ORDINAL_SPECIAL:
        words[-1] = EN_ORDINAL_SPECIAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


@lru_cache(maxsize=1)
def _en_ordinals() -> dict[str, int]:
    return {w: n for n in range(1, 32) if len(ws := en_ordinal_words(n)) == 1 for w in ws}


@dataclass(frozen=True)
class NumberMatch:
    """A number found at tokens[start:end]; case is the Turkish suffix on its last word."""

    value: int
    start: int
    end: int
    case: str | None = None
    ordinal: bool = False


def _value_of(words: list[str], language: str) -> int | None:
    table = _TR_VALUES if language == "tr" else _EN_VALUES
    total = current = 0
    for w in words:
        v = table.get(w)
        if v is None:
            return None
        if v == 1000:
            total += (current or 1) * 1000
            current = 0
        elif v == 100:
            current = (current or 1) * 100
        else:
            current += v
    return total + current


def parse_number(
    tokens: list[str], i: int, language: str, *, cases: bool = True
) -> NumberMatch | None:
    """Longest canonical number starting at tokens[i] (English also allows 'a hundred',
    'hundred and five' and a final ordinal word 'twenty fifth'), or None."""
    table = _TR_VALUES if language == "tr" else _EN_VALUES
    run: list[str] = []
    positions: list[int] = []
    final_case: str | None = None
    ordinal = False
    j = i
    while j < len(tokens):
        tok = tokens[j]
        if language == "en" and tok in ("a", "and") and run[-1:] != ["and"]:
            nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
            if (tok == "a" and not run and nxt in ("hundred", "thousand")) or (
                tok == "and" and run and run[-1] in ("hundred", "thousand") and nxt in table
            ):
                run.append("one" if tok == "a" else "and")
                positions.append(j)
                j += 1
                continue
            break
        if tok in table:
            run.append(tok)
            positions.append(j)
            j += 1
            continue
        if language == "tr" and cases and tok in TR_UNINFLECT:
            base, final_case = TR_UNINFLECT[tok]
            run.append(base)
            positions.append(j)
        elif language == "en" and cases and tok in _en_ordinals():
            ordinal = True
            run.append(_ORDINAL_BASE.get(tok, ""))
            positions.append(j)
        break
    # longest canonical prefix; an inflected/ordinal word is only allowed at the very end
    for k in range(len(run), 0, -1):
        words = [w for w in run[:k] if w != "and"]
        if not words or words[-1] == "and":
            continue
        value = _value_of(words, language)
        if value is None:
            continue
        ok = number_words(value, language) == words if value < 1_000_000 else False
        if ok:
            last_is_special = k == len(run) and (final_case is not None or ordinal)
            return NumberMatch(
                value=value,
                start=i,
                end=positions[k - 1] + 1,
                case=final_case if last_is_special else None,
                ordinal=ordinal and last_is_special,
            )
    return None


_ORDINAL_BASE = {"".join(en_ordinal_words(n)[-1:]): number_words(n, "en")[-1] for n in range(1, 32)}
