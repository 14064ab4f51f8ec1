"""A private Mosquitto broker on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Mosquitto:
    """Runs `mosquitto -c CONF`. With no config text, an anonymous broker on `port`.

    `extra_config` is appended after the listener lines (password_file, acl_file, ...).
    `restart()` keeps the port, so clients can reconnect to the same address. A broker
    that made its own temporary folder removes it when used as a context manager exits.
    """

    def __init__(
        self, port: int | None = None, extra_config: str = "", workdir: Path | None = None
    ):
        self.port = port or free_port()
        self._owns_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="arma-mosq-"))
        self.extra_config = extra_config
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "mosquitto.log"

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_config(self) -> None:
        anonymous = "false" if "password_file" in self.extra_config else "true"
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {anonymous}\n"
            "persistence false\n"
            # running as root, mosquitto would switch to its own user, which cannot read
            # private temp dirs; tests keep the invoking user
            f"user {getpass.getuser()}\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 100000\n"
            f"{self.extra_config}\n"
        )

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.write_config()
        with open(self.workdir / "mosquitto.stderr", "ab") as err:
            self.proc = subprocess.Popen([binary, "-c", str(self.config_path)], stderr=err)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
