"""Appointments: availability, booking, status changes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from cloud_sync.cloud.auth import Operator, Viewer
from cloud_sync.cloud.deps import DbDep, PageDep
from cloud_sync.cloud.models import Appointment
from cloud_sync.cloud.schemas import (
    AppointmentCreate,
    AppointmentPublic,
    AppointmentStatus,
    AppointmentStatusUpdate,
    Availability,
    Page,
)
from cloud_sync.cloud.services import booking
from cloud_sync.cloud.services.common import owned, paginate

router = APIRouter(prefix="/appointments", tags=["appointments"])


@router.get("/availability", response_model=Availability)
def get_availability(
    offering_id: Annotated[uuid.UUID, Query()],
    day: Annotated[date, Query(alias="date")],
    db: DbDep,
    who: Viewer,
) -> Availability:
    with db.session() as s:
        slots = booking.availability(s, who.tenant_id, offering_id, day)
    return Availability(offering_id=offering_id, date=day, slots=slots)


@router.post("", response_model=AppointmentPublic, status_code=201)
def create_appointment(body: AppointmentCreate, db: DbDep, who: Operator) -> AppointmentPublic:
    with db.session() as s:
        row = booking.book(
            s, who.tenant_id, body.offering_id, body.start, customer=body.customer, notes=body.notes
        )
        return AppointmentPublic.model_validate(row)


@router.get("", response_model=Page[AppointmentPublic])
def list_appointments(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    status: Annotated[AppointmentStatus | None, Query()] = None,
    offering_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[AppointmentPublic]:
    stmt = select(Appointment).where(Appointment.tenant_id == who.tenant_id)
    if status is not None:
        stmt = stmt.where(Appointment.status == status)
    if offering_id is not None:
        stmt = stmt.where(Appointment.offering_id == offering_id)
    with db.session() as s:
        return paginate(
            s,
            stmt.order_by(Appointment.start, Appointment.id),
            page.limit,
            page.offset,
            AppointmentPublic.model_validate,
        )


@router.get("/{appointment_id}", response_model=AppointmentPublic)
def get_appointment(appointment_id: uuid.UUID, db: DbDep, who: Viewer) -> AppointmentPublic:
    with db.session() as s:
        return AppointmentPublic.model_validate(
            owned(s, Appointment, who.tenant_id, appointment_id)
        )


@router.patch("/{appointment_id}", response_model=AppointmentPublic)
def update_appointment(
    appointment_id: uuid.UUID, body: AppointmentStatusUpdate, db: DbDep, who: Operator
) -> AppointmentPublic:
    with db.session() as s:
        row = booking.change_status(s, who.tenant_id, appointment_id, body.status)
        return AppointmentPublic.model_validate(row)
