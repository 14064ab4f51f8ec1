"""The hub -> cloud event envelope and the typed payload of each event type.

One envelope (`Event`) carries every event; its `data` is validated against the model that
belongs to its `type`. The hub builds events with `Event.create(...)`, the outbox stores
`event.to_json()`, and the cloud validates the same model on ingest, so an invalid event never
leaves the hub and never enters the database.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

EventType = Literal[
    "interaction.completed",
    "order.requested",
    "appointment.requested",
    "device.status",
    "report.dictated",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

# Droppable under outbox pressure (oldest first); everything else is never dropped.
TELEMETRY_TYPES = frozenset({"device.status"})

Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
ShortText = Annotated[str, StringConstraints(max_length=200)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- time-ordered ids (UUIDv7)

_uuid7_lock = threading.Lock()
_uuid7_last = [0, 0]  # last millisecond, last 12-bit counter


def uuid7() -> uuid.UUID:
    """A RFC 9562 version-7 UUID: 48-bit Unix ms, then a counter so ids made in one process
    within the same millisecond still sort in creation order, then random bits."""
    with _uuid7_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _uuid7_last[0]:
            ms = _uuid7_last[0]
            counter = _uuid7_last[1] + 1
            if counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                ms += 1
                counter = 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        _uuid7_last[0], _uuid7_last[1] = ms, counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


def uuid7_time(value: uuid.UUID) -> datetime:
    """The creation time encoded in a UUIDv7 (millisecond precision, UTC)."""
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)


def aware_utc(value: datetime, what: str = "time") -> datetime:
    """`value` in UTC; refuses naive times and years outside 2000..2100 (no overflow later)."""
    if value.tzinfo is None:
        raise ValueError(f"{what} must carry a timezone")
    if not 2000 <= value.year <= 2100:
        raise ValueError(f"{what} must lie within the years 2000..2100")
    return value.astimezone(UTC)


# ---------------------------------------------------------------- payloads


class Customer(_Frozen):
    name: ShortText = ""
    phone: Annotated[str, StringConstraints(max_length=32, pattern=r"^[0-9+() -]*$")] = ""
    email: Annotated[str, StringConstraints(max_length=200)] = ""


class InteractionCompleted(_Frozen):
    session_id: Ident
    intent: Annotated[str, StringConstraints(max_length=64)] | None = None
    slots: dict[str, str | int | float | bool] = Field(default_factory=dict)
    confidence: float = Field(ge=0.0, le=1.0)
    language: Literal["tr", "en"] = "tr"
    transcript: Annotated[str, StringConstraints(max_length=2000)] = ""
    duration_ms: int = Field(ge=0, le=3_600_000)
    outcome: Literal["handled", "clarified", "not_understood", "error", "abandoned"] = "handled"


class OrderItemRequest(_Frozen):
    offering_id: uuid.UUID
    quantity: int = Field(ge=1, le=1000)


class OrderRequested(_Frozen):
    items: tuple[OrderItemRequest, ...] = Field(min_length=1, max_length=50)
    customer: Customer = Customer()
    notes: Annotated[str, StringConstraints(max_length=1000)] = ""


class AppointmentRequested(_Frozen):
    offering_id: uuid.UUID
    start: datetime
    customer: Customer = Customer()
    notes: Annotated[str, StringConstraints(max_length=1000)] = ""

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return aware_utc(value, "start")


class DeviceStatus(_Frozen):
    online: bool
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    rssi_dbm: int | None = Field(default=None, ge=-127, le=0)
    uptime_s: int | None = Field(default=None, ge=0)
    firmware: Annotated[str, StringConstraints(max_length=32)] | None = None
    free_heap: int | None = Field(default=None, ge=0)


class ReportDictated(_Frozen):
    title: ShortText = ""
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    language: Literal["tr", "en"] = "tr"
    report_date: date | None = None
    fields: dict[str, str | int | float | bool] = Field(default_factory=dict)


DATA_MODELS: dict[str, type[_Frozen]] = {
    "interaction.completed": InteractionCompleted,
    "order.requested": OrderRequested,
    "appointment.requested": AppointmentRequested,
    "device.status": DeviceStatus,
    "report.dictated": ReportDictated,
}


# ---------------------------------------------------------------- envelope


class Event(_Frozen):
    """One hub -> cloud event. `data` is the validated payload model for `type`."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    hub_id: uuid.UUID
    device_id: Ident
    type: EventType
    ts: datetime
    seq: int = Field(ge=0, lt=2**63)
    data: dict[str, Any]

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return aware_utc(value, "ts")

    @model_validator(mode="after")
    def _check_data(self) -> Self:
        model = DATA_MODELS[self.type]
        normalised = model.model_validate(self.data).model_dump(mode="json")
        object.__setattr__(self, "data", normalised)
        return self

    @classmethod
    def create(
        cls,
        *,
        tenant_id: uuid.UUID | str,
        hub_id: uuid.UUID | str,
        device_id: str,
        seq: int,
        data: BaseModel,
        ts: datetime | None = None,
    ) -> Event:
        """Build an event with a fresh time-ordered id; the type follows from `data`'s model."""
        event_type = next((t for t, m in DATA_MODELS.items() if isinstance(data, m)), None)
        if event_type is None:
            raise TypeError(f"no event type for payload {type(data).__name__}")
        return cls.model_validate(
            {
                "id": uuid7(),
                "tenant_id": tenant_id,
                "hub_id": hub_id,
                "device_id": device_id,
                "type": event_type,
                "ts": ts or datetime.now(UTC),
                "seq": seq,
                "data": data.model_dump(mode="json"),
            }
        )

    def payload(self) -> _Frozen:
        """The typed payload model."""
        return DATA_MODELS[self.type].model_validate(self.data)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        return cls.model_validate_json(raw)
