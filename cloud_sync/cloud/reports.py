"""Activity reports: one data model (`ActivityReport`), rendered as JSON, CSV or (in
`report_pdf`) PDF."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud_sync.cloud.models import Appointment, EventRow, Offering, Order, OrderItem
from cloud_sync.cloud.services.common import from_minor, tenant_row

LOW_CONFIDENCE = 0.6


class Count(BaseModel):
    key: str
    count: int


class IntentStats(BaseModel):
    intent: str
    count: int
    mean_confidence: float


class ProductSales(BaseModel):
    name: str
    quantity: int
    revenue: Decimal


class DeviceHealth(BaseModel):
    device_id: str
    samples: int
    online_share: float
    last_battery_pct: int | None
    min_battery_pct: int | None
    max_uptime_s: int | None


class DictatedReport(BaseModel):
    ts: datetime
    device_id: str
    title: str


class ActivityReport(BaseModel):
    tenant_id: uuid.UUID
    tenant_name: str
    currency: str
    timezone: str
    period_from: date
    period_to: date
    generated_at: datetime
    interactions: int
    interactions_by_device: list[Count]
    interactions_by_intent: list[IntentStats]
    interactions_by_day: list[Count]
    mean_confidence: float | None
    low_confidence_share: float | None
    orders: int
    orders_cancelled: int
    revenue: Decimal
    products: list[ProductSales]
    appointments: int
    appointments_cancelled: int
    appointments_by_service: list[Count]
    voice_requests_rejected: list[Count]
    devices: list[DeviceHealth]
    dictated_reports: list[DictatedReport]


def build_report(session: Session, tenant_id: uuid.UUID, start: date, end: date) -> ActivityReport:
    tenant = tenant_row(session, tenant_id)
    zone = ZoneInfo(tenant.timezone)
    lo = datetime.combine(start, time(0), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    events = session.execute(
        select(
            EventRow.type,
            EventRow.device_id,
            EventRow.ts,
            EventRow.data,
            EventRow.outcome,
            EventRow.outcome_ref,
        )
        .where(EventRow.tenant_id == tenant_id, EventRow.ts >= lo, EventRow.ts < hi)
        .order_by(EventRow.ts)
    ).all()
    by_device: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    confidences: dict[str, list[float]] = defaultdict(list)
    rejected: Counter[str] = Counter()
    health: dict[str, list[dict[str, Any]]] = defaultdict(list)
    dictated: list[DictatedReport] = []
    for etype, device_id, ts, data, outcome, ref in events:
        if etype == "interaction.completed":
            by_device[device_id] += 1
            by_day[ts.astimezone(zone).date().isoformat()] += 1
            confidences[data.get("intent") or "(none)"].append(float(data.get("confidence", 0)))
        elif etype == "device.status":
            health[device_id].append(data)
        elif etype == "report.dictated":
            dictated.append(
                DictatedReport(
                    ts=ts, device_id=device_id, title=data.get("title") or data.get("text", "")[:60]
                )
            )
        if outcome == "rejected":
            rejected[f"{etype}:{ref}"] += 1
    all_conf = [c for values in confidences.values() for c in values]

    orders = session.execute(
        select(Order.status, Order.total_minor).where(
            Order.tenant_id == tenant_id, Order.created_at >= lo, Order.created_at < hi
        )
    ).all()
    sold = session.execute(
        select(OrderItem.name, func.sum(OrderItem.quantity), func.sum(OrderItem.line_minor))
        .join(Order, Order.id == OrderItem.order_id)
        .where(
            Order.tenant_id == tenant_id,
            Order.created_at >= lo,
            Order.created_at < hi,
            Order.status != "cancelled",
        )
        .group_by(OrderItem.name)
        .order_by(func.sum(OrderItem.line_minor).desc())
    ).all()
    appointments = session.execute(
        select(Offering.name, Appointment.status)
        .join(Offering, Offering.id == Appointment.offering_id)
        .where(Appointment.tenant_id == tenant_id, Appointment.start >= lo, Appointment.start < hi)
    ).all()
    services: Counter[str] = Counter(name for name, status in appointments if status != "cancelled")
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    return ActivityReport(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        currency=tenant.currency,
        timezone=tenant.timezone,
        period_from=start,
        period_to=end,
        generated_at=datetime.now(UTC),
        interactions=sum(by_device.values()),
        interactions_by_device=[Count(key=k, count=v) for k, v in by_device.most_common()],
        interactions_by_intent=[
            IntentStats(intent=k, count=len(v), mean_confidence=round(sum(v) / len(v), 4))
            for k, v in sorted(confidences.items(), key=lambda kv: -len(kv[1]))
        ],
        interactions_by_day=[Count(key=d, count=by_day.get(d, 0)) for d in days],
        mean_confidence=round(sum(all_conf) / len(all_conf), 4) if all_conf else None,
        low_confidence_share=(
            round(sum(c < LOW_CONFIDENCE for c in all_conf) / len(all_conf), 4)
            if all_conf
            else None
        ),
        orders=sum(1 for status, _ in orders if status != "cancelled"),
        orders_cancelled=sum(1 for status, _ in orders if status == "cancelled"),
        revenue=from_minor(sum(total for status, total in orders if status != "cancelled")),
        products=[
            ProductSales(name=n, quantity=int(q), revenue=from_minor(int(r))) for n, q, r in sold
        ],
        appointments=sum(services.values()),
        appointments_cancelled=sum(1 for _, status in appointments if status == "cancelled"),
        appointments_by_service=[Count(key=k, count=v) for k, v in services.most_common()],
        voice_requests_rejected=[Count(key=k, count=v) for k, v in rejected.most_common()],
        devices=[_health(device_id, samples) for device_id, samples in sorted(health.items())],
        dictated_reports=dictated[-50:],
    )


def _health(device_id: str, samples: list[dict[str, Any]]) -> DeviceHealth:
    batteries = [int(s["battery_pct"]) for s in samples if s.get("battery_pct") is not None]
    uptimes = [int(s["uptime_s"]) for s in samples if s.get("uptime_s") is not None]
    return DeviceHealth(
        device_id=device_id,
        samples=len(samples),
        online_share=round(sum(bool(s.get("online")) for s in samples) / len(samples), 4),
        last_battery_pct=batteries[-1] if batteries else None,
        min_battery_pct=min(batteries) if batteries else None,
        max_uptime_s=max(uptimes) if uptimes else None,
    )


# ---------------------------------------------------------------- CSV


def render_csv(report: ActivityReport) -> bytes:
    """One long table: section, key, metric, value (opens cleanly in a spreadsheet)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "key", "metric", "value"])
    w.writerow(
        ["tenant", report.tenant_name, "period", f"{report.period_from}..{report.period_to}"]
    )
    w.writerow(["summary", "", "interactions", report.interactions])
    w.writerow(["summary", "", "mean_confidence", report.mean_confidence])
    w.writerow(["summary", "", "low_confidence_share", report.low_confidence_share])
    w.writerow(["summary", "", "orders", report.orders])
    w.writerow(["summary", "", "orders_cancelled", report.orders_cancelled])
    w.writerow(["summary", report.currency, "revenue", report.revenue])
    w.writerow(["summary", "", "appointments", report.appointments])
    w.writerow(["summary", "", "appointments_cancelled", report.appointments_cancelled])
    for c in report.interactions_by_day:
        w.writerow(["interactions_by_day", c.key, "count", c.count])
    for c in report.interactions_by_device:
        w.writerow(["interactions_by_device", c.key, "count", c.count])
    for i in report.interactions_by_intent:
        w.writerow(["interactions_by_intent", i.intent, "count", i.count])
        w.writerow(["interactions_by_intent", i.intent, "mean_confidence", i.mean_confidence])
    for p in report.products:
        w.writerow(["products", p.name, "quantity", p.quantity])
        w.writerow(["products", p.name, "revenue", p.revenue])
    for c in report.appointments_by_service:
        w.writerow(["appointments_by_service", c.key, "count", c.count])
    for c in report.voice_requests_rejected:
        w.writerow(["voice_rejected", c.key, "count", c.count])
    for d in report.devices:
        for metric in (
            "samples",
            "online_share",
            "last_battery_pct",
            "min_battery_pct",
            "max_uptime_s",
        ):
            w.writerow(["devices", d.device_id, metric, getattr(d, metric)])
    return out.getvalue().encode("utf-8-sig")  # BOM: spreadsheets then read Turkish letters
