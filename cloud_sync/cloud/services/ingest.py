"""Batch ingest of hub events: each id stored once; voice orders and bookings become rows.

The batch is one transaction. Rows are inserted with ON CONFLICT DO NOTHING and RETURNING,
so the ids that come back are exactly the ones this request stored; side effects (orders,
appointments, device status) run only for those, so a re-sent event never acts twice. A voice
order or booking that cannot be honoured is stored with its rejection (`outcome="rejected"`,
`outcome_ref` = the error code) inside a savepoint, so its partial work is undone.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud_sync.cloud.auth import Principal
from cloud_sync.cloud.errors import ApiError
from cloud_sync.cloud.models import Device, EventRow, Hub
from cloud_sync.cloud.schemas import BatchResult, Rejection
from cloud_sync.cloud.services import booking, ordering
from cloud_sync.cloud.services.common import insert_for
from cloud_sync.cloud.services.devices import apply_status, devices_for, touch
from cloud_sync.events import AppointmentRequested, DeviceStatus, Event, OrderRequested

log = logging.getLogger(__name__)


def ingest(session: Session, principal: Principal, events: list[Event]) -> BatchResult:
    rejected: list[Rejection] = []
    valid: list[Event] = []
    seen: set[uuid.UUID] = set()
    for event in events:
        if event.tenant_id != principal.tenant_id:
            rejected.append(
                Rejection(id=event.id, code="wrong_tenant", message="event names another tenant")
            )
        elif event.hub_id != principal.hub_id:
            rejected.append(
                Rejection(id=event.id, code="wrong_hub", message="event names another hub")
            )
        elif event.id not in seen:
            seen.add(event.id)
            valid.append(event)
    stored: set[uuid.UUID] = set()
    if valid:
        insert = insert_for(session)
        now = datetime.now(UTC)
        # executemany ("insertmanyvalues"): the statement compiles once and is cached
        table = EventRow.__table__
        stmt = insert(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
        rows = [
            {
                "id": e.id,
                "tenant_id": e.tenant_id,
                "hub_id": e.hub_id,
                "device_id": e.device_id,
                "type": e.type,
                "ts": e.ts,
                "seq": e.seq,
                "data": e.data,
                "received_at": now,
            }
            for e in valid
        ]
        stored = set(session.connection().execute(stmt, rows).scalars())
        session.execute(update(Hub).where(Hub.id == principal.hub_id).values(last_seen_at=now))
    fresh = [e for e in valid if e.id in stored]
    devices = devices_for(session, fresh)
    for event in fresh:
        _apply(session, devices[event.device_id], event)
    accepted = [e.id for e in valid if e.id in stored]
    duplicates = [e.id for e in valid if e.id not in stored]
    # an id repeated inside one batch answers once, as accepted or duplicate
    return BatchResult(accepted=accepted, duplicates=duplicates, rejected=rejected)


def _apply(session: Session, device: Device, event: Event) -> None:
    payload = event.payload()
    if isinstance(payload, DeviceStatus):
        apply_status(session, device, event, payload)
        return
    touch(device, event)
    if not isinstance(payload, OrderRequested | AppointmentRequested):
        return
    outcome, ref = "rejected", ""
    try:
        with session.begin_nested():
            if isinstance(payload, OrderRequested):
                order = ordering.place(
                    session,
                    event.tenant_id,
                    [(i.offering_id, i.quantity) for i in payload.items],
                    payload.customer,
                    notes=payload.notes,
                    source="voice",
                    event_id=event.id,
                )
                outcome, ref = "order", str(order.id)
            else:
                appointment = booking.book(
                    session,
                    event.tenant_id,
                    payload.offering_id,
                    payload.start,
                    customer=payload.customer,
                    notes=payload.notes,
                    source="voice",
                    event_id=event.id,
                    now=event.ts,
                )
                outcome, ref = "appointment", str(appointment.id)
    except ApiError as exc:
        ref = exc.code
        log.info("voice %s %s rejected: %s", event.type, event.id, exc.code)
    session.execute(
        update(EventRow).where(EventRow.id == event.id).values(outcome=outcome, outcome_ref=ref)
    )
