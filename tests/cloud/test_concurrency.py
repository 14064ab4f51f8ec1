"""Invariants under concurrent requests, on SQLite and PostgreSQL.

How we tried to break it: 50 simultaneous bookings for the last 3 places of a slot; 40
simultaneous orders (some with two products listed in opposite orders, to provoke deadlocks)
for less stock than they ask for; concurrent cancellations giving stock back."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx

from tests.cloud.conftest import Cloud
from tests.cloud.factories import next_weekday_at, product, service


async def _burst(
    cloud: Cloud, token: str, requests: list[tuple[str, str, dict]]
) -> list[httpx.Response]:  # type: ignore[type-arg]
    limits = httpx.Limits(max_connections=60)
    async with (
        httpx.AsyncClient(
            base_url=cloud.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            limits=limits,
        ) as client,
        asyncio.timeout(120),
    ):
        return await asyncio.gather(*(client.request(m, p, json=b) for m, p, b in requests))


async def test_fifty_bookings_for_last_three_places(cloud: Cloud) -> None:
    _, admin = cloud.tenant()
    a = cloud.client(admin)
    cut = await asyncio.to_thread(service, a, capacity=5)
    start = next_weekday_at(15).isoformat()
    for name in ("early bird 1", "early bird 2"):
        r = a.post(
            "/v1/appointments",
            json={"offering_id": str(cut), "start": start, "customer": {"name": name}},
        )
        assert r.status_code == 201, r.text
    body = {"offering_id": str(cut), "start": start, "customer": {"name": "Ahmet"}}
    answers = await _burst(cloud, admin, [("POST", "/v1/appointments", body)] * 50)
    codes = Counter(r.status_code for r in answers)
    assert codes == {201: 3, 409: 47}, codes
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"slot_taken"}
    listed = a.get("/v1/appointments", params={"offering_id": str(cut)}).json()
    assert listed["total"] == 5
    slots = a.get(
        "/v1/appointments/availability", params={"offering_id": str(cut), "date": start[:10]}
    ).json()["slots"]
    assert [s["remaining"] for s in slots if s["start"].startswith(start[:16])] == [0]


async def test_concurrent_orders_never_drive_stock_below_zero(cloud: Cloud) -> None:
    _, admin = cloud.tenant()
    a = cloud.client(admin)
    krem = await asyncio.to_thread(product, a, stock=10, name="Krem")
    sampuan = await asyncio.to_thread(product, a, stock=10, name="Şampuan")
    rng = random.Random(3)
    requests = []
    for i in range(40):
        q = rng.randint(1, 3)
        items = [{"offering_id": str(krem), "quantity": q}]
        if i % 3 == 0:  # both products, listed in either order
            extra = {"offering_id": str(sampuan), "quantity": 1}
            items = [extra, *items] if i % 2 else [*items, extra]
        requests.append(("POST", "/v1/orders", {"items": items}))
    answers = await _burst(cloud, admin, requests)
    assert {r.status_code for r in answers} <= {201, 409}
    assert {r.json()["code"] for r in answers if r.status_code == 409} <= {"out_of_stock"}
    placed = [r.json() for r in answers if r.status_code == 201]
    sold = Counter()
    for order in placed:
        for item in order["items"]:
            sold[item["offering_id"]] += item["quantity"]
    left_krem = a.get(f"/v1/offerings/{krem}").json()["stock"]
    left_sampuan = a.get(f"/v1/offerings/{sampuan}").json()["stock"]
    assert left_krem >= 0 and left_sampuan >= 0
    assert left_krem == 10 - sold[str(krem)] and left_sampuan == 10 - sold[str(sampuan)]
    assert sold[str(krem)] >= 8  # 40 orders of 1-3 for 10: nearly all stock goes

    # cancelling concurrently gives back exactly what was taken
    cancels = [("PATCH", f"/v1/orders/{o['id']}", {"status": "cancelled"}) for o in placed]
    answers = await _burst(cloud, admin, cancels + cancels[:3])  # 3 cancelled twice
    assert all(r.status_code == 200 for r in answers)
    assert a.get(f"/v1/offerings/{krem}").json()["stock"] == 10
    assert a.get(f"/v1/offerings/{sampuan}").json()["stock"] == 10
