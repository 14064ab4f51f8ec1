"""Orders: placement with stock reservation, status lifecycle."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from cloud_sync.cloud.auth import Operator, Viewer
from cloud_sync.cloud.deps import DbDep, PageDep
from cloud_sync.cloud.models import Order
from cloud_sync.cloud.schemas import OrderCreate, OrderPublic, OrderStatus, OrderStatusUpdate, Page
from cloud_sync.cloud.services import ordering
from cloud_sync.cloud.services.common import owned, paginate

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", response_model=OrderPublic, status_code=201)
def create_order(body: OrderCreate, db: DbDep, who: Operator) -> OrderPublic:
    with db.session() as s:
        order = ordering.place(
            s,
            who.tenant_id,
            [(i.offering_id, i.quantity) for i in body.items],
            body.customer,
            shipping_address=body.shipping_address.model_dump() if body.shipping_address else None,
            notes=body.notes,
        )
        return ordering.order_public(s, order)


@router.get("", response_model=Page[OrderPublic])
def list_orders(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    status: Annotated[OrderStatus | None, Query()] = None,
) -> Page[OrderPublic]:
    stmt = select(Order).where(Order.tenant_id == who.tenant_id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    with db.session() as s:
        return paginate(
            s,
            stmt.order_by(Order.created_at, Order.id),
            page.limit,
            page.offset,
            lambda o: ordering.order_public(s, o),
        )


@router.get("/{order_id}", response_model=OrderPublic)
def get_order(order_id: uuid.UUID, db: DbDep, who: Viewer) -> OrderPublic:
    with db.session() as s:
        return ordering.order_public(s, owned(s, Order, who.tenant_id, order_id))


@router.patch("/{order_id}", response_model=OrderPublic)
def update_order(
    order_id: uuid.UUID, body: OrderStatusUpdate, db: DbDep, who: Operator
) -> OrderPublic:
    with db.session() as s:
        order = ordering.change_status(s, who.tenant_id, order_id, body.status)
        return ordering.order_public(s, order)
