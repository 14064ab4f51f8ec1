"""Batch ingest on SQLite and PostgreSQL: idempotent, typed, tenant-checked, with side effects.

How we tried to break it: the same batch twice, the same id twice inside one batch, a batch
mixing new and old ids, events naming another tenant or hub, gzip bodies (valid and corrupt),
1,001 events, voice orders for more than the stock, voice bookings for a full slot."""

from __future__ import annotations

import gzip
import json
import uuid

from tests.cloud.conftest import Cloud
from tests.cloud.factories import (
    appointment_request,
    batch_json,
    event,
    interaction,
    next_weekday_at,
    order_request,
    product,
    service,
    status,
)


def _setup(cloud: Cloud) -> tuple[uuid.UUID, uuid.UUID, str, str]:
    tenant, admin = cloud.tenant()
    hub, hub_token = cloud.hub(admin)
    return tenant, hub, admin, hub_token


def test_same_events_twice_are_stored_once(cloud: Cloud) -> None:
    tenant, hub, admin, hub_token = _setup(cloud)
    events = [event(tenant, hub, interaction(), seq=i) for i in range(20)]
    c = cloud.client(hub_token)
    first = c.post("/v1/events:batch", json=batch_json(events[:15]))
    assert first.status_code == 200, first.text
    assert len(first.json()["accepted"]) == 15 and first.json()["duplicates"] == []
    again = c.post("/v1/events:batch", json=batch_json(events))  # 15 old + 5 new
    body = again.json()
    assert sorted(body["accepted"]) == sorted(str(e.id) for e in events[15:])
    assert sorted(body["duplicates"]) == sorted(str(e.id) for e in events[:15])
    listed = cloud.client(admin).get("/v1/events", params={"limit": 200}).json()
    assert listed["total"] == 20
    assert sorted(e["id"] for e in listed["items"]) == sorted(str(e.id) for e in events)


def test_repeated_id_inside_one_batch_is_stored_once(cloud: Cloud) -> None:
    tenant, hub, admin, hub_token = _setup(cloud)
    e = event(tenant, hub, interaction())
    r = cloud.client(hub_token).post("/v1/events:batch", json=batch_json([e, e, e]))
    assert r.json()["accepted"] == [str(e.id)]
    assert cloud.client(admin).get("/v1/events").json()["total"] == 1


