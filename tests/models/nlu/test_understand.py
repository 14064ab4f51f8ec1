"""understand(): in-template, out-of-template and noisy transcripts, and out-of-domain text.

Expected values are hand-written from the reference time (Tue 24 Nov 2026 10:00 Istanbul).
Breaking attempts: phrasing no template has, misrecognised words, Turkish suffixes on
catalog names, digits instead of words, unrelated sentences, empty and punctuation-only text.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from models.domain import CompiledDomain
from models.nlu.augment import corrupt
from tests.models.nlu.conftest import EXAMPLES, NOW

IN_TEMPLATE = [
    (
        "salon_tr",
        "Yarın saat üçte saç kesimi için randevu almak istiyorum.",
        "BookAppointment",
        {"date": "2026-11-25", "time": "15:00", "service": "sac-kesimi"},
    ),
    (
        "salon_tr",
        "cuma öğleden sonra boş yeriniz var mı",
        "AskAvailability",
        {"date": "2026-11-27", "time": "13:00-18:00"},
    ),
    (
        "salon_tr",
        "haftaya salı fön için randevu alabilir miyim",
        "BookAppointment",
        {"date": "2026-12-01", "service": "fon"},
    ),
    (
        "salon_tr",
        "öbür gün saat on bir buçukta manikür randevusu istiyorum",
        "BookAppointment",
        {"date": "2026-11-26", "time": "11:30", "service": "manikur"},
    ),
    ("salon_tr", "boya ne kadar", "AskPrice", {"service": "sac-boyama"}),
    ("salon_tr", "randevumu iptal et", "CancelAppointment", {}),
    ("salon_tr", "evet", "Yes", {}),
    (
        "salon_en",
        "I'd like to book an appointment for a haircut next Tuesday at 3 pm",
        "BookAppointment",
        {"service": "haircut", "date": "2026-12-01", "time": "15:00"},
    ),
    ("salon_en", "how much is a manicure", "AskPrice", {"service": "manicure"}),
    (
        "salon_en",
        "can we move my appointment to friday at half past four",
        "MoveAppointment",
        {"date": "2026-11-27", "time": "16:30"},
    ),
    ("salon_en", "no thanks", "No", {}),
    (
        "shop_tr",
        "iki tane nemlendirici krem istiyorum",
        "OrderProduct",
        {"quantity": "2", "product": "nemlendirici-krem"},
    ),
    ("shop_tr", "Nemlendirici krem stokta var mı?", "AskStock", {"product": "nemlendirici-krem"}),
    (
        "shop_tr",
        "bir düzine şampuan sipariş ver",
        "OrderProduct",
        {"quantity": "12", "product": "sampuan"},
    ),
    (
        "shop_en",
        "Two bottles of the moisturiser, please",
        "OrderProduct",
        {"quantity": "2", "product": "moisturiser"},
    ),
    (
        "shop_en",
        "I'd like a dozen lip balm",
        "OrderProduct",
        {"quantity": "12", "product": "lip-balm"},
    ),
    ("shop_en", "is the sunscreen in stock", "AskStock", {"product": "sunscreen"}),
    # typed without the apostrophe the graph spells ("i'd")
    (
        "shop_en",
        "id like a dozen lip balm",
        "OrderProduct",
        {"quantity": "12", "product": "lip-balm"},
    ),
    ("shop_en", "cancel my order", "CancelOrder", {}),
    (
        "calibration_tr",
        "ölçülen değer on iki virgül beş milimetre",
        "RecordMeasurement",
        {"measured": "12.5 mm"},
    ),
    (
        "calibration_tr",
        "ortam sıcaklığı yirmi üç virgül beş derece",
        "SetTemperature",
        {"temperature": "23.5 °C"},
    ),
    ("calibration_tr", "bağıl nem yüzde kırk beş", "SetHumidity", {"humidity": "45 %"}),
    ("calibration_tr", "cihaz tipi kumpas", "SetDevice", {"device": "KUMPAS"}),
    ("calibration_tr", "seri numarası a be ce bir iki üç", "SetSerial", {"serial": "ABC123"}),
    (
        "calibration_en",
        "nominal ten millimeters measured ten point zero two millimeters",
        "RecordMeasurement",
        {"nominal": "10 mm", "measured": "10.02 mm"},
    ),
    (
        "calibration_en",
        "ambient temperature is twenty one degrees celsius",
        "SetTemperature",
        {"temperature": "21 °C"},
    ),
    (
        "calibration_en",
        "the device is a pressure transmitter",
        "SetDevice",
        {"device": "BASINC_TRANSMITTERI"},
    ),
]

OUT_OF_TEMPLATE = [
    # phrasing or word forms no template has; recognition errors
    (
        "salon_tr",
        "yarın saat üçte saç kesimi randevusu almak isterim acaba",
        "BookAppointment",
        {"date": "2026-11-25", "time": "15:00", "service": "sac-kesimi"},
    ),
    ("salon_tr", "manikürün fiyatı ne kadar acaba", "AskPrice", {"service": "manikur"}),
    (
        "salon_tr",
        "cuma günü fön için yeriniz varmı",
        "AskAvailability",
        {"date": "2026-11-27", "service": "fon"},
    ),
    (
        "salon_en",
        "hi could i get a haircut tomorrow at ten please",
        "BookAppointment",
        {"service": "haircut", "date": "2026-11-25", "time": "10:00"},
    ),
    ("salon_en", "what would a pedicure cost me", "AskPrice", {"service": "pedicure"}),
    (
        "shop_tr",
        "şampuandan iki tane alabilir miyim lütfen",
        "OrderProduct",
        {"product": "sampuan", "quantity": "2"},
    ),
    (
        "shop_tr",
        "nemlendiri krem stokta kaldı mı acaba",
        "AskStock",
        {"product": "nemlendirici-krem"},
    ),
    ("shop_en", "uh can i get 3 shampoos", "OrderProduct", {"product": "shampoo", "quantity": "3"}),
    ("shop_en", "do you still have any sun screen", "AskStock", {"product": "sunscreen"}),
    (
        "calibration_tr",
        "şimdi ölçülen değeri söylüyorum on iki virgül beş milimetre",
        "RecordMeasurement",
        {"measured": "12.5 mm"},
    ),
    (
        "calibration_en",
        "okay the humidity reads forty five percent",
        "SetHumidity",
        {"humidity": "45 %"},
    ),
]

OUT_OF_DOMAIN = {
    "tr": [
        "bugün hava nasıl olacak",
        "bana bir fıkra anlat",
        "maç kaç kaç bitti",
        "ankara'nın nüfusu ne kadar",
        "köpeğimi veterinere götürmem lazım",
    ],
    "en": [
        "what's the weather like tomorrow",
        "tell me a joke",
        "who won the match",
        "what is the capital of france",
        "i need to take my dog to the vet",
    ],
}


@pytest.mark.parametrize(("name", "text", "intent", "slots"), IN_TEMPLATE)
def test_in_template(
    name: str,
    text: str,
    intent: str,
    slots: dict[str, str],
    domain: Callable[[str], CompiledDomain],
) -> None:
    u = domain(name).understand(text, NOW)
    assert (u.intent, u.slots) == (intent, slots)
    assert u.in_grammar
    assert u.confidence == 1.0


@pytest.mark.parametrize(("name", "text", "intent", "slots"), OUT_OF_TEMPLATE)
def test_out_of_template(
    name: str,
    text: str,
    intent: str,
    slots: dict[str, str],
    domain: Callable[[str], CompiledDomain],
) -> None:
    c = domain(name)
    assert not c.parser.parse(c.words(text)), "meant to be outside the grammar"
    u = c.understand(text, NOW)
    assert (u.intent, u.slots) == (intent, slots)
    assert 0.5 < u.confidence < 1.0


@pytest.mark.parametrize("name", EXAMPLES)
def test_out_of_domain_is_not_recognised(
    name: str, domain: Callable[[str], CompiledDomain]
) -> None:
    c = domain(name)
    for text in [*OUT_OF_DOMAIN[c.language], "", "...", "?!"]:
        u = c.understand(text, NOW)
        assert u.intent is None, text
        assert u.slots == {}


@pytest.mark.parametrize("name", EXAMPLES)
def test_noisy_samples_keep_their_intent(
    name: str, domain: Callable[[str], CompiledDomain]
) -> None:
    import random

    c = domain(name)
    rng = random.Random(123)
    samples = c.sample_sentences(200, seed=123, now=NOW)
    hits = sum(
        c.understand(" ".join(corrupt(s.text.split(), rng, c.language)), NOW).intent == s.intent
        for s in samples
    )
    assert hits / len(samples) >= 0.9


def test_replies_fill_slots_or_ask_for_the_missing_one(
    domain: Callable[[str], CompiledDomain],
) -> None:
    c = domain("salon_tr")
    full = c.understand("yarın saat üçte saç kesimi için randevu almak istiyorum", NOW)
    assert full.reply == (
        "Saç kesimi için 25 kasım çarşamba saat 15:00 randevu talebinizi aldım. Onaylıyor musunuz?"
    )
    assert c.understand("yarın saç kesimi için randevu almak istiyorum", NOW).reply == "Saat kaçta?"
    en = domain("shop_en").understand("two bottles of shampoo please", NOW)
    assert en.reply == "I have your order for 2 of shampoo. Shall I confirm it?"


def test_naive_now_is_refused(domain: Callable[[str], CompiledDomain]) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="aware"):
        domain("salon_tr").understand("yarın", datetime(2026, 11, 24))  # noqa: DTZ001


def test_runaway_transcript_is_cut(domain: Callable[[str], CompiledDomain]) -> None:
    c = domain("shop_tr")
    request = "iki tane şampuan istiyorum"
    assert c.understand(request, NOW).intent == "OrderProduct"
    # past the first 64 words nothing is read: a 2000-word transcript costs what 64 cost
    filler = "hava bugün çok güzel " * 500
    late = c.understand(filler + request, NOW)
    assert (late.intent, late.slots) == (None, {})
