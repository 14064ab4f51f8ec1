"""Tenant isolation and roles: every route in the OpenAPI document is tried with another
tenant's key (and without a key, and with too weak a role); nothing of the first tenant leaks.

How we tried to break it: tenant B's admin key aimed at tenant A's hub, device, offering,
appointment, order and key ids in paths, bodies and queries; A's secret product name is
searched for in every answer B gets; the test fails if a route is added and not covered here."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cloud.conftest import Cloud
from tests.cloud.factories import (
    batch_json,
    event,
    next_weekday_at,
    product,
    service,
    status,
)

SECRET = "Gizli Ürün A"


def _tenant_a(cloud: Cloud) -> dict[str, Any]:
    tenant, admin = cloud.tenant("Tenant A")
    a = cloud.client(admin)
    hub, hub_token = cloud.hub(admin)
    prod = product(a, name=SECRET)
    svc = service(a, name=SECRET + " hizmet")
    start = next_weekday_at(10)
    appt = a.post("/v1/appointments", json={"offering_id": str(svc), "start": start.isoformat()})
    order = a.post("/v1/orders", json={"items": [{"offering_id": str(prod), "quantity": 1}]})
    key = a.post("/v1/api-keys", json={"role": "viewer", "name": SECRET})
    cloud.client(hub_token).post(
        "/v1/events:batch", json=batch_json([event(tenant, hub, status(), device="a-dev")])
    )
    device = a.get("/v1/devices").json()["items"][0]["id"]
    return {
        "tenant": tenant,
        "admin": admin,
        "hub": hub,
        "hub_token": hub_token,
        "product": prod,
        "service": svc,
        "start": start,
        "appointment": appt.json()["id"],
        "order": order.json()["id"],
        "key": key.json()["key"]["id"],
        "device": device,
    }


def _attacks(a: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """One request per operation, aimed at tenant A's objects."""
    day = a["start"].date().isoformat()
    return {
        ("get", "/v1/tenants/me"): {},
        ("patch", "/v1/tenants/me"): {"json": {"name": "x"}},
        ("post", "/v1/api-keys"): {"json": {"role": "viewer"}},
        ("get", "/v1/api-keys"): {},
        ("delete", "/v1/api-keys/{key_id}"): {"path": {"key_id": a["key"]}},
        ("post", "/v1/hubs"): {"json": {"name": "h"}},
        ("get", "/v1/hubs"): {},
        ("get", "/v1/hubs/{hub_id}"): {"path": {"hub_id": a["hub"]}},
        ("get", "/v1/hubs/{hub_id}/sync"): {"path": {"hub_id": a["hub"]}},
        ("post", "/v1/devices"): {"json": {"device_id": "b-dev", "hub_id": str(a["hub"])}},
        ("get", "/v1/devices"): {},
        ("get", "/v1/devices/{device_pk}"): {"path": {"device_pk": a["device"]}},
        ("patch", "/v1/devices/{device_pk}"): {
            "path": {"device_pk": a["device"]},
            "json": {"name": "x"},
        },
        ("get", "/v1/devices/{device_pk}/status"): {"path": {"device_pk": a["device"]}},
        ("post", "/v1/offerings"): {"json": {"kind": "product", "name": "b", "price": "1"}},
        ("get", "/v1/offerings"): {},
        ("get", "/v1/offerings/{offering_id}"): {"path": {"offering_id": a["product"]}},
        ("patch", "/v1/offerings/{offering_id}"): {
            "path": {"offering_id": a["product"]},
            "json": {"stock": 0},
        },
        ("delete", "/v1/offerings/{offering_id}"): {"path": {"offering_id": a["product"]}},
        ("get", "/v1/appointments/availability"): {
            "params": {"offering_id": str(a["service"]), "date": day}
        },
        ("post", "/v1/appointments"): {
            "json": {"offering_id": str(a["service"]), "start": a["start"].isoformat()}
        },
        ("get", "/v1/appointments"): {"params": {"offering_id": str(a["service"])}},
        ("get", "/v1/appointments/{appointment_id}"): {
            "path": {"appointment_id": a["appointment"]}
        },
        ("patch", "/v1/appointments/{appointment_id}"): {
            "path": {"appointment_id": a["appointment"]},
            "json": {"status": "cancelled"},
        },
        ("post", "/v1/orders"): {
            "json": {"items": [{"offering_id": str(a["product"]), "quantity": 1}]}
        },
        ("get", "/v1/orders"): {},
        ("get", "/v1/orders/{order_id}"): {"path": {"order_id": a["order"]}},
        ("patch", "/v1/orders/{order_id}"): {
            "path": {"order_id": a["order"]},
            "json": {"status": "cancelled"},
        },
        ("post", "/v1/events:batch"): {
            "json": batch_json([event(a["tenant"], a["hub"], status())])
        },
        ("get", "/v1/events"): {},
        ("get", "/v1/reports/activity"): {"params": {"from": day, "to": day}},
    }


