"""The hub's private Mosquitto: configuration, password and ACL files, process control.

Everything lives in `<data_dir>/mosquitto/`. The ACL lets a device's user reach only
`arma/v1/d/{its id}/...` (write its uplink topics, read its `cmd` and `play/+`) and read hub
statuses; the hub's user has full access. Credential changes are rendered to the password and
ACL files and applied with SIGHUP, which Mosquitto 2 answers by reloading both files and
disconnecting clients whose login is no longer valid (no broker restart).
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.credentials import CredentialStore, hash_password
from hub.storage import atomic_write_bytes

log = logging.getLogger(__name__)

DEVICE_WRITE = ("status", "telemetry", "event", "ack", "audio/+")
DEVICE_READ = ("cmd", "play/+")


class BrokerError(Exception):
    """The broker could not be configured, started or signalled."""


@dataclass(frozen=True, slots=True)
class BrokerPaths:
    root: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> BrokerPaths:
        return cls(data_dir / "mosquitto")

    @property
    def conf(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.root / "passwd"

    @property
    def acl(self) -> Path:
        return self.root / "acl"

    @property
    def pid(self) -> Path:
        return self.root / "mosquitto.pid"

    @property
    def log(self) -> Path:
        return self.root / "mosquitto.log"

    @property
    def persistence(self) -> Path:
        return self.root / "db"


def render_acl(device_usernames: list[tuple[str, str]], hub_username: str) -> str:
    lines = [f"user {hub_username}", "topic readwrite #", ""]
    for device_id, username in device_usernames:
        lines.append(f"user {username}")
        lines += [f"topic write arma/v1/d/{device_id}/{kind}" for kind in DEVICE_WRITE]
        lines += [f"topic read arma/v1/d/{device_id}/{kind}" for kind in DEVICE_READ]
        lines += ["topic read arma/v1/hub/+/status", ""]
    return "\n".join(lines)


def render_files(data_dir: Path) -> BrokerPaths:
    """Write the password and ACL files from the credential store (atomically)."""
    store = CredentialStore(data_dir)
    paths = BrokerPaths.in_data_dir(data_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    hub_user, hub_password = store.hub_credentials()
    devices = store.devices()
    passwd = [f"{hub_user}:{hash_password(hub_password)}"]
    passwd += [f"{d.mqtt_username}:{d.password_hash}" for d in devices]
    atomic_write_bytes(paths.passwd, ("\n".join(passwd) + "\n").encode(), mode=0o600)
    acl = render_acl([(d.device_id, d.mqtt_username) for d in devices], hub_user)
    atomic_write_bytes(paths.acl, acl.encode(), mode=0o600)
    return paths


def write_config(data_dir: Path, port: int, bind: str = "127.0.0.1") -> BrokerPaths:
    paths = render_files(data_dir)
    paths.persistence.mkdir(parents=True, exist_ok=True)
    lines = [
        f"listener {port} {bind}",
        "allow_anonymous false",
        f"password_file {paths.passwd}",
        f"acl_file {paths.acl}",
        f"pid_file {paths.pid}",
        # the hub's session survives a broker restart: QoS 1 messages wait for it on disk
        "persistence true",
        f"persistence_location {paths.persistence}/",
        "autosave_interval 30",
        "max_queued_messages 100000",
        # the hub acknowledges a QoS 1 message after handling it, so the window spans its
        # handling: 20 (the default) gave ~320 ms stalls at 2,000 events/s (benchmarks.md)
        "max_inflight_messages 1000",
        "max_packet_size 65536",
        f"log_dest file {paths.log}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages false",
    ]
    if os.geteuid() == 0:
        # as root mosquitto drops to user "mosquitto", which cannot read a private data dir
        lines.append(f"user {getpass.getuser()}")
    atomic_write_bytes(paths.conf, ("\n".join(lines) + "\n").encode(), mode=0o600)
    return paths


def broker_pid(paths: BrokerPaths) -> int | None:
    """The pid in the pid file if that process is alive, else None."""
    try:
        pid = int(paths.pid.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def apply_credentials(data_dir: Path) -> bool:
    """Re-render password/ACL files; SIGHUP a running broker. True when a broker was told."""
    paths = render_files(data_dir)
    pid = broker_pid(paths)
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True


def _die_with_parent() -> None:
    """preexec: the child gets SIGTERM if the launcher dies, even by kill -9 (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def port_free_or_raise(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BrokerError(f"MQTT port {host}:{port} is taken: {exc.strerror}") from exc


def wait_port(
    host: str, port: int, timeout: float, alive: Callable[[], bool] = lambda: True
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise BrokerError("the broker process exited")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"nothing listens on {host}:{port} after {timeout} s") from exc
            time.sleep(0.02)


class BrokerProcess:
    """A private `mosquitto -c` process on the data directory's configuration."""

    def __init__(self, data_dir: Path, port: int, bind: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.port = port
        self.bind = bind
        self.paths = BrokerPaths.in_data_dir(data_dir)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> BrokerProcess:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerError("mosquitto not installed (Debian package mosquitto)")
        stale = broker_pid(self.paths)
        if stale is not None:
            raise BrokerError(f"a broker for this data dir already runs (pid {stale})")
        port_free_or_raise(self.bind, self.port)
        write_config(self.data_dir, self.port, self.bind)
        with open(self.paths.root / "mosquitto.stderr", "ab") as err:
            self.proc = proc = subprocess.Popen(
                [binary, "-c", str(self.paths.conf)],
                stdout=subprocess.DEVNULL,
                stderr=err,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call
                # own process group: Ctrl-C reaches the launcher, which stops us in order
                start_new_session=True,
            )
        try:
            wait_port(self.bind, self.port, timeout, alive=lambda: proc.poll() is None)
        except BrokerError:
            self.stop()
            raise BrokerError(
                f"mosquitto did not start; see {self.paths.log} and mosquitto.stderr"
            ) from None
        log.info("mosquitto pid %d on %s:%d", proc.pid, self.bind, self.port)
        return self

    def reload(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise BrokerError("broker not running")
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: mosquitto saves its persistence file and exits
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def restart(self, timeout: float = 10.0) -> None:
        self.stop()
        self.start(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
