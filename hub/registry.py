"""Device registry: live state of every provisioned device, persisted crash-safely in TinyDB.

Policy: the in-memory table is the runtime truth; the file is a coalesced snapshot. Telemetry
only marks a device dirty and is written at most every `flush_interval_s`; an availability
change (online/offline), a device added or removed wakes the flusher at once. A flush writes
all dirty records and a generation number in one atomic file replacement (`hub.storage`), in a
worker thread, so the event loop never blocks on disk. After a crash at most the last interval
of telemetry is lost; availability is rebuilt from the broker's retained statuses anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.table import Document

from hub import wire
from hub.messages import DeviceEvent, DeviceStatus, Telemetry
from hub.storage import AtomicJSONStorage, StorageCorrupt, remove_stale_temps

log = logging.getLogger(__name__)

DEVICES = "devices"
META = "meta"


class RecordInvalid(ValueError):
    """A stored record does not have the registry's shape."""


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device as the hub knows it. Times are UTC epoch seconds."""

    device_id: str
    online: bool = False
    state: str = "unknown"
    fw: str | None = None
    battery: float | None = None
    rssi: int | None = None
    uptime: float | None = None
    heap: int | None = None
    charging: bool | None = None
    last_seen: float | None = None
    state_since: float | None = None
    events: int = 0
    last_event: str | None = None

    def __post_init__(self) -> None:
        wire.check_id(self.device_id)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: object) -> DeviceRecord:
        if not isinstance(data, dict):
            raise RecordInvalid("record is not an object")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(fields)
        if unknown:
            raise RecordInvalid(f"unknown fields {sorted(unknown)}")
        checks: dict[str, tuple[type, ...]] = {
            "device_id": (str,), "online": (bool,), "state": (str,), "fw": (str,),
            "battery": (int, float), "rssi": (int,), "uptime": (int, float), "heap": (int,),
            "charging": (bool,), "last_seen": (int, float), "state_since": (int, float),
            "events": (int,), "last_event": (str,),
        }  # fmt: skip
        for name, value in data.items():
            if value is None and name not in ("device_id", "online", "state", "events"):
                continue
            if not isinstance(value, checks[name]) or (
                isinstance(value, bool) and bool not in checks[name]
            ):
                raise RecordInvalid(f"{name}: bad type {type(value).__name__}")
        try:
            return cls(**data)
        except (TypeError, wire.ProtocolError) as exc:
            raise RecordInvalid(str(exc)) from exc


Applied = DeviceStatus | Telemetry | DeviceEvent
Listener = Callable[[Applied], None]


class Registry:
    """In-memory device table + coalesced crash-safe snapshots. Only the flusher thread touches
    TinyDB; everything else runs on the event loop."""

    def __init__(self, path: Path, flush_interval_s: float = 0.5) -> None:
        self.path = path
        self.flush_interval_s = flush_interval_s
        self._base: dict[str, DeviceRecord] = {}
        # newest telemetry not yet folded into _base: the hot path only stores the message
        self._telemetry: dict[str, Telemetry] = {}
        self._doc_ids: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._removed: set[str] = set()
        self._urgent = asyncio.Event()
        self._db: TinyDB | None = None
        self._listeners: list[Listener] = []
        self.generation = 0
        self.flushes = 0
        self._next_doc_id = 0
        self._write_lock = threading.Lock()

    # -- opening and flushing (blocking: call from a thread or before the loop runs) -------------
    def open(self) -> None:
        remove_stale_temps(self.path)
        try:
            db = self._open_db()
            loaded = self._load(db)
        except (StorageCorrupt, RecordInvalid) as exc:
            quarantine = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.replace(quarantine)
            log.error(
                "registry %s unreadable (%s); moved to %s, starting empty",
                self.path,
                exc,
                quarantine,
            )
            db = self._open_db()
            loaded = {}
        self._db = db
        for doc_id, record in loaded.items():
            self._base[record.device_id] = record
            self._doc_ids[record.device_id] = doc_id
        self._next_doc_id = max(self._doc_ids.values(), default=0)

    def _open_db(self) -> TinyDB:
        storage: Any = CachingMiddleware(AtomicJSONStorage)  # type: ignore[no-untyped-call]
        storage.WRITE_CACHE_SIZE = 1 << 62  # only our flush() writes
        return TinyDB(self.path, storage=storage)

    def _load(self, db: TinyDB) -> dict[int, DeviceRecord]:
        meta = db.table(META).get(doc_id=1)
        if isinstance(meta, dict):
            generation = meta.get("generation", 0)
            self.generation = generation if isinstance(generation, int) else 0
        return {doc.doc_id: DeviceRecord.from_json(dict(doc)) for doc in db.table(DEVICES).all()}

    def _write(
        self, dirty: list[tuple[int, DeviceRecord]], removed: list[int], generation: int
    ) -> None:
        # a flush cancelled on the loop side keeps running in its thread; close() must wait
        with self._write_lock:
            self._write_locked(dirty, removed, generation)

    def _write_locked(
        self, dirty: list[tuple[int, DeviceRecord]], removed: list[int], generation: int
    ) -> None:
        db = self._db
        if db is None:
            raise RuntimeError("registry not open")
        table = db.table(DEVICES)
        if removed:
            table.remove(doc_ids=removed)
        for doc_id, record in dirty:
            table.upsert(Document(record.to_json(), doc_id=doc_id))
        db.table(META).upsert(
            Document({"generation": generation, "written_at": time.time()}, doc_id=1)
        )
        storage: Any = db.storage
        storage.flush()

    def flush_now(self) -> bool:
        """Write dirty state synchronously; True when something was written."""
        job = self._take_dirty()
        if job is None:
            return False
        self._write(*job)
        self.flushes += 1
        return True

    def _take_dirty(self) -> tuple[list[tuple[int, DeviceRecord]], list[int], int] | None:
        if not self._dirty and not self._removed:
            return None
        for device_id in self._dirty:
            if device_id in self._base:
                self._base[device_id] = self._materialise(device_id)
                self._telemetry.pop(device_id, None)
        dirty = [(self._doc_ids[d], self._base[d]) for d in self._dirty if d in self._base]
        removed = [self._doc_ids.pop(d) for d in self._removed if d in self._doc_ids]
        self._dirty.clear()
        self._removed.clear()
        self.generation += 1
        return dirty, removed, self.generation

    async def run_flusher(self, on_flush: Callable[[], None] | None = None) -> None:
        """Runs until cancelled; a final synchronous flush belongs in `close()`."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._urgent.wait(), self.flush_interval_s)
            self._urgent.clear()
            job = self._take_dirty()
            if job is not None:
                await asyncio.to_thread(self._write, *job)
                self.flushes += 1
                if on_flush is not None:
                    on_flush()

    def close(self) -> None:
        if self._db is not None:
            self.flush_now()
            with self._write_lock:
                self._db.close()
                self._db = None

    # -- provisioning -------------------------------------------------------------------------
    def set_known(self, device_ids: Iterable[str]) -> None:
        """Make the table match the provisioned devices: add new ones, drop revoked ones."""
        wanted = set(device_ids)
        for device_id in wanted - self._base.keys():
            self._base[device_id] = DeviceRecord(device_id)
            self._next_doc_id += 1
            self._doc_ids[device_id] = self._next_doc_id
            self._dirty.add(device_id)
        for device_id in self._base.keys() - wanted:
            del self._base[device_id]
            self._telemetry.pop(device_id, None)
            self._dirty.discard(device_id)
            self._removed.add(device_id)
        if self._dirty or self._removed:
            self._urgent.set()

    def is_known(self, device_id: str) -> bool:
        return device_id in self._base

    # -- updates from devices -------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _store(self, record: DeviceRecord, urgent: bool, cause: Applied | None) -> None:
        self._base[record.device_id] = record
        self._dirty.add(record.device_id)
        if urgent:
            self._urgent.set()
        if cause is not None:
            for listener in self._listeners:
                listener(cause)

    def _materialise(self, device_id: str) -> DeviceRecord:
        base = self._base[device_id]
        t = self._telemetry.get(device_id)
        if t is None:
            return base
        return dataclasses.replace(
            base,
            battery=t.battery,
            rssi=t.rssi,
            uptime=t.uptime,
            heap=t.heap,
            fw=t.fw,
            charging=t.charging,
            last_seen=max(base.last_seen or 0.0, t.received_at),
        )

    def apply_status(self, msg: DeviceStatus) -> None:
        old = self._base[msg.device_id]
        changed = old.online != msg.online
        self._store(
            dataclasses.replace(
                old,
                online=msg.online,
                state=msg.state,
                fw=msg.fw or old.fw,
                last_seen=msg.received_at if msg.online else old.last_seen,
                state_since=msg.received_at
                if changed or old.state != msg.state
                else old.state_since,
            ),
            urgent=changed,
            cause=msg,
        )

    def apply_telemetry(self, msg: Telemetry) -> None:
        """Hot path (every telemetry message): keep the message, fold it in at flush time."""
        self._telemetry[msg.device_id] = msg
        self._dirty.add(msg.device_id)
        for listener in self._listeners:
            listener(msg)

    def apply_event(self, msg: DeviceEvent) -> None:
        old = self._base[msg.device_id]
        label = msg.type if msg.action is None else f"{msg.type}:{msg.action}"
        self._store(
            dataclasses.replace(
                old, events=old.events + 1, last_event=label, last_seen=msg.received_at
            ),
            urgent=False,
            cause=msg,
        )

    def mark_seen(self, device_id: str, when: float) -> None:
        old = self._base[device_id]
        if old.last_seen is None or when - old.last_seen > 1.0:
            self._store(dataclasses.replace(old, last_seen=when), urgent=False, cause=None)

    # -- queries --------------------------------------------------------------------------------
    def get(self, device_id: str) -> DeviceRecord | None:
        return self._materialise(device_id) if device_id in self._base else None

    def all(self) -> list[DeviceRecord]:
        return [self._materialise(d) for d in sorted(self._base)]

    def count(self) -> int:
        return len(self._base)

    def online_count(self) -> int:
        return sum(1 for r in self._base.values() if r.online)
