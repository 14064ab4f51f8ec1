"""The hub's sync agent: drains the outbox to the cloud and pulls the sync document.

    async with SyncAgent(outbox, "https://cloud.example", hub_token, hub_id=...) as agent:
        ...            # runs in the background until the block exits
    # or: await SyncAgent(...).run()   (runs until cancelled)

Sending: the oldest live events (up to `batch_size`, at most `max_batch_bytes` of JSON) go as
one gzip-compressed `POST /v1/events:batch`, one batch at a time, in outbox order, so each
device's events arrive in sequence. Events leave the outbox only when the cloud lists them as
accepted or duplicate; refused ones are parked (never deleted). Network errors and 5xx back off
exponentially with full jitter, capped at `max_backoff`; 429/503 honour `Retry-After`.

Sync down: `GET /v1/hubs/{hub_id}/sync` every `sync_interval` and on `request_sync()`, with
`If-None-Match`; the last good document is written atomically to `sync_cache` and loaded from
there at start, so the hub works offline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cloud_sync.outbox import Outbox

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 600.0  # a server asking for longer is capped: we still want to try

SyncCallback = Callable[[dict[str, Any]], Awaitable[None]]


class AgentMetrics:
    """Prometheus metrics of one agent, in its own registry (the hub may expose it)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.depth = Gauge("arma_outbox_depth", "Events waiting in the outbox", registry=r)
        self.oldest_age = Gauge(
            "arma_outbox_oldest_age_seconds", "Age of the oldest waiting event", registry=r
        )
        self.dead = Gauge("arma_outbox_dead", "Events the cloud refused for good", registry=r)
        self.dropped = Gauge("arma_outbox_dropped", "Telemetry dropped by the size cap", registry=r)
        self.sent = Counter("arma_sync_events_sent", "Events the cloud answered for", registry=r)
        self.errors = Counter("arma_sync_errors", "Failed batch sends", ["reason"], registry=r)
        self.batch_seconds = Histogram(
            "arma_sync_batch_seconds", "Round trip of one batch", registry=r
        )
        self.sync_pulls = Counter(
            "arma_sync_doc_pulls", "Sync document pulls", ["result"], registry=r
        )


