"""The hub's durable outbox: a SQLite (WAL) queue of events waiting for the cloud.

`Outbox.enqueue(event)` returns only after the event is on disk (`synchronous=FULL`), so the
hub may acknowledge it to a device or a customer right after. Events leave the outbox only
when the cloud has answered for them (`remove`), so a crash at any point loses nothing; the
cloud stores each id once, so re-sending after a crash is harmless.

Size cap policy (`max_events`): when the outbox is full, the oldest telemetry
(`device.status`) is dropped to make room, one event per new event, and counted in
`dropped`; orders, appointments, interactions and reports are never dropped: if no telemetry is
left to drop, `enqueue` raises `OutboxFull` and the caller must not acknowledge the event.

All methods are blocking (SQLite); call them from coroutines through `asyncio.to_thread`
(or the `aenqueue` helper). One connection per thread; safe to share between threads and
between processes on the same file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cloud_sync.events import TELEMETRY_TYPES, Event

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    pos         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL UNIQUE,
    device_id   TEXT NOT NULL,
    type        TEXT NOT NULL,
    body        TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    dead        TEXT
);
CREATE INDEX IF NOT EXISTS outbox_live ON outbox (dead, pos);
CREATE INDEX IF NOT EXISTS outbox_type ON outbox (type, pos);
"""


class OutboxFull(Exception):
    """The outbox holds `max_events` events and none of them may be dropped."""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    pos: int
    event_id: str
    device_id: str
    type: str
    body: str
    enqueued_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    dead: int
    oldest_enqueued_at: float | None
    dropped: int


class Outbox:
    """Durable FIFO of events; see the module docstring for the guarantees."""

    def __init__(self, path: str | Path, *, max_events: int = 200_000) -> None:
        if max_events < 1:
            raise ValueError("max_events must be positive")
        self.path = Path(path)
        self.max_events = max_events
        self._local = threading.local()
        self._dropped = 0
        self._dropped_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._tx() as con:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)

    # -- connection handling
    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")  # durable on commit, not only on checkpoint
            self._local.con = con
        return con

    class _Tx:
        def __init__(self, con: sqlite3.Connection) -> None:
            self.con = con

        def __enter__(self) -> sqlite3.Connection:
            self.con.execute("BEGIN IMMEDIATE")
            return self.con

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.con.execute("ROLLBACK" if exc_type else "COMMIT")

    def _tx(self) -> Outbox._Tx:
        return Outbox._Tx(self._con())

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- writing
    def enqueue(self, event: Event) -> None:
        """Store one event durably; returns once it is committed to disk."""
        self.enqueue_many([event])

    def enqueue_many(self, events: Iterable[Event]) -> None:
        """Store events durably in one transaction (all or none)."""
        rows = [(str(e.id), e.device_id, e.type, e.to_json(), time.time()) for e in events]
        if not rows:
            return
        with self._tx() as con:
            depth = con.execute("SELECT count(*) FROM outbox WHERE dead IS NULL").fetchone()[0]
            overflow = depth + len(rows) - self.max_events
            if overflow > 0:
                self._make_room(con, overflow)
            con.executemany(
                "INSERT OR IGNORE INTO outbox (event_id, device_id, type, body, enqueued_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def _make_room(self, con: sqlite3.Connection, needed: int) -> None:
        marks = ",".join("?" * len(TELEMETRY_TYPES))
        victims = con.execute(
            f"SELECT pos FROM outbox WHERE dead IS NULL AND type IN ({marks}) ORDER BY pos LIMIT ?",
            (*sorted(TELEMETRY_TYPES), needed),
        ).fetchall()
        if len(victims) < needed:
            raise OutboxFull(
                f"outbox holds {self.max_events} events and only {len(victims)} may be dropped"
            )
        con.executemany("DELETE FROM outbox WHERE pos = ?", victims)
        with self._dropped_lock:
            self._dropped += len(victims)
        log.warning("outbox full: dropped %d oldest telemetry event(s)", len(victims))

    async def aenqueue(self, event: Event) -> None:
        """`enqueue` from a coroutine, off the event loop."""
        await asyncio.to_thread(self.enqueue, event)

    # -- reading and settling
    def peek(self, limit: int) -> list[PendingEvent]:
        """The oldest live events, in enqueue order (which keeps each device's order)."""
        rows = (
            self._con()
            .execute(
                "SELECT pos, event_id, device_id, type, body, enqueued_at, attempts FROM outbox"
                " WHERE dead IS NULL ORDER BY pos LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [PendingEvent(*row) for row in rows]

    def remove(self, event_ids: Iterable[str]) -> int:
        """Forget events the cloud has answered for; returns how many were removed."""
        ids = [(i,) for i in event_ids]
        if not ids:
            return 0
        with self._tx() as con:
            before = con.total_changes
            con.executemany("DELETE FROM outbox WHERE event_id = ?", ids)
            return con.total_changes - before

    def mark_attempt(self, event_ids: Iterable[str]) -> None:
        ids = [(i,) for i in event_ids]
        with self._tx() as con:
            con.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE event_id = ?", ids)

    def mark_dead(self, reasons: dict[str, str]) -> None:
        """Park events the cloud refused for good; they stay on disk for an operator."""
        with self._tx() as con:
            con.executemany(
                "UPDATE outbox SET dead = ? WHERE event_id = ?",
                [(reason or "refused", event_id) for event_id, reason in reasons.items()],
            )
        log.error("cloud refused %d event(s) for good: %s", len(reasons), reasons)

    def stats(self) -> OutboxStats:
        con = self._con()
        depth, oldest = con.execute(
            "SELECT count(*), min(enqueued_at) FROM outbox WHERE dead IS NULL"
        ).fetchone()
        dead = con.execute("SELECT count(*) FROM outbox WHERE dead IS NOT NULL").fetchone()[0]
        return OutboxStats(depth=depth, dead=dead, oldest_enqueued_at=oldest, dropped=self._dropped)

    def __len__(self) -> int:
        return self.stats().depth