def test_gzip_body_accepted_and_corrupt_gzip_refused(cloud: Cloud) -> None:
    tenant, hub, _, hub_token = _setup(cloud)
    events = [event(tenant, hub, status(), seq=i) for i in range(5)]
    raw = json.dumps(batch_json(events)).encode()
    c = cloud.client(hub_token)
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    ok = c.post("/v1/events:batch", content=gzip.compress(raw), headers=headers)
    assert ok.status_code == 200 and len(ok.json()["accepted"]) == 5
    bad = c.post("/v1/events:batch", content=b"\x1f\x8bnot really gzip", headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "bad_request"


def test_foreign_tenant_or_hub_events_are_rejected_not_stored(cloud: Cloud) -> None:
    tenant, hub, _, hub_token = _setup(cloud)
    other_tenant, other_admin = cloud.tenant("Other")
    other_hub, _ = cloud.hub(other_admin)
    mine = event(tenant, hub, interaction())
    wrong_tenant = event(other_tenant, other_hub, interaction())
    wrong_hub = event(tenant, uuid.uuid4(), interaction())
    body = (
        cloud.client(hub_token)
        .post("/v1/events:batch", json=batch_json([mine, wrong_tenant, wrong_hub]))
        .json()
    )
    assert body["accepted"] == [str(mine.id)]
    assert {(r["id"], r["code"]) for r in body["rejected"]} == {
        (str(wrong_tenant.id), "wrong_tenant"),
        (str(wrong_hub.id), "wrong_hub"),
    }
    assert cloud.client(other_admin).get("/v1/events").json()["total"] == 0


def test_people_keys_cannot_ingest_and_hub_keys_cannot_read(cloud: Cloud) -> None:
    tenant, hub, admin, hub_token = _setup(cloud)
    e = event(tenant, hub, interaction())
    r = cloud.client(admin).post("/v1/events:batch", json=batch_json([e]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    for path in ("/v1/events", "/v1/orders", "/v1/offerings", "/v1/tenants/me"):
        assert cloud.client(hub_token).get(path).status_code == 403, path


def test_oversized_and_malformed_batches_get_typed_errors(cloud: Cloud) -> None:
    tenant, hub, admin, hub_token = _setup(cloud)
    c = cloud.client(hub_token)
    too_many = [event(tenant, hub, interaction(), seq=i) for i in range(1001)]
    r = c.post("/v1/events:batch", json=batch_json(too_many))
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    bad = batch_json([event(tenant, hub, interaction())])
    bad["events"][0]["data"]["confidence"] = 7  # outside 0..1
    r = c.post("/v1/events:batch", json=bad)
    assert r.status_code == 422 and "Traceback" not in r.text
    naive = batch_json([event(tenant, hub, interaction())])
    naive["events"][0]["ts"] = "2026-01-01T10:00:00"
    assert c.post("/v1/events:batch", json=naive).status_code == 422
    assert cloud.client(admin).get("/v1/events").json()["total"] == 0


def test_voice_orders_become_orders_or_recorded_rejections(cloud: Cloud) -> None:
    tenant, hub, admin, hub_token = _setup(cloud)
    a = cloud.client(admin)
    krem = product(a, price="450.00", stock=3, tax_rate="0.18")
    first = event(tenant, hub, order_request(krem, 2), seq=1)
    second = event(tenant, hub, order_request(krem, 2), seq=2)  # only 1 left
    hc = cloud.client(hub_token)
    assert (
        len(hc.post("/v1/events:batch", json=batch_json([first, second])).json()["accepted"]) == 2
    )
    hc.post("/v1/events:batch", json=batch_json([first, second]))  # re-sent: no second order
    orders = a.get("/v1/orders").json()
    assert orders["total"] == 1
    assert orders["items"][0]["event_id"] == str(first.id)
    assert orders["items"][0]["total"] == "1062.00"  # 2 x 450 + 18 % tax
    assert a.get(f"/v1/offerings/{krem}").json()["stock"] == 1
    rejected = a.get("/v1/events", params={"outcome": "rejected"}).json()["items"]
    assert [(e["id"], e["outcome_ref"]) for e in rejected] == [(str(second.id), "out_of_stock")]


def test_voice_bookings_become_appointments_or_slot_taken(cloud: Cloud) -> None:
    tenant, hub, admin, hub_token = _setup(cloud)
    a = cloud.client(admin)
    cut = service(a, capacity=1)
    start = next_weekday_at(11)
    events = [event(tenant, hub, appointment_request(cut, start), seq=i) for i in range(2)]
    cloud.client(hub_token).post("/v1/events:batch", json=batch_json(events))
    appointments = a.get("/v1/appointments").json()["items"]
    assert [x["event_id"] for x in appointments] == [str(events[0].id)]
    assert appointments[0]["source"] == "voice"
    rejected = a.get("/v1/events", params={"outcome": "rejected"}).json()["items"]
    assert [(e["id"], e["outcome_ref"]) for e in rejected] == [(str(events[1].id), "slot_taken")]


def test_device_status_updates_registry_and_history(cloud: Cloud) -> None:
    tenant, hub, admin, hub_token = _setup(cloud)
    events = [
        event(tenant, hub, status(battery=b), device="arma-7", seq=i)
        for i, b in enumerate((90, 85, 70))
    ]
    cloud.client(hub_token).post("/v1/events:batch", json=batch_json(events))
    a = cloud.client(admin)
    devices = a.get("/v1/devices").json()["items"]
    assert [(d["device_id"], d["battery_pct"], d["online"]) for d in devices] == [
        ("arma-7", 70, True)
    ]
    history = a.get(f"/v1/devices/{devices[0]['id']}/status").json()
    assert [h["battery_pct"] for h in history["items"]] == [70, 85, 90]
