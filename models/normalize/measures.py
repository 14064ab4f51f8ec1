"""Quantities, measured values with units, temperatures, percentages, phone and serial numbers.

Each parser takes a whole span of spoken words and returns the normalised text or None:
quantity "iki tane"/"a dozen" -> "2"/"12"; measure "on iki virgül beş milimetre" -> "12.5 mm";
temperature "yirmi üç derece" -> "23 °C"; percent "yüzde kırk beş" -> "45 %"; phone
"sıfır beş yüz otuz iki ..." -> "+905321234567"; serial "a be ce bir iki üç" -> "ABC123".
The word tables here also feed the grammar (models.domain.builtins).
"""

from __future__ import annotations

from models.normalize.numbers import parse_number

# spoken unit words -> symbol
UNITS = {
    "tr": {
        "milimetre": "mm",
        "santimetre": "cm",
        "metre": "m",
        "mikron": "µm",
        "mikrometre": "µm",
        "gram": "g",
        "kilogram": "kg",
        "kilo": "kg",
        "miligram": "mg",
        "ton": "t",
        "bar": "bar",
        "milibar": "mbar",
        "paskal": "Pa",
        "kilopaskal": "kPa",
        "psi": "psi",
        "volt": "V",
        "milivolt": "mV",
        "amper": "A",
        "miliamper": "mA",
        "ohm": "Ω",
        "kiloohm": "kΩ",
        "megaohm": "MΩ",
        "newton metre": "N·m",
        "derece": "°",
    },
    "en": {
        "millimeters": "mm",
        "millimeter": "mm",
        "centimeters": "cm",
        "centimeter": "cm",
        "meters": "m",
        "meter": "m",
        "microns": "µm",
        "micrometers": "µm",
        "grams": "g",
        "gram": "g",
        "kilograms": "kg",
        "kilogram": "kg",
        "milligrams": "mg",
        "bar": "bar",
        "millibar": "mbar",
        "pascals": "Pa",
        "kilopascals": "kPa",
        "psi": "psi",
        "volts": "V",
        "volt": "V",
        "millivolts": "mV",
        "amps": "A",
        "amperes": "A",
        "milliamps": "mA",
        "ohms": "Ω",
        "kilohms": "kΩ",
        "megohms": "MΩ",
        "newton meters": "N·m",
        "degrees": "°",
    },
}
DECIMAL_POINT = {"tr": ("virgül", "nokta"), "en": ("point",)}
MINUS = {"tr": "eksi", "en": "minus"}
DEGREES = {
    "tr": (("derece",), ("derece", "santigrat")),
    "en": (("degrees",), ("degrees", "celsius"), ("degrees", "centigrade")),
}
PERCENT_PREFIX = {"tr": "yüzde"}
PERCENT_SUFFIX = {"en": "percent"}
# counters after a Turkish number / English containers before "of"
TR_COUNTERS = ("tane", "adet", "şişe", "kutu", "paket", "tüp", "kavanoz")
EN_CONTAINERS = (
    "bottles",
    "bottle",
    "boxes",
    "box",
    "packs",
    "pack",
    "tubes",
    "tube",
    "jars",
    "jar",
    "pieces",
    "piece",
    "units",
    "unit",
)
# English quantity words; Turkish dozens are counted with "düzine"
EN_QUANTITY_WORDS: dict[tuple[str, ...], int] = {
    ("a", "dozen"): 12,
    ("half", "a", "dozen"): 6,
    ("a", "couple", "of"): 2,
    ("a", "couple"): 2,
    ("a", "pair", "of"): 2,
    ("a",): 1,
    ("an",): 1,
}
TR_QUANTITY_WORDS: dict[tuple[str, ...], int] = {
    ("bir", "düzine"): 12,
    ("yarım", "düzine"): 6,
    ("bir", "çift"): 2,
}
TR_LETTERS = {
    "a": "A",
    "be": "B",
    "ce": "C",
    "çe": "Ç",
    "de": "D",
    "e": "E",
    "fe": "F",
    "ge": "G",
    "he": "H",
    "ı": "I",
    "i": "İ",
    "je": "J",
    "ke": "K",
    "le": "L",
    "me": "M",
    "ne": "N",
    "o": "O",
    "ö": "Ö",
    "pe": "P",
    "re": "R",
    "se": "S",
    "şe": "Ş",
    "te": "T",
    "u": "U",
    "ü": "Ü",
    "ve": "V",
    "ye": "Y",
    "ze": "Z",
    "kü": "Q",
    "vekil": "W",
    "iks": "X",
}
EN_LETTERS = {chr(c): chr(c).upper() for c in range(ord("a"), ord("z") + 1)}
LETTERS = {"tr": TR_LETTERS, "en": EN_LETTERS}


def _number_span(words: list[str], language: str) -> int | None:
    """Value when the whole span is one canonical number (no case suffix), else None."""
    m = parse_number(words, 0, language, cases=False)
    return m.value if m is not None and m.end == len(words) else None


