"""Device credentials: who may log in to the hub's broker, stored in the data directory.

`credentials.json` (TinyDB, atomic writes) holds one entry per provisioned device with a
mosquitto-compatible PBKDF2-SHA512 hash (`$7$` format, as `mosquitto_passwd` writes); plain
device passwords are shown once, when created, and never stored. The hub's own broker user
(username `ARMA-HUB`: upper case, so no device id can take it) keeps its password in
`hub-credentials.json`, readable by its owner only. Writers serialise on an flock.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tinydb import Query, TinyDB

from hub import wire
from hub.storage import AtomicJSONStorage, atomic_write_bytes

HUB_USERNAME = "ARMA-HUB"
PBKDF2_ITERATIONS = 1000
SALT_BYTES = 12


class CredentialError(Exception):
    """Provisioning request that cannot be done (device exists, unknown device, bad id)."""


def hash_password(
    password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None
) -> str:
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    expected = hash_password(password, iterations=int(iterations), salt=base64.b64decode(salt))
    return hmac.compare_digest(expected.split("$")[-1], digest)


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """What an installer puts on a device; the password exists only in this object."""

    device_id: str
    mqtt_username: str
    mqtt_password: str

    def __post_init__(self) -> None:
        wire.check_id(self.device_id)

    def as_json(self) -> dict[str, str]:
        return {
            "device_id": self.device_id,
            "mqtt_username": self.mqtt_username,
            "mqtt_password": self.mqtt_password,
        }


@dataclass(frozen=True, slots=True)
class ProvisionedDevice:
    device_id: str
    mqtt_username: str
    password_hash: str
    created_at: float


class CredentialStore:
    """The data directory's device credentials. Every method is blocking (file I/O)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "credentials.json"
        self.hub_path = data_dir / "hub-credentials.json"
        self._lock_path = data_dir / ".credentials.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[TinyDB]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            db = TinyDB(self.path, storage=AtomicJSONStorage, mode=0o600)
            try:
                yield db
            finally:
                db.close()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, device_id: str, *, replace: bool = False) -> DeviceCredentials:
        try:
            wire.check_id(device_id)
        except wire.ProtocolError as exc:
            raise CredentialError(f"{device_id!r}: {exc} (1-32 of a-z 0-9 - _)") from exc
        password = secrets.token_urlsafe(18)
        with self._locked() as db:
            table = db.table("devices")
            existing = table.get(Query().device_id == device_id)
            if existing is not None and not replace:
                raise CredentialError(f"device {device_id} already exists")
            table.upsert(
                {
                    "device_id": device_id,
                    "mqtt_username": device_id,
                    "password_hash": hash_password(password),
                    "created_at": time.time(),
                },
                Query().device_id == device_id,
            )
        return DeviceCredentials(device_id, device_id, password)

    def remove(self, device_id: str) -> None:
        with self._locked() as db:
            removed = db.table("devices").remove(Query().device_id == device_id)
        if not removed:
            raise CredentialError(f"no device {device_id}")

    def devices(self) -> list[ProvisionedDevice]:
        try:
            raw = AtomicJSONStorage(self.path).read() or {}
        except FileNotFoundError:
            return []
        rows = raw.get("devices", {}).values()
        return sorted(
            (
                ProvisionedDevice(
                    r["device_id"], r["mqtt_username"], r["password_hash"], r["created_at"]
                )
                for r in rows
            ),
            key=lambda d: d.device_id,
        )

    def device_ids(self) -> set[str]:
        return {d.device_id for d in self.devices()}

    def version(self) -> int:
        """Changes whenever the device list is rewritten (mtime in ns; 0 when absent)."""
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def hub_credentials(self) -> tuple[str, str]:
        """The hub's own broker login, created on first use."""
        with contextlib.suppress(FileNotFoundError):
            data = json.loads(self.hub_path.read_text())
            return str(data["username"]), str(data["password"])
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        payload = json.dumps({"username": HUB_USERNAME, "password": password}).encode()
        atomic_write_bytes(self.hub_path, payload, mode=0o600)
        os.chmod(self.hub_path, 0o600)
        return HUB_USERNAME, password
