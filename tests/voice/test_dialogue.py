"""Dialogue on real compiled domains (text in, replies and events out; speech is tested apart).

How we tried to break it: answers that do not fit the question, "no" and "cancel" mid-way,
two failures in a row, a booking at a closed hour, ordering more than the stock, two customers
after the same last place.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from cloud_sync.events import AppointmentRequested, OrderRequested, ReportDictated
from hub.voice.catalog import LocalCatalog
from hub.voice.dialogue import Dialogue, Phase, Turn
from tests.voice.conftest import HAIRCUT, MOISTURISER, SHAMPOO, compiled_domain, sync_document

IST = ZoneInfo("Europe/Istanbul")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=IST)  # a Tuesday morning


def say(d: Dialogue, text: str) -> Turn:
    return d.handle(d.compiled.understand(text, NOW), text, NOW)


def test_turkish_booking_with_a_missing_time_is_asked_then_confirmed(catalog: LocalCatalog) -> None:
    d = Dialogue(compiled_domain("salon_tr"), catalog)
    t = say(d, "yarın saç kesimi için randevu almak istiyorum")
    assert t.reply == "Saat kaçta?" and not t.done and d.expecting == "time"
    t = say(d, "saat üçte")
    assert "Onaylıyor musunuz" in t.reply and "15:00" in t.reply and d.phase is Phase.CONFIRMING
    t = say(d, "evet")
    assert t.done and t.outcome == "handled"
    (event,) = t.events
    assert isinstance(event, AppointmentRequested)
    assert event.offering_id == uuid.UUID(HAIRCUT)
    assert event.start == datetime(2026, 11, 25, 15, 0, tzinfo=IST)


def test_english_order_confirmation_states_the_total_with_tax(catalog: LocalCatalog) -> None:
    d = Dialogue(compiled_domain("shop_en"), catalog)
    assert d.listening_for is None  # a new request can be anything the domain knows
    t = say(d, "i'd like two moisturiser please")
    # 2 x 375.00 + 20 % tax = 900
    assert t.reply == "2 moisturiser, total 900 lira. Do you confirm?"
    # the speech search now waits for an answer only
    assert d.listening_for == {"Yes", "No", "Cancel", "Help", "Repeat"}
    t = say(d, "yes")
    (event,) = t.events
    assert isinstance(event, OrderRequested)
    assert event.items[0].offering_id == uuid.UUID(MOISTURISER) and event.items[0].quantity == 2
    assert t.done and d.listening_for is None


def test_no_places_nothing_and_cancel_abandons(catalog: LocalCatalog) -> None:
    d = Dialogue(compiled_domain("shop_en"), catalog)
    say(d, "i'd like two moisturiser please")
    t = say(d, "no")
    assert t.done and t.events == () and d.phase is Phase.IDLE
    say(d, "i'd like two shampoo please")
    t = say(d, "cancel")
    assert t.done and t.events == () and t.outcome == "abandoned"


def test_more_than_the_stock_is_refused_and_promises_count_against_stock(
    catalog: LocalCatalog,
) -> None:
    d = Dialogue(compiled_domain("shop_en"), catalog)
    t = say(d, "i'd like five shampoo please")
    assert t.done and "not enough shampoo" in t.reply and t.events == ()
    say(d, "i'd like two shampoo please")
    assert say(d, "yes").events  # 2 of 3 promised
    other = Dialogue(compiled_domain("shop_en"), catalog)
    t = say(other, "i'd like two shampoo please")
    assert "not enough" in t.reply and "1 left" in t.reply


def test_stock_and_price_come_from_the_catalog(catalog: LocalCatalog) -> None:
    d = Dialogue(compiled_domain("shop_en"), catalog)
    assert say(d, "do you have shampoo in stock").reply == "Yes, shampoo is in stock, 3 left."
    assert say(d, "how much is the moisturiser").reply == "Moisturiser costs 450 lira."
    catalog.fetched_at -= 3600  # an hour without the cloud: answers become tentative
    assert "not final" in say(d, "do you have shampoo in stock").reply


def test_closed_hours_ask_for_another_time_then_the_last_place_goes_once(
    catalog: LocalCatalog,
) -> None:
    d = Dialogue(compiled_domain("salon_tr"), catalog)
    t = say(d, "yarın saat sekizde saç kesimi için randevu almak istiyorum")  # 20:00: closed
    assert t.reply.startswith("O saatte kapalıyız") and d.expecting == "time"
    say(d, "saat üçte")
    assert say(d, "evet").events
    rival = Dialogue(compiled_domain("salon_tr"), catalog)
    t = say(rival, "yarın saat üçte saç kesimi için randevu almak istiyorum")
    assert t.reply.startswith("O saat dolu") and not t.events


def test_an_hour_already_gone_today_asks_for_another_and_keeps_the_rest(
    catalog: LocalCatalog,
) -> None:
    """Past is judged on the dialogue's clock: NOW is 10:00, so 09:00 today has gone, whatever
    the machine's own clock says (a run on 2026-11-25 once failed when the catalog read it)."""
    d = Dialogue(compiled_domain("salon_tr"), catalog)
    t = say(d, "bugün sabah dokuzda saç kesimi için randevu almak istiyorum")
    assert t.reply.startswith("Bu saat geçti") and d.expecting == "time" and not t.events
    t = say(d, "saat üçte")  # the service and the day are kept
    assert "Onaylıyor musunuz" in t.reply and "15:00" in t.reply
    (event,) = say(d, "evet").events
    assert isinstance(event, AppointmentRequested)
    assert event.start == datetime(2026, 11, 24, 15, 0, tzinfo=IST)


