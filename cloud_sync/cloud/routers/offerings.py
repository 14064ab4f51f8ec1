"""Offerings: services (bookable) and products (sold, with stock)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from cloud_sync.cloud.auth import Operator, Viewer
from cloud_sync.cloud.deps import DbDep, PageDep
from cloud_sync.cloud.models import Offering
from cloud_sync.cloud.schemas import OfferingCreate, OfferingPublic, OfferingUpdate, Page
from cloud_sync.cloud.services.common import (
    offering_public,
    owned,
    paginate,
    rate_to_bp,
    tenant_row,
    to_minor,
)

router = APIRouter(prefix="/offerings", tags=["offerings"])


@router.post("", response_model=OfferingPublic, status_code=201)
def create_offering(body: OfferingCreate, db: DbDep, who: Operator) -> OfferingPublic:
    fields = body.model_dump(exclude={"price", "tax_rate", "shipping_cost"})
    with db.session() as s:
        tenant = tenant_row(s, who.tenant_id)
        row = Offering(
            id=uuid.uuid4(),
            tenant_id=who.tenant_id,
            price_minor=to_minor(body.price),
            tax_bp=rate_to_bp(body.tax_rate),
            shipping_minor=to_minor(body.shipping_cost),
            **fields,
        )
        if row.kind == "service" and row.capacity is None:
            row.capacity = 1
        s.add(row)
        s.flush()
        return offering_public(row, tenant.currency)


@router.get("", response_model=Page[OfferingPublic])
def list_offerings(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    kind: Annotated[Literal["service", "product"] | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> Page[OfferingPublic]:
    stmt = select(Offering).where(Offering.tenant_id == who.tenant_id)
    if kind is not None:
        stmt = stmt.where(Offering.kind == kind)
    if active is not None:
        stmt = stmt.where(Offering.active.is_(active))
    with db.session() as s:
        currency = tenant_row(s, who.tenant_id).currency
        return paginate(
            s,
            stmt.order_by(Offering.name, Offering.id),
            page.limit,
            page.offset,
            lambda r: offering_public(r, currency),
        )


@router.get("/{offering_id}", response_model=OfferingPublic)
def get_offering(offering_id: uuid.UUID, db: DbDep, who: Viewer) -> OfferingPublic:
    with db.session() as s:
        currency = tenant_row(s, who.tenant_id).currency
        return offering_public(owned(s, Offering, who.tenant_id, offering_id), currency)


@router.patch("/{offering_id}", response_model=OfferingPublic)
def update_offering(
    offering_id: uuid.UUID, body: OfferingUpdate, db: DbDep, who: Operator
) -> OfferingPublic:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    with db.session() as s:
        currency = tenant_row(s, who.tenant_id).currency
        row = owned(s, Offering, who.tenant_id, offering_id, lock=True)
        if "price" in changes:
            row.price_minor = to_minor(changes.pop("price"))
        if "tax_rate" in changes:
            row.tax_bp = rate_to_bp(changes.pop("tax_rate"))
        if "shipping_cost" in changes:
            row.shipping_minor = to_minor(changes.pop("shipping_cost"))
        if row.kind == "product":
            changes.pop("duration_minutes", None)
            changes.pop("capacity", None)
        else:
            changes.pop("stock", None)
        for field, value in changes.items():
            setattr(row, field, value)
        s.flush()
        return offering_public(row, currency)


@router.delete("/{offering_id}", response_model=OfferingPublic)
def deactivate_offering(offering_id: uuid.UUID, db: DbDep, who: Operator) -> OfferingPublic:
    """Offerings are deactivated, not deleted: orders and appointments keep referring to them."""
    with db.session() as s:
        currency = tenant_row(s, who.tenant_id).currency
        row = owned(s, Offering, who.tenant_id, offering_id, lock=True)
        row.active = False
        s.flush()
        return offering_public(row, currency)
