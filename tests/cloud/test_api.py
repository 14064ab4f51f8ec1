"""REST behaviour: offerings, order totals and lifecycle, appointments, pagination, errors,
rate limits, OpenAPI. (SQLite; the PostgreSQL path is covered by the parametrised suites.)

How we tried to break it: totals with several tax rates and shipping costs, computed by hand;
illegal status transitions; bookings outside opening hours, in the past, beyond the booking
window and inside the cancellation window; unknown fields; a burst past the rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.cloud.conftest import Cloud, start_cloud, stop_cloud
from tests.cloud.factories import next_weekday_at, product, service


def test_order_totals_tax_and_shipping(sqlite_cloud: Cloud) -> None:
    _, admin = sqlite_cloud.tenant()
    a = sqlite_cloud.client(admin)
    krem = product(a, price="450.00", tax_rate="0.18", shipping="30.00", stock=5)
    kitap = product(a, price="99.90", tax_rate="0.10", shipping="15.00", stock=None, name="Kitap")
    r = a.post(
        "/v1/orders",
        json={
            "items": [
                {"offering_id": str(krem), "quantity": 2},
                {"offering_id": str(kitap), "quantity": 3},
            ],
            "customer": {"name": "Ayşe Demir", "phone": "+905559876543"},
            "shipping_address": {"street": "Atatürk Cad. No:123", "city": "İstanbul"},
        },
    )
    assert r.status_code == 201, r.text
    order = r.json()
    # 2 x 450.00 = 900.00, tax 162.00; 3 x 99.90 = 299.70, tax 29.97; shipping: one parcel, 30
    assert (order["subtotal"], order["tax"], order["shipping"], order["total"]) == (
        "1199.70",
        "191.97",
        "30.00",
        "1421.67",
    )
    assert order["currency"] == "TRY" and order["status"] == "pending"
    assert a.get(f"/v1/offerings/{krem}").json()["stock"] == 3
    assert a.get(f"/v1/offerings/{kitap}").json()["stock"] is None  # untracked stays untracked


def test_order_lifecycle_and_illegal_transitions(sqlite_cloud: Cloud) -> None:
    _, admin = sqlite_cloud.tenant()
    a = sqlite_cloud.client(admin)
    krem = product(a, stock=2)
    oid = a.post("/v1/orders", json={"items": [{"offering_id": str(krem), "quantity": 2}]}).json()[
        "id"
    ]
    assert (
        a.post("/v1/orders", json={"items": [{"offering_id": str(krem), "quantity": 1}]}).json()[
            "code"
        ]
        == "out_of_stock"
    )
    r = a.patch(f"/v1/orders/{oid}", json={"status": "delivered"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    for step in ("paid", "shipped", "delivered"):
        assert a.patch(f"/v1/orders/{oid}", json={"status": step}).json()["status"] == step
    assert a.patch(f"/v1/orders/{oid}", json={"status": "cancelled"}).status_code == 409
    assert a.get(f"/v1/offerings/{krem}").json()["stock"] == 0  # delivered: not given back
    svc = service(a)
    r = a.post("/v1/orders", json={"items": [{"offering_id": str(svc), "quantity": 1}]})
    assert r.status_code == 422 and r.json()["code"] == "not_a_product"


def test_booking_rules(sqlite_cloud: Cloud) -> None:
    _, admin = sqlite_cloud.tenant()
    a = sqlite_cloud.client(admin)
    svc = service(a, capacity=1, duration=30)

    def book(start: datetime) -> tuple[int, str]:
        r = a.post("/v1/appointments", json={"offering_id": str(svc), "start": start.isoformat()})
        return r.status_code, r.json().get("code") or r.json()["status"]

    assert book(next_weekday_at(8)) == (422, "outside_opening_hours")  # opens at 09:00
    assert book(next_weekday_at(18) + timedelta(minutes=45)) == (422, "outside_opening_hours")
    assert book(datetime.now(UTC) - timedelta(hours=1)) == (422, "slot_in_past")
    assert book(next_weekday_at(10, days_ahead=40)) == (422, "outside_booking_window")
    assert book(next_weekday_at(10)) == (201, "pending")
    assert book(next_weekday_at(10) + timedelta(minutes=15)) == (409, "slot_taken")  # overlaps
    assert book(next_weekday_at(10) + timedelta(minutes=30)) == (201, "pending")
    naive = a.post(
        "/v1/appointments", json={"offering_id": str(svc), "start": "2030-01-07T10:00:00"}
    )
    assert naive.status_code == 422 and naive.json()["code"] == "validation_error"
    # availability: 09:00-19:00 in 30 min slots, two taken
    day = next_weekday_at(10).astimezone().date()
    slots = a.get(
        "/v1/appointments/availability", params={"offering_id": str(svc), "date": str(day)}
    ).json()["slots"]
    assert len(slots) == 20 and sum(s["remaining"] == 0 for s in slots) == 2
    # the cancellation window (24 h) is open two days ahead; status lifecycle
    appts = a.get("/v1/appointments").json()["items"]
    aid = appts[0]["id"]
    assert a.patch(f"/v1/appointments/{aid}", json={"status": "completed"}).status_code == 409
    assert (
        a.patch(f"/v1/appointments/{aid}", json={"status": "cancelled"}).json()["status"]
        == "cancelled"
    )
    assert book(next_weekday_at(10)) == (201, "pending")  # the place is free again


def test_cancellation_window(sqlite_cloud: Cloud) -> None:
    _, admin = sqlite_cloud.tenant(
        "Gece",
    )
    a = sqlite_cloud.client(admin)
    a.patch(
        "/v1/tenants/me",
        json={
            "opening_hours": {
                d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            }
        },
    )
    svc = service(a, capacity=1)
    soon = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    r = a.post("/v1/appointments", json={"offering_id": str(svc), "start": soon.isoformat()})
    if r.status_code == 422:  # 2 h from now crosses midnight local: try an hour earlier
        soon -= timedelta(hours=1, minutes=30)
        r = a.post("/v1/appointments", json={"offering_id": str(svc), "start": soon.isoformat()})
    assert r.status_code == 201, r.text
    r = a.patch(f"/v1/appointments/{r.json()['id']}", json={"status": "cancelled"})
    assert r.status_code == 409 and r.json()["code"] == "cancellation_window_passed"


def test_pagination_and_typed_errors(sqlite_cloud: Cloud) -> None:
    _, admin = sqlite_cloud.tenant()
    a = sqlite_cloud.client(admin)
    for i in range(7):
        product(a, name=f"Ürün {i}", stock=1)
    first = a.get("/v1/offerings", params={"limit": 3}).json()
    rest = a.get("/v1/offerings", params={"limit": 3, "offset": 3}).json()
    tail = a.get("/v1/offerings", params={"limit": 3, "offset": 6}).json()
    names = [o["name"] for p in (first, rest, tail) for o in p["items"]]
    assert first["total"] == 7 and len(set(names)) == 7
    assert a.get("/v1/offerings", params={"limit": 1000}).json()["code"] == "validation_error"
    r = a.post("/v1/offerings", json={"kind": "product", "name": "x", "price": "1", "bogus": 1})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = a.post("/v1/offerings", json={"kind": "service", "name": "x", "price": "1"})
    assert r.status_code == 422  # a service needs a duration
    r = a.get("/v1/orders/not-a-uuid")
    assert r.status_code == 422 and set(r.json()) == {"code", "message", "details"}
    r = a.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = sqlite_cloud.client("arma_00000000000000000000000000000000_x").get("/v1/offerings")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_rate_limit_answers_429_with_retry_after(sqlite_url: str) -> None:
    cloud = start_cloud(sqlite_url, rate_limit=60, burst=5)
    try:
        _, admin = cloud.tenant()
        a = cloud.client(admin)
        codes = [a.get("/v1/offerings").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
        r = a.get("/v1/offerings")
        assert r.json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
        _, other = cloud.tenant("B")  # another key has its own bucket
        assert cloud.client(other).get("/v1/offerings").status_code == 200
    finally:
        stop_cloud(cloud)


def test_openapi_and_docs_served(sqlite_cloud: Cloud) -> None:
    c = sqlite_cloud.client()
    assert c.get("/docs").status_code == 200
    spec = c.get("/openapi.json").json()
    assert spec["info"]["title"] == "ARMA Cloud API"
    assert "/v1/events:batch" in spec["paths"] and "/v1/reports/activity" in spec["paths"]


def test_device_registry_and_firmware_target(sqlite_cloud: Cloud) -> None:
    _, admin = sqlite_cloud.tenant()
    a = sqlite_cloud.client(admin)
    hub, _ = sqlite_cloud.hub(admin)
    r = a.post(
        "/v1/devices",
        json={"device_id": "arma-0001", "location": "Salon girişi", "hub_id": str(hub)},
    )
    assert r.status_code == 201
    assert a.post("/v1/devices", json={"device_id": "arma-0001"}).json()["code"] == "device_exists"
    r = a.patch(
        f"/v1/devices/{r.json()['id']}", json={"target_firmware": "1.0.3", "config": {"volume": 6}}
    )
    assert (r.json()["target_firmware"], r.json()["config"]) == ("1.0.3", {"volume": 6})
