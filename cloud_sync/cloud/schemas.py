"""Request and response schemas (`XCreate` / `XUpdate` / `XPublic`)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cloud_sync.events import Customer, Event, aware_utc

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Price = Annotated[
    Decimal, Field(ge=0, le=Decimal("9999999999.99"), max_digits=12, decimal_places=2)
]
TaxRate = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]
Role = Literal["admin", "operator", "viewer"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
T = TypeVar("T")
DEFAULT_HOURS: dict[str, list[list[str]]] = {
    d: [["09:00", "19:00"]] for d in WEEKDAYS if d != "sun"
}


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# ---------------------------------------------------------------- tenants and keys

OpeningHours = dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[tuple[str, str]]]


def _check_hours(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    for day, intervals in value.items():
        for start, end in intervals:
            if not (_HHMM.match(start) and _HHMM.match(end)) or start >= end:
                raise ValueError(f"{day}: bad opening interval {start}-{end}")
    return value


class TenantCreate(Schema):
    name: Name
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "TRY"
    timezone: str = "Europe/Istanbul"
    opening_hours: OpeningHours | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("unknown time zone")
        return value

    _hours = field_validator("opening_hours")(classmethod(lambda cls, v: _check_hours(v)))


class TenantUpdate(Schema):
    name: Name | None = None
    opening_hours: OpeningHours | None = None
    settings: dict[str, Any] | None = None

    _hours = field_validator("opening_hours")(classmethod(lambda cls, v: _check_hours(v)))


class TenantPublic(Schema):
    id: uuid.UUID
    name: str
    currency: str
    timezone: str
    opening_hours: dict[str, Any]
    settings: dict[str, Any]
    created_at: datetime


class ApiKeyCreate(Schema):
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    role: Role


class ApiKeyPublic(Schema):
    id: uuid.UUID
    name: str
    role: str
    hub_id: uuid.UUID | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(Schema):
    key: ApiKeyPublic
    token: str


class TenantCreated(Schema):
    tenant: TenantPublic
    admin_key: str


# ---------------------------------------------------------------- hubs and devices


class HubCreate(Schema):
    name: Name


class HubPublic(Schema):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_seen_at: datetime | None


class HubCreated(Schema):
    hub: HubPublic
    token: str


DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Firmware = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class DeviceCreate(Schema):
    device_id: DeviceId
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    location: Annotated[str, StringConstraints(max_length=200)] = ""
    hub_id: uuid.UUID | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class DeviceUpdate(Schema):
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    hub_id: uuid.UUID | None = None
    config: dict[str, Any] | None = None
    target_firmware: Firmware | None = None


class DevicePublic(Schema):
    id: uuid.UUID
    device_id: str
    hub_id: uuid.UUID | None
    name: str
    location: str
    firmware: str | None
    target_firmware: str | None
    config: dict[str, Any]
    online: bool
    battery_pct: int | None
    rssi_dbm: int | None
    last_seen_at: datetime | None


class DeviceStatusPublic(Schema):
    ts: datetime
    online: bool
    battery_pct: int | None
    rssi_dbm: int | None
    uptime_s: int | None
    firmware: str | None


# ---------------------------------------------------------------- offerings


class _OfferingFields(Schema):
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    category: Annotated[str, StringConstraints(max_length=100)] = ""
    active: bool = True
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    capacity: int | None = Field(default=None, ge=1, le=1000)
    staff_ids: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=100
    )
    booking_advance_days: int | None = Field(default=None, ge=0, le=3650)
    cancellation_hours: int | None = Field(default=None, ge=0, le=24 * 365)
    sku: Annotated[str, StringConstraints(max_length=64)] | None = None
    stock: int | None = Field(default=None, ge=0, le=10_000_000)
    shipping_cost: Price = Decimal("0")
    meta: dict[str, Any] = Field(default_factory=dict)


class OfferingCreate(_OfferingFields):
    kind: Literal["service", "product"]
    name: Name
    price: Price
    tax_rate: TaxRate = Decimal("0")

    @model_validator(mode="after")
    def _kind_fields(self) -> OfferingCreate:
        if self.kind == "service":
            if self.duration_minutes is None:
                raise ValueError("a service needs duration_minutes")
            if self.stock is not None or self.sku is not None:
                raise ValueError("stock and sku belong to products")
        elif self.duration_minutes is not None or self.capacity is not None:
            raise ValueError("duration_minutes and capacity belong to services")
        return self


class OfferingUpdate(Schema):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    category: Annotated[str, StringConstraints(max_length=100)] | None = None
    price: Price | None = None
    tax_rate: TaxRate | None = None
    active: bool | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    capacity: int | None = Field(default=None, ge=1, le=1000)
    booking_advance_days: int | None = Field(default=None, ge=0, le=3650)
    cancellation_hours: int | None = Field(default=None, ge=0, le=24 * 365)
    stock: int | None = Field(default=None, ge=0, le=10_000_000)
    shipping_cost: Price | None = None
    meta: dict[str, Any] | None = None


class OfferingPublic(Schema):
    id: uuid.UUID
    kind: str
    name: str
    description: str
    category: str
    price: Decimal
    tax_rate: Decimal
    currency: str
    active: bool
    duration_minutes: int | None
    capacity: int | None
    staff_ids: list[str]
    booking_advance_days: int | None
    cancellation_hours: int | None
    sku: str | None
    stock: int | None
    shipping_cost: Decimal
    meta: dict[str, Any]


# ---------------------------------------------------------------- appointments

AppointmentStatus = Literal["pending", "confirmed", "completed", "cancelled", "no_show"]


class AppointmentCreate(Schema):
    offering_id: uuid.UUID
    start: AwareDatetime

    @field_validator("start")
    @classmethod
    def _start(cls, value: datetime) -> datetime:
        return aware_utc(value, "start")

    customer: Customer = Customer()
    notes: Annotated[str, StringConstraints(max_length=1000)] = ""


class AppointmentStatusUpdate(Schema):
    status: AppointmentStatus


class AppointmentPublic(Schema):
    id: uuid.UUID
    offering_id: uuid.UUID
    start: datetime
    end: datetime
    status: str
    customer_name: str
    customer_phone: str
    customer_email: str
    notes: str
    source: str
    event_id: uuid.UUID | None
    created_at: datetime


class Slot(Schema):
    start: datetime
    end: datetime
    remaining: int


class Availability(Schema):
    offering_id: uuid.UUID
    date: date
    slots: list[Slot]


# ---------------------------------------------------------------- orders

OrderStatus = Literal["pending", "paid", "shipped", "delivered", "cancelled"]


class OrderItemCreate(Schema):
    offering_id: uuid.UUID
    quantity: int = Field(ge=1, le=1000)


class Address(Schema):
    street: Annotated[str, StringConstraints(max_length=200)] = ""
    city: Annotated[str, StringConstraints(max_length=100)] = ""
    postal_code: Annotated[str, StringConstraints(max_length=20)] = ""


class OrderCreate(Schema):
    items: list[OrderItemCreate] = Field(min_length=1, max_length=50)
    customer: Customer = Customer()
    shipping_address: Address | None = None
    notes: Annotated[str, StringConstraints(max_length=1000)] = ""


class OrderStatusUpdate(Schema):
    status: OrderStatus


class OrderItemPublic(Schema):
    offering_id: uuid.UUID
    name: str
    quantity: int
    unit_price: Decimal
    tax: Decimal
    line_total: Decimal


class OrderPublic(Schema):
    id: uuid.UUID
    status: str
    currency: str
    items: list[OrderItemPublic]
    subtotal: Decimal
    tax: Decimal
    shipping: Decimal
    total: Decimal
    customer_name: str
    customer_phone: str
    customer_email: str
    shipping_address: dict[str, Any]
    notes: str
    source: str
    event_id: uuid.UUID | None
    created_at: datetime


# ---------------------------------------------------------------- events

MAX_BATCH = 1000


class EventBatch(Schema):
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH)


class Rejection(Schema):
    id: uuid.UUID
    code: str
    message: str


class BatchResult(Schema):
    accepted: list[uuid.UUID]
    duplicates: list[uuid.UUID]
    rejected: list[Rejection]


class EventPublic(Schema):
    id: uuid.UUID
    hub_id: uuid.UUID
    device_id: str
    type: str
    ts: datetime
    seq: int
    data: dict[str, Any]
    received_at: datetime
    outcome: str | None
    outcome_ref: str | None
