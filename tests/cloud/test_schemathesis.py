"""Property-based API test: schemathesis generates requests from the OpenAPI document and
checks that no answer is a 5xx, and every answer matches the documented status codes,
content types and schemas. Bounded (few examples per operation) to keep CI fast.

How we tried to break it: schemathesis sends schema-conforming and non-conforming data to every
operation with an admin key of a tenant that has offerings, a hub and a device."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloud_sync.cloud.app import create_app
from cloud_sync.cloud.auth import issue_key
from cloud_sync.cloud.db import Database
from cloud_sync.cloud.migrate import migrate
from cloud_sync.cloud.models import Device, Hub, Offering, Tenant
from cloud_sync.cloud.settings import CloudSettings

# module level: schemathesis reads the app's schema at import; the folder goes at exit
_DIR = Path(tempfile.mkdtemp(prefix="arma-schemathesis-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_URL = f"sqlite:///{_DIR / 'cloud.db'}"
migrate(_URL)
_DB = Database(_URL)
with _DB.session() as _s:
    _tenant = Tenant(
        id=uuid.uuid4(),
        name="Şema",
        currency="TRY",
        timezone="Europe/Istanbul",
        opening_hours={},
        settings={},
    )
    _s.add(_tenant)
    _s.flush()
    _s.add(
        Offering(
            id=uuid.uuid4(),
            tenant_id=_tenant.id,
            kind="product",
            name="Krem",
            price_minor=45000,
            tax_bp=1800,
            stock=5,
        )
    )
    _s.add(
        Offering(
            id=uuid.uuid4(),
            tenant_id=_tenant.id,
            kind="service",
            name="Kesim",
            price_minor=15000,
            duration_minutes=30,
            capacity=2,
        )
    )
    _hub = Hub(id=uuid.uuid4(), tenant_id=_tenant.id, name="h")
    _s.add(_hub)
    _s.flush()
    _s.add(Device(id=uuid.uuid4(), tenant_id=_tenant.id, device_id="arma-1", hub_id=_hub.id))
    _, TOKEN = issue_key(_s, _tenant.id, "admin")
    _, HUB_TOKEN = issue_key(_s, _tenant.id, "hub", hub_id=_hub.id)
APP = create_app(CloudSettings(database_url=_URL, rate_limit_per_minute=0), db=_DB)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, response.text
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
    )


HUB_OPERATIONS = schema.include(path_regex=r"^/v1/(events:batch|hubs/\{hub_id\}/sync)$")


@HUB_OPERATIONS.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_hub_operations_match_the_document(case: schemathesis.Case) -> None:
    """The two operations a hub credential may use, called with one."""
    response = case.call(headers={"Authorization": f"Bearer {HUB_TOKEN}"})
    assert response.status_code < 500, response.text
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
    )
