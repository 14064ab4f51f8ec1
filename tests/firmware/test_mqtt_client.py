"""The firmware's MQTT client under MicroPython against a real Mosquitto: bounded queue while
offline (oldest dropped, the rest delivered in order and acknowledged), receiving QoS 1 and a
5,000-byte payload, clean disconnect; and a frozen broker (SIGSTOP: TCP stays open, nothing
answers) detected by keepalive and survived."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from .conftest import FIRMWARE, HubPeer, micropython_path

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.micropython


def test_queue_bound_order_and_receive(mosquitto, hub_peer_factory):
    watcher = HubPeer(mosquitto.port, "watcher")
    watcher.client.subscribe("case/#", qos=1)
    proc = subprocess.Popen(
        [micropython_path(), str(HERE / "mqtt_case.py"), str(FIRMWARE), str(mosquitto.port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("READY"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(15), "".join(lines)
        watcher.publish("case/in/a", b"hello", qos=1)
        watcher.publish("case/in/big", b"x" * 5000, qos=1)
        assert proc.wait(20) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(5)
        watcher.close()
    assert "MQTT CASE OK" in "".join(lines)
    out = [p for t, p, _ in watcher.seen if t == "case/out"]
    assert out == [b"m2", b"m3", b"m4"], out  # the two oldest were dropped, order kept


def test_frozen_broker_detected_by_keepalive(mosquitto, device_factory, hub_peer_factory):
    device = device_factory(mosquitto.port).start()  # keepalive 4 s
    device.wait_line(r"connected \(1\)", 15)
    assert mosquitto.proc is not None
    mark = device.mark()
    os.kill(mosquitto.proc.pid, signal.SIGSTOP)
    try:
        device.wait_line(r"keepalive timeout", 12, mark)
    finally:
        os.kill(mosquitto.proc.pid, signal.SIGCONT)
    device.wait_line(r"connected \(2\)", 15, mark)
    peer = hub_peer_factory(mosquitto.port)
    assert peer.wait_json("arma-test-1", "status", 10, state="online")["fw"] == "1.0.0"
