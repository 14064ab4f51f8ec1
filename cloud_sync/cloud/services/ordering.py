"""Orders: totals with tax and shipping, stock reserved atomically, status lifecycle.

Stock: each tracked product is decremented with a conditional `UPDATE ... WHERE stock >= q`,
in offering-id order (no deadlocks between orders sharing products); if any item falls short
the whole order rolls back. Prices are tax-exclusive; tax is rounded per line; shipping is the
highest shipping cost among the items (one parcel).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from cloud_sync.cloud.errors import ApiError, conflict
from cloud_sync.cloud.models import Offering, Order, OrderItem
from cloud_sync.cloud.schemas import OrderItemPublic, OrderPublic
from cloud_sync.cloud.services.common import from_minor, owned, tax_of, tenant_row
from cloud_sync.events import Customer

TRANSITIONS = {
    "pending": {"paid", "cancelled"},
    "paid": {"shipped", "cancelled"},
    "shipped": {"delivered"},
}


def place(
    session: Session,
    tenant_id: uuid.UUID,
    items: list[tuple[uuid.UUID, int]],
    customer: Customer,
    *,
    shipping_address: dict[str, Any] | None = None,
    notes: str = "",
    source: str = "api",
    event_id: uuid.UUID | None = None,
) -> Order:
    tenant = tenant_row(session, tenant_id)
    merged: dict[uuid.UUID, int] = {}
    for offering_id, quantity in items:
        merged[offering_id] = merged.get(offering_id, 0) + quantity
    order = Order(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        status="pending",
        currency=tenant.currency,
        subtotal_minor=0,
        tax_minor=0,
        shipping_minor=0,
        total_minor=0,
        customer_name=customer.name,
        customer_phone=customer.phone,
        customer_email=customer.email,
        shipping_address=shipping_address or {},
        notes=notes,
        source=source,
        event_id=event_id,
    )
    session.add(order)
    for offering_id in sorted(merged):
        quantity = merged[offering_id]
        product = owned(session, Offering, tenant_id, offering_id)
        if product.kind != "product":
            raise ApiError(422, "not_a_product", f"{product.name} is not a product")
        if not product.active:
            raise ApiError(422, "inactive_offering", f"{product.name} is not on sale")
        if product.stock is not None:
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(Offering)
                .where(Offering.id == offering_id, Offering.stock >= quantity)
                .values(stock=Offering.stock - quantity)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise conflict("out_of_stock", f"not enough {product.name} in stock")
        line = product.price_minor * quantity
        tax = tax_of(line, product.tax_bp)
        session.add(
            OrderItem(
                order_id=order.id,
                offering_id=offering_id,
                name=product.name,
                quantity=quantity,
                unit_minor=product.price_minor,
                tax_minor=tax,
                line_minor=line,
            )
        )
        order.subtotal_minor += line
        order.tax_minor += tax
        order.shipping_minor = max(order.shipping_minor, product.shipping_minor)
    order.total_minor = order.subtotal_minor + order.tax_minor + order.shipping_minor
    session.flush()
    return order


def change_status(
    session: Session, tenant_id: uuid.UUID, order_id: uuid.UUID, status: str
) -> Order:
    order = owned(session, Order, tenant_id, order_id, lock=True)
    if status == order.status:
        return order
    if status not in TRANSITIONS.get(order.status, set()):
        raise conflict("invalid_transition", f"cannot go from {order.status} to {status}")
    if status == "cancelled":  # give the stock back
        for item in _items(session, order.id):
            session.execute(
                update(Offering)
                .where(Offering.id == item.offering_id, Offering.stock.is_not(None))
                .values(stock=Offering.stock + item.quantity)
                .execution_options(synchronize_session=False)
            )
    order.status = status
    session.flush()
    return order


def _items(session: Session, order_id: uuid.UUID) -> list[OrderItem]:
    stmt = select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
    return list(session.execute(stmt).scalars())


def order_public(session: Session, order: Order) -> OrderPublic:
    return OrderPublic(
        id=order.id,
        status=order.status,
        currency=order.currency,
        items=[
            OrderItemPublic(
                offering_id=i.offering_id,
                name=i.name,
                quantity=i.quantity,
                unit_price=from_minor(i.unit_minor),
                tax=from_minor(i.tax_minor),
                line_total=from_minor(i.line_minor + i.tax_minor),
            )
            for i in _items(session, order.id)
        ],
        subtotal=from_minor(order.subtotal_minor),
        tax=from_minor(order.tax_minor),
        shipping=from_minor(order.shipping_minor),
        total=from_minor(order.total_minor),
        customer_name=order.customer_name,
        customer_phone=order.customer_phone,
        customer_email=order.customer_email,
        shipping_address=dict(order.shipping_address or {}),
        notes=order.notes,
        source=order.source,
        event_id=order.event_id,
        created_at=order.created_at,
    )
