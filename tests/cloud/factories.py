"""Builders for test data: events and offerings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from cloud_sync.events import (
    AppointmentRequested,
    DeviceStatus,
    Event,
    InteractionCompleted,
    OrderItemRequest,
    OrderRequested,
)


def event(
    tenant: uuid.UUID,
    hub: uuid.UUID,
    payload: BaseModel,
    *,
    device: str = "arma-1",
    seq: int = 0,
    ts: datetime | None = None,
) -> Event:
    return Event.create(
        tenant_id=tenant, hub_id=hub, device_id=device, seq=seq, data=payload, ts=ts
    )


def interaction(intent: str = "order.product", confidence: float = 0.9) -> InteractionCompleted:
    return InteractionCompleted(
        session_id="s1",
        intent=intent,
        confidence=confidence,
        duration_ms=1200,
        transcript="iki krem lütfen",
    )


def status(online: bool = True, battery: int = 80) -> DeviceStatus:
    return DeviceStatus(
        online=online, battery_pct=battery, rssi_dbm=-60, uptime_s=3600, firmware="1.0.2"
    )


def order_request(product: uuid.UUID, quantity: int = 1) -> OrderRequested:
    return OrderRequested(items=(OrderItemRequest(offering_id=product, quantity=quantity),))


def appointment_request(service: uuid.UUID, start: datetime) -> AppointmentRequested:
    return AppointmentRequested(offering_id=service, start=start)


def batch_json(events: list[Event]) -> dict[str, Any]:
    return {"events": [e.model_dump(mode="json") for e in events]}


def product(
    client: httpx.Client,
    *,
    price: str = "450.00",
    stock: int | None = 25,
    tax_rate: str = "0.18",
    shipping: str = "0",
    name: str = "Nemlendirici Krem",
) -> uuid.UUID:
    r = client.post(
        "/v1/offerings",
        json={
            "kind": "product",
            "name": name,
            "price": price,
            "tax_rate": tax_rate,
            "stock": stock,
            "sku": "KREM-001",
            "shipping_cost": shipping,
        },
    )
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


def service(
    client: httpx.Client, *, capacity: int = 3, duration: int = 30, name: str = "Saç Kesimi"
) -> uuid.UUID:
    r = client.post(
        "/v1/offerings",
        json={
            "kind": "service",
            "name": name,
            "price": "150.00",
            "duration_minutes": duration,
            "capacity": capacity,
            "booking_advance_days": 30,
            "cancellation_hours": 24,
        },
    )
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


def next_weekday_at(hour: int, days_ahead: int = 2) -> datetime:
    """A future Monday-Saturday at `hour`:00 Istanbul time (inside default opening hours)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Istanbul")
    day = datetime.now(zone).date() + timedelta(days=days_ahead)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(UTC)