def parse_decimal(words: list[str], language: str) -> str | None:
    """'on iki virgül beş' -> '12.5'; 'twelve point two five' -> '12.25'; '-' via eksi/minus."""
    sign = ""
    if words[:1] == [MINUS[language]]:
        sign, words = "-", words[1:]
    points = [i for i, w in enumerate(words) if w in DECIMAL_POINT[language]]
    if not points:
        whole = _number_span(words, language) if words else None
        return None if whole is None else f"{sign}{whole}"
    i = points[0]
    whole = _number_span(words[:i], language) if i else None
    frac_words = words[i + 1 :]
    if whole is None or not frac_words:
        return None
    frac = _fraction_digits(frac_words, language)
    return None if frac is None else f"{sign}{whole}.{frac}"


def _fraction_digits(words: list[str], language: str) -> str | None:
    zero = "sıfır" if language == "tr" else "zero"
    zeros = 0
    while zeros < len(words) and words[zeros] in (zero, "oh"):
        zeros += 1
    rest = words[zeros:]
    if not rest:
        return "0" * zeros if zeros else None
    if language == "en":
        digits = [_number_span([w], "en") for w in rest]
        if all(d is not None and d < 10 for d in digits):
            return "0" * zeros + "".join(str(d) for d in digits)
    value = _number_span(rest, language)
    return None if value is None or value >= 1000 else "0" * zeros + str(value)


def parse_quantity(words: list[str], language: str) -> str | None:
    """A count of items: 'iki tane', 'üç şişe', 'bir düzine', 'two bottles of', 'a dozen'."""
    if not words:
        return None
    if language == "tr":
        if tuple(words) in TR_QUANTITY_WORDS:
            return str(TR_QUANTITY_WORDS[tuple(words)])
        if words[-1] == "düzine":
            n = _number_span(words[:-1], "tr")
            return None if n is None else str(n * 12)
        if words[-1] in TR_COUNTERS:
            words = words[:-1]
    else:
        if tuple(words) in EN_QUANTITY_WORDS:
            return str(EN_QUANTITY_WORDS[tuple(words)])
        if words[-1] == "of":
            words = words[:-1]
            if words and words[-1] in EN_CONTAINERS:
                words = words[:-1]
        elif words[-1] in EN_CONTAINERS:
            words = words[:-1]
        key = tuple(words)
        if key in EN_QUANTITY_WORDS:
            return str(EN_QUANTITY_WORDS[key])
        if words[-1:] == ["dozen"]:
            n = _number_span(words[:-1], "en")
            return None if n is None else str(n * 12)
    n = _number_span(words, language) if words else None
    return None if n is None or n == 0 else str(n)


def parse_measure(words: list[str], language: str) -> str | None:
    """A measured value with a unit: '12.5 mm', '3 bar', '0.05 mm'."""
    for size in (2, 1):
        unit = " ".join(words[-size:])
        if len(words) > size and unit in UNITS[language]:
            value = parse_decimal(words[:-size], language)
            return None if value is None else f"{value} {UNITS[language][unit]}"
    return None


def parse_temperature(words: list[str], language: str) -> str | None:
    """'yirmi üç virgül beş derece' -> '23.5 °C'; 'minus five degrees celsius' -> '-5 °C'."""
    for suffix in sorted(DEGREES[language], key=len, reverse=True):
        n = len(suffix)
        if len(words) > n and tuple(words[-n:]) == suffix:
            value = parse_decimal(words[:-n], language)
            return None if value is None else f"{value} °C"
    return None


def parse_percent(words: list[str], language: str) -> str | None:
    """'yüzde kırk beş' / 'forty five percent' -> '45 %'."""
    if language == "tr":
        if len(words) < 2 or words[0] != PERCENT_PREFIX["tr"]:
            return None
        value = parse_decimal(words[1:], "tr")
    else:
        if len(words) < 2 or words[-1] != PERCENT_SUFFIX["en"]:
            return None
        value = parse_decimal(words[:-1], "en")
    return None if value is None or value.startswith("-") else f"{value} %"


def _digit_groups(words: list[str], language: str) -> str | None:
    """Concatenate spoken number groups: 'beş yüz otuz iki' 'sıfır' -> '5320'."""
    digits = ""
    i = 0
    while i < len(words):
        if words[i] == "oh" and language == "en":
            digits += "0"
            i += 1
            continue
        m = parse_number(words, i, language, cases=False)
        if m is None or m.value >= 1000:
            return None
        digits += str(m.value)
        i = m.end
    return digits


def parse_phone(words: list[str], language: str) -> str | None:
    """Phone number: E.164 for Turkish mobiles said in Turkish ('+905321234567'), else digits."""
    digits = _digit_groups(words, language)
    if digits is None or not 7 <= len(digits) <= 13:
        return None
    if language != "tr":
        return digits
    if len(digits) == 11 and digits.startswith("05"):
        return "+90" + digits[1:]
    if len(digits) == 10 and digits.startswith("5"):
        return "+90" + digits
    if len(digits) == 12 and digits.startswith("90"):
        return "+" + digits
    return digits


def parse_serial(words: list[str], language: str) -> str | None:
    """Letters (spoken letter names) and number groups: 'a be ce bir iki üç' -> 'ABC123'."""
    out = ""
    i = 0
    letters = LETTERS[language]
    while i < len(words):
        if words[i] in letters:
            out += letters[words[i]]
            i += 1
            continue
        m = parse_number(words, i, language, cases=False)
        if m is None:
            return None
        out += str(m.value)
        i = m.end
    return out if 2 <= len(out) <= 20 else None
