"""kill -9 of the sync agent in the middle of sending, many times, under load: afterwards the
cloud holds every event exactly once, and voice orders became exactly one order each.

How we tried to break it: the agent runs as a real subprocess (`python -m cloud_sync.agent`)
against a real uvicorn server; the server holds every batch answer back for 0.25 s after
committing, so most kills land in the window where the cloud has stored a batch but the agent
has not yet removed it from its outbox (the window a naive agent would lose or duplicate in);
a producer thread keeps enqueueing while the agent is killed; the test checks that window was
really hit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from cloud_sync.cloud.models import DeviceStatusRow, EventRow, Order
from cloud_sync.events import Event
from cloud_sync.outbox import Outbox
from tests.cloud.conftest import assert_per_device_order, start_cloud, stop_cloud
from tests.cloud.factories import event, interaction, order_request, product, status

ROOT = Path(__file__).resolve().parents[2]
KILLS = 8


class SlowAck:
    """ASGI wrapper: delays the start of every ingest response (after the commit)."""

    def __init__(self, app: object, delay: float) -> None:
        self.app, self.delay = app, delay

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        import asyncio

        if scope.get("path") != "/v1/events:batch":
            await self.app(scope, receive, send)  # type: ignore[operator]
            return

        async def delayed_send(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                await asyncio.sleep(self.delay)
            await send(message)  # type: ignore[operator]

        await self.app(scope, receive, delayed_send)  # type: ignore[operator]


def _agent(outbox: Path, url: str, token: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloud_sync.agent",
            "--outbox",
            str(outbox),
            "--url",
            url,
            "--token",
            token,
            "--batch-size",
            "100",
            "--max-backoff",
            "0.5",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _cloud_ids(cloud_db: object) -> set[str]:
    with cloud_db.session() as s:  # type: ignore[attr-defined]
        return {str(i) for i in s.execute(select(EventRow.id)).scalars()}


def test_kill_9_mid_send_loses_and_duplicates_nothing(db_url: str, tmp_path: Path) -> None:
    cloud = start_cloud(db_url, wrap=lambda app: SlowAck(app, 0.25))
    try:
        tenant, admin = cloud.tenant()
        hub, hub_token = cloud.hub(admin)
        krem = product(cloud.client(admin), stock=100_000, price="10.00")
        outbox_path = tmp_path / "outbox.db"
        producer_outbox = Outbox(outbox_path)
        produced: list[Event] = []
        stop = threading.Event()
        rng = random.Random(7)

        producer_errors: list[BaseException] = []
        prng = random.Random(11)

        def produce() -> None:
            seqs: dict[str, int] = {}
            try:
                while not stop.is_set() and len(produced) < 2000:
                    for _ in range(40):
                        device = f"arma-{prng.randint(1, 4)}"
                        seqs[device] = seqs.get(device, 0) + 1
                        payload = prng.choice([interaction(), status(), order_request(krem, 1)])
                        e = event(tenant, hub, payload, device=device, seq=seqs[device])
                        producer_outbox.enqueue(e)  # durable one by one, as the hub does
                        produced.append(e)
                    time.sleep(0.05)
            except BaseException as exc:  # surfaced by the assertion below
                producer_errors.append(exc)
            finally:
                producer_outbox.close()

        backlog = [event(tenant, hub, interaction(), device="arma-0", seq=i) for i in range(800)]
        producer_outbox.enqueue_many(backlog)  # a backlog, so every kill finds a batch in flight
        produced.extend(backlog)
        producer = threading.Thread(target=produce)
        producer.start()
        window_hits = 0
        kills = 0
        checker = Outbox(outbox_path)
        try:
            for _ in range(KILLS):
                before = len(_cloud_ids(cloud.db))
                proc = _agent(outbox_path, cloud.url, hub_token)
                deadline = time.monotonic() + 60
                while len(_cloud_ids(cloud.db)) == before:  # wait until this agent is sending
                    assert time.monotonic() < deadline and proc.poll() is None, "agent idle"
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.4))  # then kill at a random point of a cycle
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                kills += 1
                pending = {p.event_id for p in checker.peek(100_000)}
                if pending & _cloud_ids(cloud.db):
                    window_hits += 1  # killed after the cloud stored, before the outbox forgot
            stop.set()  # the producer ran during every kill; now let the backlog drain
            producer.join(timeout=60)
            assert not producer_errors, producer_errors
            assert not producer.is_alive() and len(produced) >= 400
            final = _agent(outbox_path, cloud.url, hub_token)
            deadline = time.monotonic() + 90
            while len(checker) and time.monotonic() < deadline:
                time.sleep(0.2)
            final.send_signal(signal.SIGKILL)
            final.wait(timeout=10)
        finally:
            stop.set()
            producer.join(timeout=60)
        assert len(checker) == 0, f"backlog did not drain: {checker.stats()}"
        print(
            f"kills that hit the window between cloud commit and outbox removal: "
            f"{window_hits}/{KILLS}; events {len(produced)}"
        )
        assert kills == KILLS and window_hits >= KILLS // 2, (
            f"only {window_hits} of {KILLS} kills hit the ack window"
        )

        expected = {str(e.id) for e in produced}
        with cloud.db.session() as s:
            stored = list(s.execute(select(EventRow.id)).scalars())
            orders = s.execute(select(func.count()).select_from(Order)).scalar_one()
            order_events = set(s.execute(select(Order.event_id)).scalars())
            status_rows = s.execute(select(func.count()).select_from(DeviceStatusRow)).scalar_one()
        got = {str(i) for i in stored}
        assert len(stored) == len(expected) and got == expected, (
            f"stored {len(stored)}, produced {len(expected)}, missing {len(expected - got)}, "
            f"unexpected {len(got - expected)}, kills in the window {window_hits}"
        )
        assert assert_per_device_order(cloud.db) == 5
        n_orders = sum(e.type == "order.requested" for e in produced)
        assert orders == n_orders and len(order_events) == n_orders
        assert status_rows == sum(e.type == "device.status" for e in produced)
        checker.close()
    finally:
        stop_cloud(cloud)


def test_uuid_of_outbox_rows_match_events(tmp_path: Path) -> None:
    """The outbox keys rows by the event id the cloud deduplicates on."""
    box = Outbox(tmp_path / "o.db")
    e = event(uuid.uuid4(), uuid.uuid4(), interaction())
    box.enqueue(e)
    box.enqueue(e)  # the hub retrying its own enqueue must not double it
    assert [p.event_id for p in box.peek(10)] == [str(e.id)]
    assert Event.from_json(box.peek(1)[0].body) == e