def test_two_failures_end_with_a_polite_fallback(catalog: LocalCatalog) -> None:
    d = Dialogue(compiled_domain("salon_tr"), catalog)
    t = say(d, "bugün hava çok güzel değil mi")
    assert not t.done and t.outcome == "not_understood"
    t = say(d, "futbol maçı kaç kaç bitti")
    assert t.done and "çalışanımıza" in t.reply


def test_repeat_help_and_timeout(catalog: LocalCatalog) -> None:
    d = Dialogue(compiled_domain("salon_tr"), catalog)
    first = say(d, "yarın saç kesimi için randevu almak istiyorum").reply
    assert say(d, "tekrar eder misin").reply in (first, say(d, "tekrar et").reply)
    assert "randevu" in say(d, "yardım").reply
    t = d.on_timeout()
    assert t.done and t.outcome == "abandoned" and d.phase is Phase.IDLE


def test_dictated_calibration_report_becomes_one_event(catalog: LocalCatalog) -> None:
    compiled = compiled_domain("calibration_en")
    d = Dialogue(compiled, catalog)
    samples = compiled.sample_sentences(300, seed=3, now=NOW)
    by_intent = {s.intent: s for s in samples}
    for name in ("StartReport", "SetDevice", "RecordMeasurement", "SetTemperature"):
        if name in by_intent:
            t = say(d, by_intent[name].text)
            assert not t.done, (name, t)
    t = say(d, by_intent["FinishReport"].text)
    (event,) = t.events
    assert isinstance(event, ReportDictated) and event.fields
    expected = {
        k: v
        for n in ("SetDevice", "SetTemperature")
        if n in by_intent
        for k, v in by_intent[n].slots.items()
    }
    assert expected and all(event.fields[k] == v for k, v in expected.items())


def test_money_formatting_follows_the_language() -> None:
    from hub.voice.dialogue import _amount

    assert _amount(Decimal("1234.50"), "tr") == "1.234,50"
    assert _amount(Decimal("1234.50"), "en") == "1,234.50"
    assert _amount(Decimal("900.00"), "tr") == "900"
    assert SHAMPOO  # the catalog fixture's ids are the ones the domain was compiled against


def test_a_time_window_is_narrowed_to_an_hour(catalog: LocalCatalog) -> None:
    d = Dialogue(compiled_domain("salon_tr"), catalog)
    t = say(d, "yarın öğleden sonra saç kesimi için randevu almak istiyorum")
    assert t.reply == "Saat kaçta?" and d.expecting == "time"
    t = say(d, "saat dörtte")
    assert "16:00" in t.reply and d.phase is Phase.CONFIRMING


async def test_a_new_sync_document_reaches_open_conversations_without_recompiling(
    tmp_path: Path,
) -> None:
    """Stock changed in the cloud: the next answer uses it; the compiled domain is kept."""
    from hub.voice.runtime import VoiceConfig, VoiceRuntime
    from hub.voice.service import Conversation
    from models.domain.loader import DOMAINS_DIR

    runtime = VoiceRuntime(
        VoiceConfig(domains={"en": DOMAINS_DIR / "shop_en.yaml"}, data_dir=tmp_path),
        play=None,  # type: ignore[arg-type]
        hub_id="hub-1",
    )
    compiled = compiled_domain("shop_en")
    runtime._compiled = {"en": compiled}  # as _load leaves them, without loading speech models
    runtime._engines = {"en": None}  # type: ignore[dict-item]
    runtime.catalog = LocalCatalog.from_sync_document(sync_document())
    dialogue = Dialogue(compiled, runtime.catalog)
    runtime.service.conversations["shop-1"] = Conversation(None, dialogue)  # type: ignore[arg-type]
    doc = sync_document()
    doc["offerings"][0]["stock"] = 1  # shampoo sold elsewhere
    await runtime._on_sync(doc)
    assert runtime._compiled["en"] is compiled  # names unchanged: nothing recompiled
    assert (
        say(dialogue, "do you have shampoo in stock").reply == "Yes, shampoo is in stock, 1 left."
    )
