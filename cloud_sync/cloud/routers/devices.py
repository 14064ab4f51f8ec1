"""Device registry, status history and firmware targets."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud_sync.cloud.auth import Operator, Viewer
from cloud_sync.cloud.deps import DbDep, PageDep
from cloud_sync.cloud.errors import conflict
from cloud_sync.cloud.models import Device, DeviceStatusRow, Hub
from cloud_sync.cloud.schemas import (
    DeviceCreate,
    DevicePublic,
    DeviceStatusPublic,
    DeviceUpdate,
    Page,
)
from cloud_sync.cloud.services.common import owned, paginate

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post("", response_model=DevicePublic, status_code=201)
def create_device(body: DeviceCreate, db: DbDep, who: Operator) -> DevicePublic:
    try:
        with db.session() as s:
            if body.hub_id is not None:
                owned(s, Hub, who.tenant_id, body.hub_id)
            row = Device(id=uuid.uuid4(), tenant_id=who.tenant_id, **body.model_dump())
            s.add(row)
            s.flush()
            return DevicePublic.model_validate(row)
    except IntegrityError as exc:
        raise conflict("device_exists", "a device with that device_id exists") from exc


@router.get("", response_model=Page[DevicePublic])
def list_devices(db: DbDep, who: Viewer, page: PageDep) -> Page[DevicePublic]:
    stmt = select(Device).where(Device.tenant_id == who.tenant_id).order_by(Device.device_id)
    with db.session() as s:
        return paginate(s, stmt, page.limit, page.offset, DevicePublic.model_validate)


@router.get("/{device_pk}", response_model=DevicePublic)
def get_device(device_pk: uuid.UUID, db: DbDep, who: Viewer) -> DevicePublic:
    with db.session() as s:
        return DevicePublic.model_validate(owned(s, Device, who.tenant_id, device_pk))


@router.patch("/{device_pk}", response_model=DevicePublic)
def update_device(
    device_pk: uuid.UUID, body: DeviceUpdate, db: DbDep, who: Operator
) -> DevicePublic:
    with db.session() as s:
        row = owned(s, Device, who.tenant_id, device_pk, lock=True)
        changes = body.model_dump(exclude_unset=True)
        if changes.get("hub_id") is not None:
            owned(s, Hub, who.tenant_id, changes["hub_id"])
        for field, value in changes.items():
            if value is not None or field == "hub_id":
                setattr(row, field, value)
        s.flush()
        return DevicePublic.model_validate(row)


@router.get("/{device_pk}/status", response_model=Page[DeviceStatusPublic])
def status_history(
    device_pk: uuid.UUID, db: DbDep, who: Viewer, page: PageDep
) -> Page[DeviceStatusPublic]:
    with db.session() as s:
        owned(s, Device, who.tenant_id, device_pk)
        stmt = (
            select(DeviceStatusRow)
            .where(DeviceStatusRow.device_pk == device_pk)
            .order_by(DeviceStatusRow.ts.desc(), DeviceStatusRow.id.desc())
        )
        return paginate(s, stmt, page.limit, page.offset, DeviceStatusPublic.model_validate)
