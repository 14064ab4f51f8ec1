"""Crash-safe TinyDB storage: every write replaces the whole file atomically.

A write goes to a temporary file in the same directory, is fsynced, renamed over the old file
with `os.replace` (atomic on POSIX) and the directory is fsynced, so a kill -9 or power cut at
any instant leaves either the previous or the new content, never a torn file.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from tinydb.storages import Storage


class StorageCorrupt(Exception):
    """The file exists but is not a JSON object (it was not written by this storage)."""


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so that readers see the old or the new content, nothing else."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temps(path: Path) -> None:
    """Temp files left by a writer killed before its rename are garbage; delete them."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


class AtomicJSONStorage(Storage):
    """TinyDB storage writing with `atomic_write_bytes`. Reads never see a partial write."""

    def __init__(self, path: str | Path, mode: int = 0o644) -> None:
        self.path = Path(path)
        self.mode = mode
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise StorageCorrupt(f"{self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise StorageCorrupt(f"{self.path}: not a JSON object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        encoded = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        atomic_write_bytes(self.path, encoded, self.mode)

    def close(self) -> None:
        pass
