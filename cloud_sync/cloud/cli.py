"""`arma-cloud`: serve the API, migrate the database, create tenants and hub credentials."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import uuid

from cloud_sync.cloud.auth import issue_key
from cloud_sync.cloud.db import Database
from cloud_sync.cloud.migrate import migrate
from cloud_sync.cloud.models import Tenant
from cloud_sync.cloud.schemas import TenantCreate

DEFAULT_URL = os.environ.get("ARMA_CLOUD_DATABASE_URL", "sqlite:///arma-cloud.db")


def _out(payload: dict[str, str], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        for key, value in payload.items():
            sys.stdout.write(f"{key}: {value}\n")


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from cloud_sync.cloud.app import create_app
    from cloud_sync.cloud.settings import CloudSettings

    if not args.no_migrate:
        migrate(args.database_url)
    settings = CloudSettings(database_url=args.database_url, rate_limit_per_minute=args.rate_limit)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)


def _migrate(args: argparse.Namespace) -> None:
    migrate(args.database_url)
    sys.stdout.write("migrated\n")


def _tenant_create(args: argparse.Namespace) -> None:
    spec = TenantCreate(name=args.name, currency=args.currency, timezone=args.timezone)
    migrate(args.database_url)
    db = Database(args.database_url)
    with db.session() as s:
        tenant = Tenant(
            id=uuid.uuid4(),
            name=spec.name,
            currency=spec.currency,
            timezone=spec.timezone,
            opening_hours=spec.opening_hours or {},
            settings={},
        )
        s.add(tenant)
        s.flush()
        _, token = issue_key(s, tenant.id, "admin", name="first admin")
    db.dispose()
    _out({"tenant_id": str(tenant.id), "name": tenant.name, "admin_key": token}, args.json)


def _hub_create(args: argparse.Namespace) -> None:
    from cloud_sync.cloud.routers.hubs import create_hub_with_key
    from cloud_sync.cloud.services.common import tenant_row

    db = Database(args.database_url)
    with db.session() as s:
        tenant_row(s, uuid.UUID(args.tenant))
        hub, token = create_hub_with_key(s, uuid.UUID(args.tenant), args.name)
    db.dispose()
    _out({"hub_id": str(hub.id), "tenant_id": args.tenant, "hub_token": token}, args.json)


def _key_create(args: argparse.Namespace) -> None:
    db = Database(args.database_url)
    with db.session() as s:
        row, token = issue_key(s, uuid.UUID(args.tenant), args.role, name=args.name)
    db.dispose()
    _out({"key_id": str(row.id), "role": args.role, "token": token}, args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arma-cloud", description="ARMA cloud API")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help="sqlite:///file.db or postgresql+psycopg://user@host/db",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (migrates first)")
    serve.add_argument("--database-url", default=argparse.SUPPRESS)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--rate-limit", type=int, default=1200, help="requests/min per key")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-migrate", action="store_true")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="create or upgrade the schema")
    mig.add_argument("--database-url", default=argparse.SUPPRESS)
    mig.set_defaults(func=_migrate)

    tenants = sub.add_parser("tenants").add_subparsers(dest="action", required=True)
    tc = tenants.add_parser("create", help="new tenant and its first admin API key")
    tc.add_argument("name")
    tc.add_argument("--currency", default="TRY")
    tc.add_argument("--timezone", default="Europe/Istanbul")
    tc.add_argument("--json", action="store_true")
    tc.add_argument("--database-url", default=argparse.SUPPRESS)
    tc.set_defaults(func=_tenant_create)

    hubs = sub.add_parser("hubs").add_subparsers(dest="action", required=True)
    hc = hubs.add_parser("create", help="new hub and its credential")
    hc.add_argument("--tenant", required=True)
    hc.add_argument("--name", required=True)
    hc.add_argument("--json", action="store_true")
    hc.add_argument("--database-url", default=argparse.SUPPRESS)
    hc.set_defaults(func=_hub_create)

    keys = sub.add_parser("keys").add_subparsers(dest="action", required=True)
    kc = keys.add_parser("create", help="new API key for a tenant")
    kc.add_argument("--tenant", required=True)
    kc.add_argument("--role", choices=["admin", "operator", "viewer"], required=True)
    kc.add_argument("--name", default="")
    kc.add_argument("--json", action="store_true")
    kc.add_argument("--database-url", default=argparse.SUPPRESS)
    kc.set_defaults(func=_key_create)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
