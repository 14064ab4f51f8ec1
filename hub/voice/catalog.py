"""The hub's local copy of the tenant's catalog, read from the cloud's sync document.

Stock, prices and availability are answered from this copy, so customers get an answer while
the internet is down; answers are marked tentative when the copy is older than `fresh_for`
(the cloud is the one that finally accepts or rejects an order or a booking). Bookings and
orders made by voice on this hub are held here too, so two customers cannot be promised the
same last place or the same last bottle before the cloud has heard of either.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CENT = Decimal("0.01")


class CatalogError(ValueError):
    """A sync document the hub cannot use."""


@dataclass(frozen=True)
class Offering:
    id: uuid.UUID
    kind: str  # "service" | "product"
    name: str
    price: Decimal
    tax_rate: Decimal  # 0.20 = 20 %
    currency: str
    duration_minutes: int | None = None
    capacity: int | None = None
    stock: int | None = None  # None: not tracked
    shipping_cost: Decimal = Decimal(0)

    @property
    def gross_price(self) -> Decimal:
        return (self.price * (1 + self.tax_rate)).quantize(_CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Quote:
    offering: Offering
    quantity: int
    total: Decimal  # with tax and shipping
    available: int | None  # stock left for this hub's promises; None = not tracked


@dataclass
class LocalCatalog:
    offerings: dict[uuid.UUID, Offering]
    currency: str = "TRY"
    timezone: str = "Europe/Istanbul"
    opening_hours: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    fetched_at: float = 0.0
    fresh_for: float = 600.0
    _held_stock: dict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))
    _held_slots: dict[tuple[uuid.UUID, datetime], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_sync_document(
        cls, doc: dict[str, Any], fetched_at: float | None = None
    ) -> LocalCatalog:
        try:
            tenant = doc["tenant"]
            currency = str(tenant.get("currency") or "TRY")
            offerings = {}
            for raw in doc.get("offerings", []):
                o = Offering(
                    id=uuid.UUID(str(raw["id"])),
                    kind=str(raw["kind"]),
                    name=str(raw["name"]),
                    price=Decimal(str(raw["price"])),
                    tax_rate=Decimal(str(raw.get("tax_rate") or 0)),
                    currency=str(raw.get("currency") or currency),
                    duration_minutes=raw.get("duration_minutes"),
                    capacity=raw.get("capacity"),
                    stock=raw.get("stock"),
                    shipping_cost=Decimal(str(raw.get("shipping_cost") or 0)),
                )
                offerings[o.id] = o
            hours = {
                k: [tuple(x) for x in v] for k, v in (tenant.get("opening_hours") or {}).items()
            }
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise CatalogError(f"unusable sync document: {exc!r}") from exc
        return cls(
            offerings=offerings,
            currency=currency,
            timezone=str(tenant.get("timezone") or "Europe/Istanbul"),
            opening_hours=hours,
            fetched_at=time.time() if fetched_at is None else fetched_at,
        )

    def domain_catalog(self) -> dict[str, list[dict[str, str]]]:
        """What `models.domain.load_domain(catalog=...)` binds its lists to: the offering id
        comes back as the slot value, the name is what customers say."""
        out: dict[str, list[dict[str, str]]] = {"services": [], "products": []}
        for o in sorted(self.offerings.values(), key=lambda o: o.name):
            out["services" if o.kind == "service" else "products"].append(
                {"name": o.name, "id": str(o.id)}
            )
        return out

    @property
    def tentative(self) -> bool:
        return time.time() - self.fetched_at > self.fresh_for

    def get(self, value: str) -> Offering | None:
        try:
            return self.offerings.get(uuid.UUID(value))
        except ValueError:
            return None

    def quote(self, offering: Offering, quantity: int) -> Quote:
        total = offering.gross_price * quantity + offering.shipping_cost
        available = None
        if offering.stock is not None:
            with self._lock:
                available = offering.stock - self._held_stock[offering.id]
        return Quote(offering, quantity, total.quantize(_CENT, ROUND_HALF_UP), available)

    def hold_stock(self, offering: Offering, quantity: int) -> bool:
        """Promise `quantity` to a customer; False when this hub has promised the rest."""
        with self._lock:
            if (
                offering.stock is not None
                and self._held_stock[offering.id] + quantity > offering.stock
            ):
                return False
            self._held_stock[offering.id] += quantity
            return True

    def slot_problem(self, offering: Offering, start: datetime, now: datetime) -> str | None:
        """None when `start` can be booked at time `now`, else why not: past, closed, full.

        `now` is the dialogue's clock (the hub's, or a test's), never read here: a slot
        judged against another clock than the one that resolved "yarın" can be "past".
        """
        local = start.astimezone(ZoneInfo(self.timezone))
        if start < now:
            return "past"
        if self.opening_hours:
            day = self.opening_hours.get(_DAYS[local.weekday()], [])
            end = local + timedelta(minutes=offering.duration_minutes or 30)
            hhmm, end_hhmm = local.strftime("%H:%M"), end.strftime("%H:%M")
            if not any(a <= hhmm and end_hhmm <= b for a, b in day):
                return "closed"
        with self._lock:
            if self._held_slots[(offering.id, start)] >= (offering.capacity or 1):
                return "full"
        return None

    def hold_slot(self, offering: Offering, start: datetime) -> bool:
        with self._lock:
            key = (offering.id, start)
            if self._held_slots[key] >= (offering.capacity or 1):
                return False
            self._held_slots[key] += 1
            return True