def _call(client: Any, method: str, path: str, spec: dict[str, Any]) -> Any:
    url = path.format(**{k: str(v) for k, v in spec.get("path", {}).items()})
    return client.request(method.upper(), url, json=spec.get("json"), params=spec.get("params"))


@pytest.fixture
def setting(cloud: Cloud) -> tuple[Cloud, dict[str, Any]]:
    return cloud, _tenant_a(cloud)


def test_every_route_refuses_or_hides_other_tenants_data(setting: tuple[Cloud, dict]) -> None:  # type: ignore[type-arg]
    cloud, a = setting
    attacks = _attacks(a)
    documented = {
        (m, p)
        for p, ops in cloud.app.openapi()["paths"].items()
        for m in ops
        if p.startswith("/v1")
    }
    assert documented == set(attacks), documented ^ set(attacks)
    _, b_admin = cloud.tenant("Tenant B")
    b_hub, b_hub_token = cloud.hub(b_admin)
    b = cloud.client(b_admin)
    anonymous = cloud.client()
    before = {
        p: cloud.client(a["admin"]).get(p).text
        for p in ("/v1/offerings", "/v1/orders", "/v1/appointments", "/v1/devices")
    }
    for (method, path), spec in attacks.items():
        assert _call(anonymous, method, path, spec).status_code == 401, path
        client = cloud.client(b_hub_token) if path == "/v1/events:batch" else b
        r = _call(client, method, path, spec)
        assert r.status_code < 500, (method, path, r.text)
        assert SECRET not in r.text and str(a["tenant"]) not in r.text, (method, path)
        aims_at_a = (
            "path" in spec
            or path.endswith("availability")
            or (method == "post" and path in ("/v1/appointments", "/v1/orders", "/v1/devices"))
        )
        if aims_at_a:
            assert r.status_code == 404, (method, path, r.status_code, r.text)
        if path == "/v1/events:batch":
            assert r.json()["accepted"] == [] and r.json()["rejected"][0]["code"] == "wrong_tenant"
    after = {p: cloud.client(a["admin"]).get(p).text for p in before}
    assert after == before  # B changed nothing of A's
    assert cloud.client(a["admin"]).get("/v1/api-keys").json()["items"][1]["revoked_at"] is None
    assert b_hub


def test_roles_limit_what_a_key_may_do(setting: tuple[Cloud, dict]) -> None:  # type: ignore[type-arg]
    cloud, a = setting
    attacks = _attacks(a)
    viewer = cloud.client(cloud.key(a["admin"], "viewer"))
    operator = cloud.client(cloud.key(a["admin"], "operator"))
    hub = cloud.client(a["hub_token"])
    admin_only = {
        ("patch", "/v1/tenants/me"),
        ("post", "/v1/api-keys"),
        ("get", "/v1/api-keys"),
        ("delete", "/v1/api-keys/{key_id}"),
        ("post", "/v1/hubs"),
    }
    hub_allowed = {("post", "/v1/events:batch"), ("get", "/v1/hubs/{hub_id}/sync")}
    for (method, path), spec in attacks.items():
        if (method, path) not in hub_allowed:
            assert _call(hub, method, path, spec).status_code == 403, (method, path)
        if path == "/v1/events:batch":
            assert _call(viewer, method, path, spec).status_code == 403
            continue
        v = _call(viewer, method, path, spec).status_code
        assert (v == 403) == (method != "get" or (method, path) in admin_only), (method, path)
        if (method, path) in admin_only:
            assert _call(operator, method, path, spec).status_code == 403, (method, path)
