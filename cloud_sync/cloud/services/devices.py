"""Device registry updates from events; the hub's sync document and its ETag."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud_sync.cloud.models import Device, DeviceStatusRow, Hub, Offering
from cloud_sync.cloud.services.common import insert_for, offering_public, tenant_row
from cloud_sync.events import DeviceStatus, Event


def devices_for(session: Session, events: list[Event]) -> dict[str, Device]:
    """Registry rows for the devices the events name (one tenant), created on first sight:
    two statements per batch, whatever its size."""
    if not events:
        return {}
    tenant_id = events[0].tenant_id
    first: dict[str, Event] = {}
    for event in events:
        first.setdefault(event.device_id, event)
    insert = insert_for(session)
    session.execute(
        insert(Device)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "device_id": e.device_id,
                    "hub_id": e.hub_id,
                    "name": "",
                    "location": "",
                    "config": {},
                    "online": False,
                    "created_at": e.ts,
                }
                for e in first.values()
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "device_id"])
    )
    rows = session.execute(
        select(Device).where(Device.tenant_id == tenant_id, Device.device_id.in_(list(first)))
    ).scalars()
    return {row.device_id: row for row in rows}


def touch(device: Device, event: Event) -> None:
    if device.last_seen_at is None or event.ts > device.last_seen_at:
        device.last_seen_at = event.ts


def apply_status(session: Session, device: Device, event: Event, status: DeviceStatus) -> None:
    session.add(
        DeviceStatusRow(
            tenant_id=event.tenant_id,
            device_pk=device.id,
            ts=event.ts,
            online=status.online,
            battery_pct=status.battery_pct,
            rssi_dbm=status.rssi_dbm,
            uptime_s=status.uptime_s,
            firmware=status.firmware,
        )
    )
    if device.last_seen_at is None or event.ts >= device.last_seen_at:  # newest wins
        device.last_seen_at = event.ts
        device.online = status.online
        device.battery_pct = status.battery_pct
        device.rssi_dbm = status.rssi_dbm
        if status.firmware:
            device.firmware = status.firmware


def sync_document(session: Session, hub: Hub) -> tuple[dict[str, Any], str]:
    """What a hub needs to work offline: tenant settings, active catalog, its devices."""
    tenant = tenant_row(session, hub.tenant_id)
    offerings = session.execute(
        select(Offering)
        .where(Offering.tenant_id == tenant.id, Offering.active.is_(True))
        .order_by(Offering.kind, Offering.name, Offering.id)
    ).scalars()
    devices = session.execute(
        select(Device).where(Device.tenant_id == tenant.id).order_by(Device.device_id)
    ).scalars()
    document = {
        "hub_id": str(hub.id),
        "tenant": {
            "id": str(tenant.id),
            "name": tenant.name,
            "currency": tenant.currency,
            "timezone": tenant.timezone,
            "opening_hours": tenant.opening_hours,
            "domain": (tenant.settings or {}).get("domain", {}),
        },
        "offerings": [
            offering_public(o, tenant.currency).model_dump(mode="json") for o in offerings
        ],
        "devices": [
            {
                "device_id": d.device_id,
                "name": d.name,
                "location": d.location,
                "config": d.config,
                "target_firmware": d.target_firmware,
                "hub_id": str(d.hub_id) if d.hub_id else None,
            }
            for d in devices
        ],
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return document, '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'
