"""Normaliser tables: spoken Turkish and English values -> canonical text.

Expected values were worked out by hand from the reference time (Tuesday 24 November 2026,
10:00 Europe/Istanbul) and the rules in docs/domain.md; none was copied from output.
Breaking attempts: impossible dates, zero quantities, a typed clock time with a Turkish
suffix, words that only look like numbers, a naive reference time.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from models.domain.builtins import ParseContext, normalize
from tests.models.nlu.conftest import NOW

CTX = ParseContext(NOW)

TR_CASES = [
    # dates
    ("date", "bugün", "2026-11-24"),
    ("date", "yarın", "2026-11-25"),
    ("date", "öbür gün", "2026-11-26"),
    ("date", "öbürgün", "2026-11-26"),
    ("date", "yarından sonra", "2026-11-26"),
    ("date", "haftaya bugün", "2026-12-01"),
    ("date", "cuma", "2026-11-27"),
    ("date", "cuma günü", "2026-11-27"),
    ("date", "cumaya", "2026-11-27"),
    ("date", "salı", "2026-12-01"),
    ("date", "bu salı", "2026-11-24"),
    ("date", "haftaya salı", "2026-12-01"),
    ("date", "haftaya cuma", "2026-12-04"),
    ("date", "gelecek hafta pazartesi", "2026-11-30"),
    ("date", "önümüzdeki perşembe", "2026-11-26"),
    ("date", "pazar", "2026-11-29"),
    ("date", "cumartesiye", "2026-11-28"),
    ("date", "bu çarşamba", "2026-11-25"),
    ("date", "yirmi beş kasım", "2026-11-25"),
    ("date", "kasımın yirmi beşi", "2026-11-25"),
    ("date", "kasımın yirmi beşinde", "2026-11-25"),
    ("date", "Kasım'ın 25'inde", "2026-11-25"),
    ("date", "on iki aralıkta", "2026-12-12"),
    ("date", "bir ocak", "2027-01-01"),
    ("date", "ekimin üçünde", "2027-10-03"),
    ("date", "yirmi dört kasım", "2026-11-24"),
    ("date", "yirmi üç kasım", "2027-11-23"),
    ("date", "ayın biri", "2026-12-01"),
    ("date", "ayın otuzunda", "2026-11-30"),
    ("date", "şubatın yirmi dokuzu", "2028-02-29"),
    ("date", "otuz şubat", None),
    ("date", "dün", None),
    # times (business hours 09-20)
    ("time", "saat üçte", "15:00"),
    ("time", "üçte", "15:00"),
    ("time", "saat onda", "10:00"),
    ("time", "saat dokuzda", "09:00"),
    ("time", "saat sekizde", "08:00"),
    ("time", "saat yedide", "19:00"),
    ("time", "saat on ikide", "12:00"),
    ("time", "saat birde", "13:00"),
    ("time", "sabah sekizde", "08:00"),
    ("time", "akşam yedide", "19:00"),
    ("time", "öğleden sonra ikide", "14:00"),
    ("time", "öğleden sonra", "13:00-18:00"),
    ("time", "sabah", "09:00-12:00"),
    ("time", "akşam", "18:00-21:00"),
    ("time", "öğlen", "12:00"),
    ("time", "saat üç buçukta", "15:30"),
    ("time", "dördü çeyrek geçe", "16:15"),
    ("time", "beşe çeyrek kala", "16:45"),
    ("time", "saat on beş otuzda", "15:30"),
    ("time", "saat on dört kırk beşte", "14:45"),
    ("time", "saat 15:30'da", "15:30"),
    ("time", "gece ikide", "02:00"),
    ("time", "saat üçe", "15:00"),
    ("time", "saat iki gibi", "14:00"),
    ("time", "onu yirmi geçe", "10:20"),
    ("time", "saat yirmi üçte", "23:00"),
    ("time", "saat dokuz", "09:00"),
    ("time", "üç", None),
    # numbers, quantities, measured values
    ("number", "yüz yirmi beş", "125"),
    ("number", "iki bin yirmi altı", "2026"),
    ("number", "sıfır", "0"),
    ("number", "bin dokuz yüz", "1900"),
    ("number", "bir bin", None),
    ("quantity", "iki tane", "2"),
    ("quantity", "üç adet", "3"),
    ("quantity", "bir düzine", "12"),
    ("quantity", "yarım düzine", "6"),
    ("quantity", "beş şişe", "5"),
    ("quantity", "on", "10"),
    ("quantity", "iki düzine", "24"),
    ("quantity", "sıfır", None),
    ("measure", "on iki virgül beş milimetre", "12.5 mm"),
    ("measure", "sıfır virgül sıfır beş milimetre", "0.05 mm"),
    ("measure", "üç bar", "3 bar"),
    ("measure", "iki yüz otuz volt", "230 V"),
    ("measure", "on virgül yirmi beş kilogram", "10.25 kg"),
    ("measure", "beş miliamper", "5 mA"),
    ("measure", "on iki virgül beş", None),
    ("temperature", "yirmi üç derece", "23 °C"),
    ("temperature", "yirmi üç virgül beş derece santigrat", "23.5 °C"),
    ("temperature", "eksi beş derece", "-5 °C"),
    ("percent", "yüzde kırk beş", "45 %"),
    ("percent", "yüzde elli virgül beş", "50.5 %"),
    ("phone", "sıfır beş yüz otuz iki yüz yirmi üç kırk beş altmış yedi", "+905321234567"),
    ("phone", "beş yüz otuz iki yüz yirmi üç kırk beş altmış yedi", "+905321234567"),
    ("serial", "a be ce bir iki üç", "ABC123"),
    ("serial", "ke le yirmi üç", "KL23"),
]

EN_CASES = [
    # dates
    ("date", "today", "2026-11-24"),
    ("date", "tomorrow", "2026-11-25"),
    ("date", "the day after tomorrow", "2026-11-26"),
    ("date", "day after tomorrow", "2026-11-26"),
    ("date", "a week from today", "2026-12-01"),
    ("date", "friday", "2026-11-27"),
    ("date", "on friday", "2026-11-27"),
    ("date", "this friday", "2026-11-27"),
    ("date", "next friday", "2026-12-04"),
    ("date", "friday next week", "2026-12-04"),
    ("date", "next tuesday", "2026-12-01"),
    ("date", "this tuesday", "2026-11-24"),
    ("date", "tuesday", "2026-12-01"),
    ("date", "on monday", "2026-11-30"),
    ("date", "next monday", "2026-11-30"),
    ("date", "Sunday", "2026-11-29"),
    ("date", "november twenty fifth", "2026-11-25"),
    ("date", "the twenty fifth of november", "2026-11-25"),
    ("date", "on the twenty fifth of november", "2026-11-25"),
    ("date", "november the twenty fifth", "2026-11-25"),
    ("date", "November 25", "2026-11-25"),
    ("date", "december first", "2026-12-01"),
    ("date", "january second", "2027-01-02"),
    ("date", "the third", "2026-12-03"),
    ("date", "on the thirtieth", "2026-11-30"),
    ("date", "october third", "2027-10-03"),
    ("date", "the first of january", "2027-01-01"),
    ("date", "february thirtieth", None),
    ("date", "yesterday", None),
    # times
    ("time", "three pm", "15:00"),
    ("time", "three o'clock", "15:00"),
    ("time", "three o’clock", "15:00"),
    ("time", "3 o'clock", "15:00"),
    ("time", "three", "15:00"),
    ("time", "ten", "10:00"),
    ("time", "eight", "08:00"),
    ("time", "seven", "19:00"),
    ("time", "twelve", "12:00"),
    ("time", "ten am", "10:00"),
    ("time", "seven in the evening", "19:00"),
    ("time", "two in the afternoon", "14:00"),
    ("time", "half past three", "15:30"),
    ("time", "quarter past four", "16:15"),
    ("time", "quarter to five", "16:45"),
    ("time", "twenty past ten", "10:20"),
    ("time", "ten to six", "17:50"),
    ("time", "three thirty pm", "15:30"),
    ("time", "3:30 pm", "15:30"),
    ("time", "three oh five", "15:05"),
    ("time", "fifteen thirty", "15:30"),
    ("time", "fifteen hundred", "15:00"),
    ("time", "15:00", "15:00"),
    ("time", "noon", "12:00"),
    ("time", "midnight", "00:00"),
    ("time", "in the afternoon", "13:00-18:00"),
    ("time", "in the morning", "09:00-12:00"),
    ("time", "in the evening", "18:00-21:00"),
    ("time", "eleven at night", "23:00"),
    ("time", "thirteen pm", None),
    # numbers, quantities, measured values
    ("number", "one hundred twenty five", "125"),
    ("number", "one hundred and twenty five", "125"),
    ("number", "a hundred", "100"),
    ("number", "two thousand twenty six", "2026"),
    ("number", "zero", "0"),
    ("number", "twenty twenty", None),
    ("quantity", "two", "2"),
    ("quantity", "a dozen", "12"),
    ("quantity", "half a dozen", "6"),
    ("quantity", "two dozen", "24"),
    ("quantity", "a couple of", "2"),
    ("quantity", "a pair of", "2"),
    ("quantity", "three bottles of", "3"),
    ("quantity", "a bottle of", "1"),
    ("quantity", "five packs", "5"),
    ("quantity", "zero", None),
    ("measure", "twelve point five millimeters", "12.5 mm"),
    ("measure", "zero point zero five millimeters", "0.05 mm"),
    ("measure", "three bar", "3 bar"),
    ("measure", "two hundred thirty volts", "230 V"),
    ("measure", "ten point two five kilograms", "10.25 kg"),
    ("measure", "five milliamps", "5 mA"),
    ("temperature", "twenty three degrees", "23 °C"),
    ("temperature", "twenty three point five degrees celsius", "23.5 °C"),
    ("temperature", "minus five degrees", "-5 °C"),
    ("percent", "forty five percent", "45 %"),
    ("percent", "fifty point five percent", "50.5 %"),
    ("phone", "five five five one two three four five six seven", "5551234567"),
    ("phone", "oh five three two one two three four five six seven", "05321234567"),
    ("serial", "a b c one two three", "ABC123"),
]


def test_tables_are_large_enough() -> None:
    date_time_quantity = {"date", "time", "number", "quantity"}
    assert sum(k in date_time_quantity for k, _, _ in TR_CASES) >= 60
    assert sum(k in date_time_quantity for k, _, _ in EN_CASES) >= 60


@pytest.mark.parametrize(("kind", "text", "expected"), TR_CASES, ids=str)
def test_turkish(kind: str, text: str, expected: str | None) -> None:
    assert normalize(kind, text, "tr", CTX) == expected


@pytest.mark.parametrize(("kind", "text", "expected"), EN_CASES, ids=str)
def test_english(kind: str, text: str, expected: str | None) -> None:
    assert normalize(kind, text, "en", CTX) == expected


def test_reference_time_is_read_in_the_tenant_zone() -> None:
    # 22:30 UTC on the 24th is already 01:30 on the 25th in Istanbul: "yarın" is the 26th
    late = ParseContext(datetime.fromisoformat("2026-11-24T22:30:00+00:00"))
    assert normalize("date", "yarın", "tr", late) == "2026-11-26"
    assert normalize("date", "tomorrow", "en", late) == "2026-11-26"


def test_business_hours_change_the_reading_of_a_bare_hour() -> None:
    evening_shop = ParseContext(NOW, business_hours=(12, 23))
    assert normalize("time", "saat onda", "tr", evening_shop) == "22:00"
    assert normalize("time", "saat onda", "tr", CTX) == "10:00"


def test_naive_reference_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ParseContext(datetime(2026, 11, 24, 10, 0))  # noqa: DTZ001 - the point of the test
