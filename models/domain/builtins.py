"""Built-in slot types: their word grammar (a minimal DFA), a sampler and a span parser.

Types: date, time, number, quantity, measure, temperature, percent, phone, serial. The
grammar is what the word graph embeds (so the speech decoder can only produce parseable
spans); the sampler makes (words, expected value) pairs for training and evaluation; the
parser is the normaliser of models.normalize for that type. Grammars are built once per
process and language (lru_cache).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from models.domain.fsa import Dfa, concat, dfa_from_phrases, optional, union
from models.normalize import measures
from models.normalize.dates import date_phrases, resolve_date
from models.normalize.measures import DECIMAL_POINT, DEGREES, MINUS, UNITS
from models.normalize.numbers import number_words
from models.normalize.times import TimeMeaning, resolve_time, time_phrases

BUILTIN_TYPES = (
    "date",
    "time",
    "number",
    "quantity",
    "measure",
    "temperature",
    "percent",
    "phone",
    "serial",
)


@dataclass(frozen=True)
class ParseContext:
    """Reference time (aware; read in the tenant zone) and business hours for time rules."""

    now: datetime
    timezone: str = "Europe/Istanbul"
    business_hours: tuple[int, int] = (9, 20)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("reference time must be timezone-aware")
        opening, closing = self.business_hours
        if not 0 <= opening < closing <= 24:
            raise ValueError(f"bad business hours {self.business_hours}")

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(ZoneInfo(self.timezone))


Sampler = Callable[[random.Random, ParseContext], tuple[list[str], str]]


@dataclass(frozen=True)
class Builtin:
    name: str
    language: str
    grammar: Dfa
    sample: Sampler
    parse: Callable[[list[str], ParseContext], str | None]

    def find_spans(self, words: list[str], ctx: ParseContext) -> list[tuple[int, int, str]]:
        """(start, end, value) for every parseable span of `words` this grammar accepts."""
        out: list[tuple[int, int, str]] = []
        trans, finals = self.grammar.trans, self.grammar.finals
        for i in range(len(words)):
            s = self.grammar.start
            for j in range(i, len(words)):
                nxt = trans[s].get(words[j])
                if nxt is None:
                    break
                s = nxt
                if s in finals:
                    value = self.parse(words[i : j + 1], ctx)
                    if value is not None:
                        out.append((i, j + 1, value))
        return out


def _numbers(lo: int, hi: int, language: str) -> Dfa:
    return dfa_from_phrases(number_words(n, language) for n in range(lo, hi + 1))


def _words(*phrases: str) -> Dfa:
    return dfa_from_phrases(p.split() for p in phrases)


def _decimal_grammar(language: str, signed: bool) -> Dfa:
    if language == "tr":
        frac = union(
            _numbers(0, 99, "tr"), concat(_words("sıfır", "sıfır sıfır"), _numbers(1, 99, "tr"))
        )
    else:
        digit = _numbers(0, 9, "en")
        frac = union(
            digit, concat(digit, digit), concat(digit, digit, digit), _numbers(10, 99, "en")
        )
    body = concat(
        _numbers(0, 999, language), optional(concat(_words(*DECIMAL_POINT[language]), frac))
    )
    return concat(optional(_words(MINUS[language])), body) if signed else body


def _spell_decimal(
    rng: random.Random, language: str, signed: bool, lo: int, hi: int
) -> tuple[list[str], str]:
    whole = rng.randint(lo, hi)
    words = number_words(whole, language)
    value = str(whole)
    if rng.random() < 0.6:
        if language == "en":
            digits = [rng.randint(0, 9) for _ in range(rng.randint(1, 2))]
            if digits[-1] == 0:
                digits[-1] = 5
            frac_words = [w for d in digits for w in number_words(d, "en")]
            frac = "".join(map(str, digits))
        else:
            zeros = rng.choice([0, 0, 0, 1])
            rest = rng.randint(1, 99 if zeros == 0 else 9)
            frac_words = ["sıfır"] * zeros + number_words(rest, "tr")
            frac = "0" * zeros + str(rest)
        words += [DECIMAL_POINT[language][0], *frac_words]
        value += "." + frac
    if signed and rng.random() < 0.15:
        words = [MINUS[language], *words]
        value = "-" + value
    return words, value


def _bind(
    fn: Callable[[list[str], str], str | None], lang: str
) -> Callable[[list[str], ParseContext], str | None]:
    """A normaliser of models.normalize bound to one language, as a span parser."""
    return lambda words, ctx: fn(words, lang)


def _date_builtin(lang: str) -> Builtin:
    phrases = date_phrases(lang)
    table = {w: m for w, m in phrases}

    def sample_date(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        while True:
            words, meaning = rng.choice(phrases)
            d = resolve_date(meaning, ctx.local_now.date())
            if d is not None:
                return list(words), d.isoformat()

    def parse_date(words: list[str], ctx: ParseContext) -> str | None:
        meaning = table.get(tuple(words))
        d = None if meaning is None else resolve_date(meaning, ctx.local_now.date())
        return None if d is None else d.isoformat()

    return Builtin("date", lang, dfa_from_phrases(w for w, _ in phrases), sample_date, parse_date)


def _time_builtin(lang: str) -> Builtin:
    phrases = time_phrases(lang)
    table: dict[tuple[str, ...], TimeMeaning] = {}
    for w, m in phrases:
        table.setdefault(w, m)  # the phrase tables are unambiguous (tested)
    common = [p for p in phrases if p[1].minute % 15 == 0]

    def sample_time(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        # people mostly say round times; odd minutes still appear in one draw of five
        words, meaning = rng.choice(common if rng.random() < 0.8 else phrases)
        return list(words), resolve_time(meaning, ctx.business_hours)

    def parse_time(words: list[str], ctx: ParseContext) -> str | None:
        meaning = table.get(tuple(words))
        return None if meaning is None else resolve_time(meaning, ctx.business_hours)

    return Builtin("time", lang, dfa_from_phrases(w for w, _ in phrases), sample_time, parse_time)


def _number_builtin(lang: str) -> Builtin:
    def sample_number(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        n = rng.choice([rng.randint(0, 20), rng.randint(0, 999), rng.randint(0, 9999)])
        return number_words(n, lang), str(n)

    def parse_integer(words: list[str], ctx: ParseContext) -> str | None:
        value = measures.parse_decimal(words, lang)
        return value if value is not None and value.isdigit() else None

    return Builtin("number", lang, _numbers(0, 9999, lang), sample_number, parse_integer)


def _quantity_builtin(lang: str) -> Builtin:
    counters = measures.TR_COUNTERS if lang == "tr" else measures.EN_CONTAINERS
    special = measures.TR_QUANTITY_WORDS if lang == "tr" else measures.EN_QUANTITY_WORDS
    nums = _numbers(1, 100, lang)
    if lang == "tr":
        grammar = union(
            concat(nums, optional(_words(*counters))),
            dfa_from_phrases(special),
            concat(_numbers(1, 10, lang), _words("düzine")),
        )
    else:
        grammar = union(
            concat(nums, optional(_words(*counters))),
            concat(union(nums, _words("a")), _words(*counters), _words("of")),
            dfa_from_phrases(special),
            concat(_numbers(1, 10, lang), _words("dozen")),
        )

    def sample_quantity(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        r = rng.random()
        if r < 0.15:
            words, n = rng.choice(list(special.items()))
            return list(words), str(n)
        n = rng.choice([rng.randint(1, 10), rng.randint(1, 10), rng.randint(1, 100)])
        words_ = number_words(n, lang)
        if r < 0.6:
            unit = rng.choice(counters)
            if lang == "en":
                plural = [c for c in counters if c.endswith("s")]
                unit = rng.choice(plural if n > 1 else [c for c in counters if c not in plural])
                return [*words_, unit, "of"], str(n)
            return [*words_, unit], str(n)
        return words_, str(n)

    return Builtin("quantity", lang, grammar, sample_quantity, _bind(measures.parse_quantity, lang))


def _measure_builtin(lang: str) -> Builtin:
    units = UNITS[lang]

    def sample_measure(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        words, value = _spell_decimal(rng, lang, False, 0, 500)
        unit = rng.choice(sorted(units))
        return [*words, *unit.split()], f"{value} {units[unit]}"

    return Builtin(
        "measure",
        lang,
        concat(_decimal_grammar(lang, False), _words(*units)),
        sample_measure,
        _bind(measures.parse_measure, lang),
    )


def _temperature_builtin(lang: str) -> Builtin:
    degrees = [" ".join(d) for d in DEGREES[lang]]

    def sample_temperature(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        words, value = _spell_decimal(rng, lang, True, 0, 40)
        return [*words, *rng.choice(degrees).split()], f"{value} °C"

    return Builtin(
        "temperature",
        lang,
        concat(_decimal_grammar(lang, True), _words(*degrees)),
        sample_temperature,
        _bind(measures.parse_temperature, lang),
    )


def _percent_builtin(lang: str) -> Builtin:
    dec = _decimal_grammar(lang, False)
    grammar = concat(_words("yüzde"), dec) if lang == "tr" else concat(dec, _words("percent"))

    def sample_percent(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        words, value = _spell_decimal(rng, lang, False, 0, 100)
        words = ["yüzde", *words] if lang == "tr" else [*words, "percent"]
        return words, f"{value} %"

    return Builtin("percent", lang, grammar, sample_percent, _bind(measures.parse_percent, lang))


def _phone_builtin(lang: str) -> Builtin:
    group = _numbers(0, 999, lang)
    if lang == "en":
        group = union(group, _words("oh"))
    grammar = union(*(concat(*([group] * k)) for k in range(3, 12)))

    def sample_phone(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        if lang == "tr":
            groups = [
                0,
                rng.randint(50, 55) * 10 + rng.randint(1, 9),
                rng.randint(20, 99) * 10 + rng.randint(1, 9),
                rng.randint(1, 9) * 10 + rng.randint(1, 9),
                rng.randint(1, 9) * 10 + rng.randint(0, 9),
            ]
            digits = "".join(str(g) for g in groups)
            return [w for g in groups for w in number_words(g, "tr")], "+90" + digits[1:]
        digits = "".join(str(rng.randint(0, 9)) for _ in range(10))
        words = [
            "oh" if d == "0" and rng.random() < 0.5 else number_words(int(d), "en")[0]
            for d in digits
        ]
        return words, digits

    return Builtin("phone", lang, grammar, sample_phone, _bind(measures.parse_phone, lang))


def _serial_builtin(lang: str) -> Builtin:
    letters = measures.LETTERS[lang]
    item = union(_words(*letters), _numbers(0, 99, lang))
    grammar = union(*(concat(*([item] * k)) for k in range(2, 9)))

    def sample_serial(rng: random.Random, ctx: ParseContext) -> tuple[list[str], str]:
        names = rng.sample(sorted(letters), rng.randint(1, 3))
        digits = [rng.randint(1, 9) for _ in range(rng.randint(2, 4))]
        words = names + [number_words(d, lang)[0] for d in digits]
        return words, "".join(letters[n] for n in names) + "".join(map(str, digits))

    return Builtin("serial", lang, grammar, sample_serial, _bind(measures.parse_serial, lang))


_BUILDERS: dict[str, Callable[[str], Builtin]] = {
    "date": _date_builtin,
    "time": _time_builtin,
    "number": _number_builtin,
    "quantity": _quantity_builtin,
    "measure": _measure_builtin,
    "temperature": _temperature_builtin,
    "percent": _percent_builtin,
    "phone": _phone_builtin,
    "serial": _serial_builtin,
}


@lru_cache(maxsize=32)
def get_builtin(name: str, language: str) -> Builtin:
    """The built-in slot type `name` for `language` (tr or en); KeyError if unknown."""
    if name not in BUILTIN_TYPES:
        raise KeyError(name)
    if language not in ("tr", "en"):
        raise KeyError(language)
    return _BUILDERS[name](language)


def normalize(kind: str, text: str, language: str, ctx: ParseContext) -> str | None:
    """Normalised value of a whole phrase as builtin `kind` ("yarın" -> "2026-11-25"), or None.

    Typed digits are spelled first, so "saat 15:30" and "12,5 mm" work as well.
    """
    from models.normalize.text import digits_to_words, tokenize

    words = digits_to_words(tokenize(text, language), language)
    return get_builtin(kind, language).parse(words, ctx) if words else None
