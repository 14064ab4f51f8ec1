"""Cloud ingest and hub outbox throughput.

Prints, for each database (SQLite file; PostgreSQL when --pg-url or ARMA_TEST_PG_URL is given):
  * events/s ingested over HTTP in gzip batches of 500 (new events, mixed types),
  * events/s for re-sending the same batches (all duplicates),
and for the hub side:
  * durable enqueue rate (one event per transaction, synchronous=FULL) and batched enqueue,
  * drain rate: the sync agent emptying a full outbox into the SQLite cloud.

The cloud runs as a real `arma-cloud serve` subprocess on a free port.

    .venv/bin/python benchmarks/cloud_ingest.py [--events 10000] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from cloud_sync.agent import SyncAgent
from cloud_sync.events import DeviceStatus, Event, InteractionCompleted
from cloud_sync.outbox import Outbox

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "cloud_sync.cloud.cli"]
BATCH = 500


def _cli(url: str, *args: str) -> dict[str, str]:
    out = subprocess.run(
        [*CLI, "--database-url", url, *args, "--json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


class Server:
    def __init__(self, url: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [
                *CLI,
                "--database-url",
                url,
                "serve",
                "--port",
                str(self.port),
                "--rate-limit",
                "0",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _events(tenant: str, hub: str, n: int) -> list[Event]:
    out = []
    for i in range(n):
        device = f"arma-{i % 8}"
        data = (
            InteractionCompleted(
                session_id=f"s{i}",
                intent="order.product",
                confidence=0.9,
                duration_ms=1500,
                transcript="iki krem lütfen",
            )
            if i % 4
            else DeviceStatus(online=True, battery_pct=80, uptime_s=i)
        )
        out.append(Event.create(tenant_id=tenant, hub_id=hub, device_id=device, seq=i, data=data))
    return out


def _bodies(events: list[Event]) -> list[bytes]:
    return [
        gzip.compress(
            ('{"events":[' + ",".join(e.to_json() for e in events[i : i + BATCH]) + "]}").encode(),
            5,
        )
        for i in range(0, len(events), BATCH)
    ]


def bench_ingest(label: str, url: str, n: int) -> dict[str, float]:
    tenant = _cli(url, "tenants", "create", f"bench {label}")
    hub = _cli(url, "hubs", "create", "--tenant", tenant["tenant_id"], "--name", "bench")
    server = Server(url)
    try:
        bodies = _bodies(_events(tenant["tenant_id"], hub["hub_id"], n))
        headers = {
            "Authorization": f"Bearer {hub['hub_token']}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        }
        result = {}
        with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
            for phase, expect in (("new", "accepted"), ("duplicate", "duplicates")):
                started = time.perf_counter()
                for body in bodies:
                    answer = client.post("/v1/events:batch", content=body)
                    answer.raise_for_status()
                    assert len(answer.json()[expect]) == min(BATCH, n)
                result[phase] = n / (time.perf_counter() - started)
        return result
    finally:
        server.stop()


def bench_outbox(workdir: Path, n: int) -> dict[str, float]:
    tenant, hub = uuid.uuid4(), uuid.uuid4()
    events = _events(str(tenant), str(hub), n)
    single = Outbox(workdir / "single.db")
    started = time.perf_counter()
    for e in events:
        single.enqueue(e)
    one_by_one = n / (time.perf_counter() - started)
    batched = Outbox(workdir / "batched.db")
    started = time.perf_counter()
    for i in range(0, n, 100):
        batched.enqueue_many(events[i : i + 100])
    return {"enqueue": one_by_one, "enqueue_many_100": n / (time.perf_counter() - started)}


def bench_drain(workdir: Path, n: int) -> float:
    url = f"sqlite:///{workdir / 'drain-cloud.db'}"
    tenant = _cli(url, "tenants", "create", "drain")
    hub = _cli(url, "hubs", "create", "--tenant", tenant["tenant_id"], "--name", "drain")
    outbox = Outbox(workdir / "drain-outbox.db")
    outbox.enqueue_many(_events(tenant["tenant_id"], hub["hub_id"], n))
    server = Server(url)

    async def drain() -> float:
        agent = SyncAgent(outbox, server.base, hub["hub_token"], poll_interval=0.01)
        started = time.perf_counter()
        async with agent, asyncio.timeout(600):
            while await asyncio.to_thread(len, outbox):  # noqa: ASYNC110 (polls the file)
                await asyncio.sleep(0.01)
        return n / (time.perf_counter() - started)

    try:
        return asyncio.run(drain())
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--pg-url", default=os.environ.get("ARMA_TEST_PG_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arma-bench-") as tmp:
        workdir = Path(tmp)
        print(
            f"cloud ingest over HTTP, gzip batches of {BATCH}, {args.events} events, "
            f"{os.cpu_count()} CPUs"
        )
        rates = {"sqlite": bench_ingest("sqlite", f"sqlite:///{workdir / 'cloud.db'}", args.events)}
        if args.pg_url:
            rates["postgresql"] = bench_ingest("postgresql", args.pg_url, args.events)
        else:
            print("  postgresql: skipped (no --pg-url / ARMA_TEST_PG_URL)")
        for db, r in rates.items():
            print(
                f"  {db:<11} new: {r['new']:>8.0f} events/s   "
                f"re-sent duplicates: {r['duplicate']:>8.0f} events/s"
            )
        if "postgresql" in rates:
            ratio = rates["postgresql"]["new"] / rates["sqlite"]["new"]
            print(f"  ratio postgresql/sqlite (new): {ratio:.2f}")
        n_outbox = min(args.events, 5000)
        o = bench_outbox(workdir, n_outbox)
        print(f"hub outbox, {n_outbox} events")
        print(f"  durable enqueue, one per transaction: {o['enqueue']:>8.0f} events/s")
        print(
            f"  enqueue_many, 100 per transaction:    {o['enqueue_many_100']:>8.0f} events/s "
            f"(x{o['enqueue_many_100'] / o['enqueue']:.1f})"
        )
        drain = bench_drain(workdir, args.events)
        print(f"  drain by the sync agent into the SQLite cloud: {drain:>8.0f} events/s")


if __name__ == "__main__":
    main()
