"""A tenant catalog as the cloud's sync document carries it, and domains compiled against it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hub.voice.catalog import LocalCatalog
from models.domain import CompiledDomain, compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR

SHAMPOO = "0195f000-0000-7000-8000-000000000001"
MOISTURISER = "0195f000-0000-7000-8000-000000000002"
HAIRCUT = "0195f000-0000-7000-8000-000000000003"
MANICURE = "0195f000-0000-7000-8000-000000000004"


def sync_document() -> dict[str, Any]:
    week = {d: [["09:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    return {
        "hub_id": "0195f000-0000-7000-8000-0000000000aa",
        "tenant": {
            "id": "t",
            "name": "Salon Ayşe",
            "currency": "TRY",
            "timezone": "Europe/Istanbul",
            "opening_hours": week,
            "domain": {},
        },
        "offerings": [
            {
                "id": SHAMPOO,
                "kind": "product",
                "name": "shampoo",
                "price": "150.00",
                "tax_rate": "0.20",
                "currency": "TRY",
                "stock": 3,
                "shipping_cost": "0",
            },
            {
                "id": MOISTURISER,
                "kind": "product",
                "name": "moisturiser",
                "price": "375.00",
                "tax_rate": "0.20",
                "currency": "TRY",
                "stock": 10,
                "shipping_cost": "0",
            },
            {
                "id": HAIRCUT,
                "kind": "service",
                "name": "saç kesimi",
                "price": "500",
                "tax_rate": "0.20",
                "currency": "TRY",
                "duration_minutes": 45,
                "capacity": 1,
            },
            {
                "id": MANICURE,
                "kind": "service",
                "name": "manikür",
                "price": "300",
                "tax_rate": "0.20",
                "currency": "TRY",
                "duration_minutes": 30,
                "capacity": 2,
            },
        ],
        "devices": [],
    }


@pytest.fixture
def catalog() -> LocalCatalog:
    return LocalCatalog.from_sync_document(sync_document(), fetched_at=time.time())


_compiled: dict[str, CompiledDomain] = {}


def compiled_domain(name: str) -> CompiledDomain:
    if name not in _compiled:
        cat = LocalCatalog.from_sync_document(sync_document()).domain_catalog()
        _compiled[name] = compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml", catalog=cat))
    return _compiled[name]
