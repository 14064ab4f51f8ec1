"""The sync agent in process against a real server: outages, Retry-After, the sync document.

How we tried to break it: the cloud is down when events start flowing, comes up, goes down
again mid-stream and comes back on the same port; the rate limiter answers 429 with
Retry-After; the sync document changes, stays the same (304) and is needed while offline."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

from prometheus_client import generate_latest
from sqlalchemy import select

from cloud_sync.agent import SyncAgent
from cloud_sync.cloud.models import EventRow
from cloud_sync.outbox import Outbox
from tests.cloud.conftest import Cloud, assert_per_device_order, start_cloud, stop_cloud
from tests.cloud.factories import event, interaction, product, status


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _drained(outbox: Outbox, limit_s: float) -> None:
    async with asyncio.timeout(limit_s):
        while await asyncio.to_thread(len, outbox):
            await asyncio.sleep(0.1)


def _stored(cloud: Cloud) -> list[str]:
    with cloud.db.session() as s:
        return [str(i) for i in s.execute(select(EventRow.id)).scalars()]


async def test_cloud_outage_loses_nothing_and_backlog_drains(db_url: str, tmp_path: Path) -> None:
    port = _free_port()
    seed = start_cloud(db_url)  # only to make the tenant and hub credential
    tenant, admin = seed.tenant()
    hub, token = seed.hub(admin)
    stop_cloud(seed)
    outbox = Outbox(tmp_path / "outbox.db")
    agent = SyncAgent(
        outbox,
        f"http://127.0.0.1:{port}",
        token,
        batch_size=50,
        base_backoff=0.05,
        max_backoff=0.3,
        poll_interval=0.05,
    )
    produced = []
    async with asyncio.timeout(120), agent:
        for i in range(300):  # cloud down: everything waits in the outbox
            e = event(tenant, hub, interaction() if i % 2 else status(), device=f"d{i % 3}", seq=i)
            await outbox.aenqueue(e)
            produced.append(e)
        await asyncio.sleep(0.8)
        assert len(outbox) == 300
        assert agent.metrics.errors.labels(reason="ConnectError")._value.get() >= 2
        cloud = await asyncio.to_thread(start_cloud, db_url, port=port)
        await _drained(outbox, 30)
        await asyncio.to_thread(cloud.server.stop)  # down again, events keep flowing
        for i in range(300, 500):
            e = event(tenant, hub, interaction(), device="d9", seq=i)
            await outbox.aenqueue(e)
            produced.append(e)
        await asyncio.sleep(0.5)
        assert len(outbox) == 200
        cloud2 = await asyncio.to_thread(start_cloud, db_url, port=port)
        await _drained(outbox, 30)
    stored = _stored(cloud2)
    assert sorted(stored) == sorted(str(e.id) for e in produced)
    assert assert_per_device_order(cloud2.db) == 4
    exposition = generate_latest(agent.metrics.registry).decode()
    # the gauges are refreshed once per send cycle, so only their presence is certain here
    assert "arma_outbox_depth " in exposition and "arma_outbox_oldest_age_seconds " in exposition
    sent = agent.metrics.sent._value.get()
    assert f"arma_sync_events_sent_total {sent}" in exposition and sent >= 500
    assert 'arma_sync_errors_total{reason="ConnectError"}' in exposition
    stop_cloud(cloud2)
    cloud.db.dispose()


async def test_retry_after_is_honoured(sqlite_url: str, tmp_path: Path) -> None:
    cloud = await asyncio.to_thread(start_cloud, sqlite_url, rate_limit=60, burst=1)
    try:
        tenant, _ = cloud.tenant()
        with cloud.db.session() as s:
            from cloud_sync.cloud.routers.hubs import create_hub_with_key

            hub_row, token = create_hub_with_key(s, tenant, "hub")
        outbox = Outbox(tmp_path / "o.db")
        agent = SyncAgent(outbox, cloud.url, token, base_backoff=0.01, max_backoff=0.05)
        async with asyncio.timeout(20):
            await outbox.aenqueue(event(tenant, hub_row.id, interaction()))
            assert await agent.send_once() is None  # sent
            await outbox.aenqueue(event(tenant, hub_row.id, interaction()))
            delay = await agent.send_once()  # bucket empty: 429, Retry-After: 1
            assert delay is not None and delay >= 1.0  # not the 0.05 s backoff cap
            assert agent.metrics.errors.labels(reason="429")._value.get() == 1
            assert len(outbox) == 1
            await asyncio.sleep(delay)
            assert await agent.send_once() is None
            assert len(outbox) == 0
            await agent.__aexit__(None, None, None)
    finally:
        stop_cloud(cloud)


async def test_sync_document_etag_and_offline_cache(sqlite_cloud: Cloud, tmp_path: Path) -> None:
    cloud = sqlite_cloud
    _, admin = cloud.tenant()
    hub, token = cloud.hub(admin)
    await asyncio.to_thread(product, cloud.client(admin), name="Şampuan")
    cache = tmp_path / "sync.json"
    seen: list[dict[str, object]] = []

    async def on_sync(doc: dict[str, object]) -> None:
        seen.append(doc)

    agent = SyncAgent(
        Outbox(tmp_path / "o.db"),
        cloud.url,
        token,
        hub_id=str(hub),
        sync_cache=cache,
        on_sync=on_sync,
    )
    async with asyncio.timeout(20):
        assert await agent.pull_sync() is True
        assert [o["name"] for o in agent.sync_document["offerings"]] == ["Şampuan"]  # type: ignore[index]
        assert await agent.pull_sync() is False  # 304
        assert agent.metrics.sync_pulls.labels(result="unchanged")._value.get() == 1
        await asyncio.to_thread(product, cloud.client(admin), name="Krem")
        assert await agent.pull_sync() is True
        assert len(seen) == 2 and len(seen[1]["offerings"]) == 2  # type: ignore[arg-type]
        await agent.__aexit__(None, None, None)
        # another hub's credential cannot read this hub's document
        _, other_token = cloud.hub(admin, "hub-2")
        r = cloud.client(other_token).get(f"/v1/hubs/{hub}/sync")
        assert r.status_code == 404
        # offline: a new agent pointing nowhere starts from the cached copy
        offline = SyncAgent(
            Outbox(tmp_path / "o2.db"),
            f"http://127.0.0.1:{_free_port()}",
            token,
            hub_id=str(hub),
            sync_cache=cache,
        )
        assert offline.sync_document == seen[1]
        assert await offline.pull_sync() is False
        assert offline.sync_document == seen[1]
        await offline.__aexit__(None, None, None)


async def test_refused_events_are_parked_not_deleted(sqlite_cloud: Cloud, tmp_path: Path) -> None:
    cloud = sqlite_cloud
    tenant, admin = cloud.tenant()
    hub, token = cloud.hub(admin)
    outbox = Outbox(tmp_path / "o.db")
    good = event(tenant, hub, interaction())
    foreign = event(tenant, uuid.uuid4(), interaction())  # names a hub this token is not
    outbox.enqueue_many([good, foreign])
    agent = SyncAgent(outbox, cloud.url, token)
    async with asyncio.timeout(20):
        assert await agent.send_once() is None
        await agent.__aexit__(None, None, None)
    stats = outbox.stats()
    assert (stats.depth, stats.dead) == (0, 1)
    assert _stored(cloud) == [str(good.id)]
