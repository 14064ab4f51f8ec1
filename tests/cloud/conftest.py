"""Cloud test fixtures: a migrated database (SQLite file or a fresh PostgreSQL database on the
server scripts/test.sh starts) and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI

from cloud_sync.cloud.app import create_app
from cloud_sync.cloud.auth import issue_key
from cloud_sync.cloud.db import Database
from cloud_sync.cloud.migrate import migrate
from cloud_sync.cloud.models import Tenant
from cloud_sync.cloud.settings import CloudSettings

PG_ENV = "ARMA_TEST_PG_URL"


def _pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set: the PostgreSQL variant must run in CI")
        pytest.skip(f"{PG_ENV} not set (run through scripts/test.sh to include PostgreSQL)")
    name = f"arma_{uuid.uuid4().hex[:12]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cloud.db'}"
        migrate(url)
        yield url
        return
    gen = _pg_database(request)
    url = next(gen)
    migrate(url)
    yield url
    gen.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    migrate(url)
    return url


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 in a thread (port 0 unless given)."""

    def __init__(self, app: Any, port: int = 0) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Cloud:
    """A running cloud API plus helpers to create tenants and hubs."""

    db: Database
    app: FastAPI
    server: ServerThread
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(c)
        return c

    def tenant(self, name: str = "Salon Ayşe", **fields: object) -> tuple[uuid.UUID, str]:
        """A tenant and its admin key (as `arma-cloud tenants create` makes them)."""
        with self.db.session() as s:
            t = Tenant(
                id=uuid.uuid4(),
                name=name,
                currency="TRY",
                timezone="Europe/Istanbul",
                opening_hours={},
                settings={},
                **fields,
            )
            s.add(t)
            s.flush()
            _, token = issue_key(s, t.id, "admin")
        return t.id, token

    def hub(self, admin_token: str, name: str = "hub-1") -> tuple[uuid.UUID, str]:
        r = self.client(admin_token).post("/v1/hubs", json={"name": name})
        assert r.status_code == 201, r.text
        body = r.json()
        return uuid.UUID(body["hub"]["id"]), body["token"]

    def key(self, admin_token: str, role: str) -> str:
        r = self.client(admin_token).post("/v1/api-keys", json={"role": role})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def start_cloud(
    db_url: str,
    *,
    rate_limit: int = 0,
    port: int = 0,
    wrap: Callable[[FastAPI], Any] | None = None,
    burst: int = 600,
) -> Cloud:
    """Serve the API on `db_url`; `wrap` may put an ASGI layer around it (tests only)."""
    db = Database(db_url)
    settings = CloudSettings(
        database_url=db_url, rate_limit_per_minute=rate_limit, rate_limit_burst=burst
    )
    app = create_app(settings, db=db)
    served = wrap(app) if wrap else app
    return Cloud(db=db, app=app, server=ServerThread(served, port).start())


def stop_cloud(c: Cloud) -> None:
    for client in c.clients:
        client.close()
    c.server.stop()
    c.db.dispose()


@pytest.fixture
def cloud(db_url: str) -> Iterator[Cloud]:
    c = start_cloud(db_url)
    yield c
    stop_cloud(c)


@pytest.fixture
def sqlite_cloud(sqlite_url: str) -> Iterator[Cloud]:
    c = start_cloud(sqlite_url)
    yield c
    stop_cloud(c)


def assert_per_device_order(db: Database) -> int:
    """Each device's events reached the cloud in `seq` order: sorted by seq, their receipt times
    never go backwards. Returns how many devices were checked."""
    from sqlalchemy import select

    from cloud_sync.cloud.models import EventRow

    with db.session() as s:
        rows = s.execute(select(EventRow.device_id, EventRow.seq, EventRow.received_at)).all()
    by_device: dict[str, list[tuple[int, Any]]] = {}
    for device, seq, received in rows:
        by_device.setdefault(device, []).append((seq, received))
    for device, items in by_device.items():
        times = [received for _, received in sorted(items, key=lambda i: i[0])]
        assert times == sorted(times), f"{device}: events arrived out of order"
    return len(by_device)