class SyncAgent:
    """Owns the HTTP client and its two loops (send, sync) in one TaskGroup."""

    def __init__(
        self,
        outbox: Outbox,
        base_url: str,
        hub_token: str,
        *,
        hub_id: str | None = None,
        batch_size: int = 500,
        max_batch_bytes: int = 4_000_000,
        poll_interval: float = 0.5,
        base_backoff: float = 0.5,
        max_backoff: float = 30.0,
        request_timeout: float = 30.0,
        sync_interval: float = 300.0,
        sync_cache: str | Path | None = None,
        on_sync: SyncCallback | None = None,
        metrics: AgentMetrics | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be within 1..1000 (the cloud's limit)")
        self.outbox = outbox
        self.base_url = base_url.rstrip("/")
        self.hub_id = hub_id
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.poll_interval = poll_interval
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.sync_interval = sync_interval
        self.sync_cache = Path(sync_cache) if sync_cache else None
        self.on_sync = on_sync
        self.metrics = metrics or AgentMetrics()
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {hub_token}"},
            timeout=request_timeout,
            transport=transport,
        )
        self._wake = asyncio.Event()
        self._sync_now = asyncio.Event()
        self._failures = 0
        self._etag: str | None = None
        self.sync_document: dict[str, Any] | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._runner: asyncio.Task[None] | None = None
        self._load_cache()

    # -- lifecycle
    async def __aenter__(self) -> Self:
        self._runner = asyncio.create_task(self.run(), name="sync-agent")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await self._client.aclose()

    async def run(self) -> None:
        """Send and sync until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._send_loop(), name="sync-send")
            if self.hub_id is not None:
                tg.create_task(self._sync_loop(), name="sync-pull")

    def notify(self) -> None:
        """Tell the agent new events are waiting (otherwise it polls every poll_interval)."""
        self._wake.set()

    def request_sync(self) -> None:
        """Pull the sync document now."""
        self._sync_now.set()

    # -- sending
    async def _send_loop(self) -> None:
        while True:
            delay = await self.send_once()
            if delay is None:
                continue  # more to send right away
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def send_once(self) -> float | None:
        """Send one batch. Returns None to go on at once, else seconds to wait."""
        pending = await asyncio.to_thread(self.outbox.peek, self.batch_size)
        await self._update_gauges()
        if not pending:
            return self.poll_interval
        bodies: list[str] = []
        size = 2
        for item in pending:
            size += len(item.body) + 1
            if bodies and size > self.max_batch_bytes:
                break
            bodies.append(item.body)
        raw = ('{"events":[' + ",".join(bodies) + "]}").encode()
        payload = await asyncio.to_thread(gzip.compress, raw, 5)
        started = time.monotonic()
        try:
            response = await self._client.post(
                "/v1/events:batch",
                content=payload,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            return self._failed(type(exc).__name__, None)
        self.metrics.batch_seconds.observe(time.monotonic() - started)
        if response.status_code == 200:
            return await self._settle(response.json(), len(bodies))
        if response.status_code == 413 and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)
            log.warning("cloud said batch too large; batch size now %d", self.batch_size)
            return None
        return self._failed(str(response.status_code), response.headers.get("Retry-After"))

    async def _settle(self, answer: dict[str, Any], sent: int) -> float | None:
        done = [*answer.get("accepted", []), *answer.get("duplicates", [])]
        refused = {r["id"]: r.get("code", "refused") for r in answer.get("rejected", [])}
        await asyncio.to_thread(self.outbox.remove, done)
        if refused:
            await asyncio.to_thread(self.outbox.mark_dead, refused)
        self.metrics.sent.inc(len(done))
        self._failures = 0
        await self._update_gauges()
        if len(done) + len(refused) < sent:
            log.warning("cloud answered for %d of %d events", len(done) + len(refused), sent)
        return None

    def _failed(self, reason: str, retry_after: str | None) -> float:
        self.metrics.errors.labels(reason=reason).inc()
        self._failures += 1
        delay = random.uniform(0, min(self.max_backoff, self.base_backoff * 2**self._failures))
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        log.warning("batch send failed (%s); retrying in %.2fs", reason, delay)
        return delay

    async def _update_gauges(self) -> None:
        stats = await asyncio.to_thread(self.outbox.stats)
        self.metrics.depth.set(stats.depth)
        self.metrics.dead.set(stats.dead)
        self.metrics.dropped.set(stats.dropped)
        age = time.time() - stats.oldest_enqueued_at if stats.oldest_enqueued_at else 0.0
        self.metrics.oldest_age.set(max(0.0, age))

    # -- sync document
    async def _sync_loop(self) -> None:
        while True:
            try:
                await self.pull_sync()
            except Exception:  # the catalog pull must never take event sending down with it
                self.metrics.sync_pulls.labels(result="error").inc()
                log.exception("sync pull failed; keeping the cached copy")
            self._sync_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.sync_interval):
                    await self._sync_now.wait()

    async def pull_sync(self) -> bool:
        """Fetch the sync document; True when a new copy arrived."""
        headers = {"If-None-Match": self._etag} if self._etag else {}
        try:
            response = await self._client.get(f"/v1/hubs/{self.hub_id}/sync", headers=headers)
        except httpx.HTTPError as exc:
            self.metrics.sync_pulls.labels(result="error").inc()
            log.warning("sync pull failed (%s); keeping the cached copy", type(exc).__name__)
            return False
        if response.status_code == 304:
            self.metrics.sync_pulls.labels(result="unchanged").inc()
            return False
        if response.status_code != 200:
            self.metrics.sync_pulls.labels(result=str(response.status_code)).inc()
            log.warning("sync pull answered %d; keeping the cached copy", response.status_code)
            return False
        document = response.json()
        self._etag = response.headers.get("ETag")
        self.sync_document = document
        self.metrics.sync_pulls.labels(result="new").inc()
        if self.sync_cache is not None:
            await asyncio.to_thread(self._write_cache, {"etag": self._etag, "document": document})
        if self.on_sync is not None:
            await self.on_sync(document)
        return True

    def _write_cache(self, content: dict[str, Any]) -> None:
        assert self.sync_cache is not None
        # a name of its own per write: two pulls racing must not rename each other's file
        tmp = self.sync_cache.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(content, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.sync_cache)

    def _load_cache(self) -> None:
        if self.sync_cache is None or not self.sync_cache.exists():
            return
        try:
            content = json.loads(self.sync_cache.read_text(encoding="utf-8"))
            self.sync_document, self._etag = content["document"], content["etag"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable sync cache %s: %s", self.sync_cache, exc)


def main(argv: list[str] | None = None) -> None:
    """`python -m cloud_sync.agent`: run an agent on an outbox file until killed."""
    parser = argparse.ArgumentParser(description="ARMA hub sync agent")
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default=os.environ.get("ARMA_HUB_TOKEN", ""))
    parser.add_argument("--hub-id")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--max-backoff", type=float, default=30.0)
    parser.add_argument("--sync-cache")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def _run() -> None:
        agent = SyncAgent(
            Outbox(args.outbox),
            args.url,
            args.token,
            hub_id=args.hub_id,
            batch_size=args.batch_size,
            max_backoff=args.max_backoff,
            sync_cache=args.sync_cache,
        )
        async with agent:
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run())


if __name__ == "__main__":
    main()
