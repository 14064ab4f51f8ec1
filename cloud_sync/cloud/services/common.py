"""Money conversion, tenant-scoped lookups and row locks."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud_sync.cloud.errors import not_found
from cloud_sync.cloud.models import Offering, Tenant
from cloud_sync.cloud.schemas import OfferingPublic, Page

M = TypeVar("M")
CENT = Decimal("0.01")


def to_minor(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value(ROUND_HALF_UP))


def from_minor(minor: int) -> Decimal:
    return (Decimal(minor) * CENT).quantize(CENT)


def rate_to_bp(rate: Decimal) -> int:
    return int((rate * 10000).to_integral_value(ROUND_HALF_UP))


def tax_of(amount_minor: int, tax_bp: int) -> int:
    return int((Decimal(amount_minor) * tax_bp / 10000).to_integral_value(ROUND_HALF_UP))


def insert_for(session: Session) -> Any:
    """The dialect's INSERT (for ON CONFLICT DO NOTHING)."""
    return (
        postgresql.insert
        if session.bind and session.bind.dialect.name == "postgresql"
        else (sqlite.insert)
    )


def tenant_row(session: Session, tenant_id: uuid.UUID) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise not_found("tenant")
    return tenant


def owned(
    session: Session, model: type[M], tenant_id: uuid.UUID, row_id: uuid.UUID, *, lock: bool = False
) -> M:
    """Row `row_id` of `model` if it belongs to `tenant_id`, else 404 (never 403: a foreign id
    is indistinguishable from a missing one)."""
    stmt = select(model).where(model.id == row_id, model.tenant_id == tenant_id)  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise not_found(model.__name__.lower())
    return row


def paginate(
    session: Session, stmt: Select[Any], limit: int, offset: int, convert: Any
) -> Page[Any]:
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.limit(limit).offset(offset)).scalars().all()
    return Page(items=[convert(r) for r in rows], total=total, limit=limit, offset=offset)


def offering_public(row: Offering, currency: str) -> OfferingPublic:
    return OfferingPublic(
        id=row.id,
        kind=row.kind,
        name=row.name,
        description=row.description,
        category=row.category,
        price=from_minor(row.price_minor),
        tax_rate=(Decimal(row.tax_bp) / 10000).quantize(Decimal("0.0001")),
        currency=currency,
        active=row.active,
        duration_minutes=row.duration_minutes,
        capacity=row.capacity,
        staff_ids=list(row.staff_ids or []),
        booking_advance_days=row.booking_advance_days,
        cancellation_hours=row.cancellation_hours,
        sku=row.sku,
        stock=row.stock,
        shipping_cost=from_minor(row.shipping_minor),
        meta=dict(row.meta or {}),
    )
