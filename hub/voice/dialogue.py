"""One device's conversation: slot filling, confirmation with totals, cancel, help, repeat, a
polite fallback after repeated failures, and a timeout.

The dialogue is domain-driven: which slots an intent needs, the question for each and the
reply come from the domain file (`required`, `ask`, `reply`). A few intents get an action on
top, by name (documented in docs/voice.md): `BookAppointment` and `OrderProduct` are confirmed
with their computed details and then become `appointment.requested` / `order.requested`
events; `AskStock`, `AskPrice`, `AskAvailability` are answered from the local catalog copy; the
calibration-report intents accumulate fields until `FinishReport` emits `report.dictated`.
Any other domain's intents get their reply template and an `interaction.completed` event.

The class is synchronous and does no I/O: the voice service calls it from its worker thread
and publishes what it returns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from cloud_sync.events import AppointmentRequested, OrderItemRequest, OrderRequested, ReportDictated
from hub.voice.catalog import LocalCatalog, Offering
from hub.voice.prompts import prompt
from models.domain import CompiledDomain, Understanding
from models.nlu.slots import extract

DIALOGUE_INTENTS = frozenset({"Yes", "No", "Cancel", "Help", "Repeat"})
REPORT_INTENTS = frozenset(
    {"StartReport", "SetDevice", "SetSerial", "RecordMeasurement", "SetTemperature", "SetHumidity"}
)


class Phase(enum.StrEnum):
    IDLE = "idle"
    FILLING = "filling"  # asked for a missing slot
    CONFIRMING = "confirming"  # asked "do you confirm?"
    REPORTING = "reporting"  # a dictated report is open


@dataclass(frozen=True)
class Turn:
    """What the hub says back, whether the conversation is over, what to send to the cloud."""

    reply: str
    done: bool
    outcome: str  # handled | clarified | not_understood | abandoned | error (InteractionCompleted)
    events: tuple[BaseModel, ...] = ()


@dataclass
class _Pending:
    intent: str
    slots: dict[str, str]
    offering: Offering | None = None
    quantity: int = 1
    start: datetime | None = None


@dataclass
class Dialogue:
    compiled: CompiledDomain
    catalog: LocalCatalog | None = None
    max_failures: int = 2
    phase: Phase = Phase.IDLE
    failures: int = 0
    last_reply: str | None = None
    _pending: _Pending | None = None
    _report: dict[str, str] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return self.compiled.language

    @property
    def expecting(self) -> str | None:
        """The slot the hub just asked for, "confirm" while confirming, else None."""
        if self.phase is Phase.FILLING and self._pending:
            missing = self._missing(self._pending)
            return missing[0] if missing else None
        return "confirm" if self.phase is Phase.CONFIRMING else None

    @property
    def listening_for(self) -> frozenset[str] | None:
        """Intents the next utterance can mean, to narrow the speech search; None = any.
        After "do you confirm?" only an answer, cancel, help or repeat moves the dialogue
        on, so decoding only those keeps "evet" from drifting into a product name."""
        return DIALOGUE_INTENTS if self.phase is Phase.CONFIRMING else None

    def _say(self, key: str, **values: Any) -> str:
        return prompt(self.language, key, **values)

    # -- entry points ------------------------------------------------------------------------
    def handle(self, u: Understanding, text: str, now: datetime) -> Turn:
        """One recognised utterance (intent None = not recognised) at time `now`."""
        if u.intent == "Repeat" and self.last_reply:
            return self._turn(self.last_reply, done=False, outcome="handled")
        if u.intent == "Help":
            return self._turn(self._say("help"), done=False, outcome="handled")
        if u.intent == "Cancel":
            self._reset()
            return self._turn(self._say("cancelled"), done=True, outcome="abandoned")
        if self.phase is Phase.CONFIRMING:
            return self._on_confirm(u)
        if self.phase is Phase.FILLING and self._pending is not None:
            filled = self._fill_from(self._pending, u, text, now)
            if filled:
                return self._advance(self._pending, now)
        if u.intent is None or u.intent in DIALOGUE_INTENTS:
            return self._not_understood()
        self.failures = 0
        return self._start(u, now)

    def on_timeout(self) -> Turn:
        self._reset()
        return self._turn(self._say("timeout"), done=True, outcome="abandoned")

    # -- flow --------------------------------------------------------------------------------
    def _start(self, u: Understanding, now: datetime) -> Turn:
        assert u.intent is not None
        if u.intent in REPORT_INTENTS or u.intent == "FinishReport":
            return self._on_report(u)
        pending = _Pending(u.intent, dict(u.slots))
        self._pending = pending
        return self._advance(pending, now)

    def _advance(self, p: _Pending, now: datetime) -> Turn:
        missing = self._missing(p)
        if missing:
            self.phase = Phase.FILLING
            spec = self.compiled.domain.intent(p.intent)
            question = spec.ask.get(missing[0]) or self._say("ask_slot", slot=missing[0])
            return self._turn(question, done=False, outcome="clarified")
        if p.intent == "OrderProduct":
            return self._confirm_order(p)
        if p.intent == "BookAppointment":
            return self._confirm_booking(p, now)
        self._reset()
        return self._turn(self._answer(p), done=True, outcome="handled")

    def _answer(self, p: _Pending) -> str:
        """Replies that need the catalog; otherwise the domain's reply template."""
        offering = self._offering(p.slots)
        if offering is not None and self.catalog is not None:
            tentative = self._say("tentative") if self.catalog.tentative else ""
            if p.intent == "AskStock":
                left = self.catalog.quote(offering, 1).available
                key = "stock_untracked" if left is None else "stock_none" if left <= 0 else "stock"
                return self._say(key, name=offering.name, count=left) + tentative
            if p.intent == "AskPrice":
                return self._say(
                    "price", name=offering.name, price=self._money(offering.gross_price)
                )
        spec = self.compiled.domain.intent(p.intent)
        return self.compiled.reply(spec, p.slots) or self._say("ok")

    def _confirm_order(self, p: _Pending) -> Turn:
        offering = self._offering(p.slots)
        if offering is None or self.catalog is None:
            return self._fail_action("unknown_offering")
        p.offering = offering
        p.quantity = max(1, int(p.slots.get("quantity", "1") or 1))
        quote = self.catalog.quote(offering, p.quantity)
        if quote.available is not None and quote.available < p.quantity:
            self._reset()
            return self._turn(
                self._say("out_of_stock", name=offering.name, count=max(quote.available, 0)),
                done=True,
                outcome="handled",
            )
        self.phase = Phase.CONFIRMING
        text = self._say(
            "confirm_order", quantity=p.quantity, name=offering.name, total=self._money(quote.total)
        )
        return self._turn(text, done=False, outcome="clarified")

    def _confirm_booking(self, p: _Pending, now: datetime) -> Turn:
        offering = self._offering(p.slots)
        if offering is None or self.catalog is None:
            return self._fail_action("unknown_offering")
        if "-" in p.slots["time"]:  # a window ("öğleden sonra"): ask for the hour itself
            p.slots.pop("time")
            return self._advance(p, now)
        zone = ZoneInfo(self.catalog.timezone)
        day = date.fromisoformat(p.slots["date"])
        hour, minute = (int(x) for x in p.slots["time"].split(":")[:2])
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        problem = self.catalog.slot_problem(offering, start, now)
        if problem is not None:
            p.slots.pop("time", None)  # ask for another time, keep the rest
            self.phase = Phase.FILLING
            return self._turn(self._say(f"slot_{problem}"), done=False, outcome="clarified")
        p.offering, p.start = offering, start
        self.phase = Phase.CONFIRMING
        spec = self.compiled.domain.intent(p.intent)
        text = self.compiled.reply(spec, p.slots) or self._say("confirm_generic")
        return self._turn(text, done=False, outcome="clarified")

    def _on_confirm(self, u: Understanding) -> Turn:
        p = self._pending
        if u.intent == "No":
            self._reset()
            return self._turn(self._say("not_confirmed"), done=True, outcome="handled")
        if u.intent != "Yes" or p is None or p.offering is None or self.catalog is None:
            return self._not_understood(question=self.last_reply)
        event: BaseModel
        if p.intent == "OrderProduct":
            if not self.catalog.hold_stock(p.offering, p.quantity):
                self._reset()
                return self._turn(
                    self._say("out_of_stock", name=p.offering.name, count=0),
                    done=True,
                    outcome="handled",
                )
            event = OrderRequested(
                items=(OrderItemRequest(offering_id=p.offering.id, quantity=p.quantity),)
            )
            text = self._say("order_placed")
        else:
            assert p.start is not None
            if not self.catalog.hold_slot(p.offering, p.start):
                p.slots.pop("time", None)
                self.phase = Phase.FILLING
                return self._turn(self._say("slot_full"), done=False, outcome="clarified")
            event = AppointmentRequested(offering_id=p.offering.id, start=p.start)
            text = self._say("booking_placed")
        self._reset()
        return self._turn(text, done=True, outcome="handled", events=(event,))

    def _on_report(self, u: Understanding) -> Turn:
        if u.intent == "FinishReport":
            if not self._report:
                return self._turn(self._say("report_empty"), done=True, outcome="handled")
            fields = dict(self._report)
            body = "\n".join(f"{k}: {v}" for k, v in fields.items())
            event = ReportDictated(
                title=fields.get("device", ""),
                text=body,
                language=self.language,  # type: ignore[arg-type]
                fields=dict[str, str | int | float | bool](fields),
            )
            self._report.clear()
            self.phase = Phase.IDLE
            return self._turn(
                self._say("report_saved", count=len(fields)),
                done=True,
                outcome="handled",
                events=(event,),
            )
        if u.intent == "StartReport":
            self._report.clear()
        for name, value in u.slots.items():
            key = name
            n = 2
            while u.intent == "RecordMeasurement" and key in self._report:
                key, n = f"{name}_{n}", n + 1
            self._report[key] = value
        self.phase = Phase.REPORTING
        spec = self.compiled.domain.intent(u.intent or "")
        text = self.compiled.reply(spec, dict(u.slots)) or self._say("noted")
        return self._turn(text, done=False, outcome="handled")

    # -- helpers -----------------------------------------------------------------------------
    def _fill_from(self, p: _Pending, u: Understanding, text: str, now: datetime) -> bool:
        """Take the asked-for slot (and any other) from the answer; True when it was there."""
        missing = self._missing(p)
        if not missing:
            return False
        found: dict[str, str] = {}
        if u.intent == p.intent:
            found = dict(u.slots)
        else:
            spec = self.compiled.domain.intent(p.intent)
            sources = self.compiled._slot_sources(spec)
            found = extract(self.compiled.words(text), sources, self.compiled.context(now))
        if missing[0] not in found:
            return False
        p.slots.update({k: v for k, v in found.items() if k not in p.slots or k == missing[0]})
        return True

    def _missing(self, p: _Pending) -> list[str]:
        spec = self.compiled.domain.intent(p.intent)
        return [s for s in spec.required if s not in p.slots]

    def _offering(self, slots: dict[str, str]) -> Offering | None:
        if self.catalog is None:
            return None
        for name in ("product", "service"):
            if name in slots:
                return self.catalog.get(slots[name])
        return None

    def _money(self, amount: Decimal) -> str:
        currency = self.catalog.currency if self.catalog else "TRY"
        return prompt(
            self.language, "money", amount=_amount(amount, self.language), currency=currency
        )

    def _not_understood(self, question: str | None = None) -> Turn:
        self.failures += 1
        if self.failures >= self.max_failures:
            self._reset()
            return self._turn(self._say("fallback"), done=True, outcome="not_understood")
        text = self._say("not_understood")
        if question:
            text = f"{text} {question}"
        return self._turn(text, done=False, outcome="not_understood")

    def _fail_action(self, key: str) -> Turn:
        self._reset()
        return self._turn(self._say(key), done=True, outcome="error")

    def _reset(self) -> None:
        self.phase = Phase.IDLE
        self._pending = None
        self.failures = 0

    def _turn(
        self, reply: str, *, done: bool, outcome: str, events: tuple[BaseModel, ...] = ()
    ) -> Turn:
        self.last_reply = reply
        return Turn(reply, done, outcome, events)


def _amount(amount: Decimal, language: str) -> str:
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    if language == "tr":  # 1.234,50
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text
