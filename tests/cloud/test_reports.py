"""Activity reports as JSON, CSV and PDF, from events, orders and appointments.

How we tried to break it: figures computed by hand from the events we send; Turkish letters in
the tenant and product names (the PDF must carry them as text, not as missing glyphs); events
outside the period; a voice order that was rejected."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pypdf import PdfReader

from tests.cloud.conftest import Cloud
from tests.cloud.factories import (
    batch_json,
    event,
    interaction,
    next_weekday_at,
    order_request,
    product,
    service,
    status,
)


def _populate(cloud: Cloud) -> tuple[str, str, str]:
    tenant, admin = cloud.tenant("Kuaför Şirin Güzellik")
    hub, token = cloud.hub(admin)
    a = cloud.client(admin)
    krem = product(a, price="100.00", tax_rate="0.20", stock=3, name="Nemlendirici Krem")
    svc = service(a, name="Saç Kesimi")
    now = datetime.now(UTC)
    events = [
        event(tenant, hub, interaction("order.product", 0.9), device="kapi-1", seq=1, ts=now),
        event(tenant, hub, interaction("order.product", 0.5), device="kapi-1", seq=2, ts=now),
        event(tenant, hub, interaction("booking.create", 0.7), device="kasa-1", seq=1, ts=now),
        event(
            tenant,
            hub,
            interaction("booking.create", 0.8),
            device="kasa-1",
            seq=2,
            ts=now - timedelta(days=40),
        ),  # outside the period
        event(tenant, hub, status(battery=90), device="kapi-1", seq=3, ts=now),
        event(tenant, hub, status(online=False, battery=40), device="kapi-1", seq=4, ts=now),
        event(tenant, hub, order_request(krem, 2), device="kapi-1", seq=5, ts=now),
        event(tenant, hub, order_request(krem, 5), device="kapi-1", seq=6, ts=now),  # too many
    ]
    assert (
        len(
            cloud.client(token).post("/v1/events:batch", json=batch_json(events)).json()["accepted"]
        )
        == 8
    )
    start = next_weekday_at(11, days_ahead=1)
    a.post("/v1/appointments", json={"offering_id": str(svc), "start": start.isoformat()})
    day_from = (now - timedelta(days=2)).date().isoformat()
    day_to = (now + timedelta(days=9)).date().isoformat()
    return admin, day_from, day_to


def test_report_json_csv_pdf(sqlite_cloud: Cloud) -> None:
    admin, day_from, day_to = _populate(sqlite_cloud)
    a = sqlite_cloud.client(admin)
    params = {"from": day_from, "to": day_to}
    report = a.get("/v1/reports/activity", params=params).json()
    assert report["interactions"] == 3
    assert {c["key"]: c["count"] for c in report["interactions_by_device"]} == {
        "kapi-1": 2,
        "kasa-1": 1,
    }
    intents = {
        i["intent"]: (i["count"], i["mean_confidence"]) for i in report["interactions_by_intent"]
    }
    assert intents == {"order.product": (2, 0.7), "booking.create": (1, 0.7)}
    assert report["mean_confidence"] == 0.7 and report["low_confidence_share"] == round(1 / 3, 4)
    assert report["orders"] == 1 and Decimal(report["revenue"]) == Decimal("240.00")
    assert report["appointments_by_service"] == [{"key": "Saç Kesimi", "count": 1}]
    assert report["voice_requests_rejected"] == [
        {"key": "order.requested:out_of_stock", "count": 1}
    ]
    (kapi,) = report["devices"]
    assert (kapi["samples"], kapi["online_share"], kapi["last_battery_pct"]) == (2, 0.5, 40)
    assert len(report["interactions_by_day"]) == 12

    r = a.get("/v1/reports/activity", params={**params, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "key", "metric", "value"]
    assert ["summary", "TRY", "revenue", "240.00"] in rows
    assert ["interactions_by_device", "kapi-1", "count", "2"] in rows

    r = a.get("/v1/reports/activity", params={**params, "format": "pdf"})
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    pdf = PdfReader(io.BytesIO(r.content))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert len(pdf.pages) >= 1
    assert "Kuaför Şirin Güzellik" in text
    assert "Interactions per day" in text and "Nemlendirici Krem" in text
    assert "240.00 TRY" in text
    # the chart: its axis labels are text (one per day), its bars filled rectangles
    assert "date (MM-DD)" in text
    assert all(d["key"][5:] in text for d in report["interactions_by_day"])
    content = pdf.pages[0].get_contents().get_data()  # type: ignore[union-attr]
    assert b".231373 .431373 .647059 rg" in content  # the bar colour #3b6ea5 is painted


def test_report_period_is_checked(sqlite_cloud: Cloud) -> None:
    _, admin = sqlite_cloud.tenant()
    a = sqlite_cloud.client(admin)
    r = a.get("/v1/reports/activity", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert r.status_code == 422 and r.json()["code"] == "bad_period"
    r = a.get(
        "/v1/reports/activity", params={"from": "2026-01-01", "to": "2026-01-31", "format": "pdf"}
    )
    assert r.status_code == 200 and len(PdfReader(io.BytesIO(r.content)).pages) == 1
