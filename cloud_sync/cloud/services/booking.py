"""Appointments: availability from opening hours, capacity-checked booking, status changes.

No double booking: the offering row is locked (`FOR UPDATE` on PostgreSQL; on SQLite the
transaction already holds the write lock from `BEGIN IMMEDIATE`) before counting overlapping
appointments, so concurrent requests for the last places are decided one at a time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud_sync.cloud.errors import ApiError, conflict
from cloud_sync.cloud.models import Appointment, Offering, Tenant
from cloud_sync.cloud.schemas import DEFAULT_HOURS, WEEKDAYS, Slot
from cloud_sync.cloud.services.common import owned, tenant_row
from cloud_sync.events import Customer

ACTIVE = ("pending", "confirmed")
FIRST_YEAR, LAST_YEAR = 2000, 2100  # dates outside are refused (and cannot overflow)
TRANSITIONS = {
    "pending": {"confirmed", "cancelled"},
    "confirmed": {"completed", "cancelled", "no_show"},
}


def _hours(tenant: Tenant, day: date) -> list[tuple[time, time]]:
    table = tenant.opening_hours or DEFAULT_HOURS
    return [
        (time.fromisoformat(a), time.fromisoformat(b))
        for a, b in table.get(WEEKDAYS[day.weekday()], [])
    ]


def _service(
    session: Session, tenant_id: uuid.UUID, offering_id: uuid.UUID, *, lock: bool = False
) -> Offering:
    offering = owned(session, Offering, tenant_id, offering_id, lock=lock)
    if offering.kind != "service" or not offering.duration_minutes:
        raise ApiError(422, "not_a_service", "offering is not a bookable service")
    if not offering.active:
        raise ApiError(422, "inactive_offering", "offering is not active")
    return offering


def _taken(session: Session, offering_id: uuid.UUID, start: datetime, end: datetime) -> int:
    return session.execute(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.offering_id == offering_id,
            Appointment.status.in_(ACTIVE),
            Appointment.start < end,
            Appointment.end > start,
        )
    ).scalar_one()


def availability(
    session: Session, tenant_id: uuid.UUID, offering_id: uuid.UUID, day: date
) -> list[Slot]:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ApiError(422, "bad_date", f"date must lie within {FIRST_YEAR}..{LAST_YEAR}")
    tenant = tenant_row(session, tenant_id)
    offering = _service(session, tenant_id, offering_id)
    zone = ZoneInfo(tenant.timezone)
    step = timedelta(minutes=offering.duration_minutes or 0)
    capacity = offering.capacity or 1
    slots: list[Slot] = []
    for opens, closes in _hours(tenant, day):
        start = datetime.combine(day, opens, zone)
        close = datetime.combine(day, closes, zone)
        while start + step <= close:
            s, e = start.astimezone(UTC), (start + step).astimezone(UTC)
            slots.append(
                Slot(
                    start=s, end=e, remaining=max(0, capacity - _taken(session, offering_id, s, e))
                )
            )
            start += step
    return slots


def book(
    session: Session,
    tenant_id: uuid.UUID,
    offering_id: uuid.UUID,
    start: datetime,
    *,
    customer: Customer,
    notes: str = "",
    source: str = "api",
    event_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Appointment:
    tenant = tenant_row(session, tenant_id)
    offering = _service(session, tenant_id, offering_id, lock=True)
    now = now or datetime.now(UTC)
    start = start.astimezone(UTC)
    if start.year > LAST_YEAR:
        raise ApiError(422, "outside_booking_window", "too far ahead to book")
    end = start + timedelta(minutes=offering.duration_minutes or 0)
    if start <= now:
        raise ApiError(422, "slot_in_past", "the requested time has passed")
    if offering.booking_advance_days is not None and start > now + timedelta(
        days=offering.booking_advance_days
    ):
        raise ApiError(422, "outside_booking_window", "too far ahead to book")
    local_start = start.astimezone(ZoneInfo(tenant.timezone))
    local_end = end.astimezone(ZoneInfo(tenant.timezone))
    fits = local_start.date() == local_end.date() or local_end.time() == time(0)
    if not fits or not any(
        opens <= local_start.time() and local_end.time() <= closes
        for opens, closes in _hours(tenant, local_start.date())
    ):
        raise ApiError(422, "outside_opening_hours", "the business is closed at that time")
    if _taken(session, offering.id, start, end) >= (offering.capacity or 1):
        raise conflict("slot_taken", "no place left at that time")
    row = Appointment(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        offering_id=offering.id,
        start=start,
        end=end,
        status="pending",
        customer_name=customer.name,
        customer_phone=customer.phone,
        customer_email=customer.email,
        notes=notes,
        source=source,
        event_id=event_id,
    )
    session.add(row)
    session.flush()
    return row


def change_status(
    session: Session,
    tenant_id: uuid.UUID,
    appointment_id: uuid.UUID,
    status: str,
    *,
    now: datetime | None = None,
) -> Appointment:
    row = owned(session, Appointment, tenant_id, appointment_id, lock=True)
    if status == row.status:
        return row
    if status not in TRANSITIONS.get(row.status, set()):
        raise conflict("invalid_transition", f"cannot go from {row.status} to {status}")
    if status == "cancelled":
        offering = session.get(Offering, row.offering_id)
        hours = offering.cancellation_hours if offering else None
        if hours and (now or datetime.now(UTC)) > row.start - timedelta(hours=hours):
            raise conflict(
                "cancellation_window_passed",
                f"cancellations close {hours} h before the appointment",
            )
    row.status = status
    session.flush()
    return row
