"""The hub's own availability: retained `online` while it runs, `offline` after a clean stop
(published by the hub itself) and after kill -9 (its Last Will, published by the broker).
Plus the reconnect backoff's bounds.

How we tried to break it: a fresh subscriber only sees the retained value, so each state is
checked the way an integration that connects later would see it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.links.base import Backoff
from tests.hub.conftest import ManagedBroker
from tests.support.mosquitto import free_port, wait_port

TOPIC = "arma/v1/hub/hub-1/status"


def retained_state(broker: ManagedBroker, timeout: float = 5.0) -> str:
    """What a client connecting now is told about the hub (retained message)."""
    got: list[str] = []
    done = threading.Event()

    def on_message(_c, _u, m: mqtt.MQTTMessage) -> None:
        got.append(json.loads(m.payload)["state"])
        done.set()

    user, password = broker.store.hub_credentials()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set(user, password)
    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe(TOPIC, qos=1)
    client.loop_start()
    try:
        assert done.wait(timeout), "no retained hub status"
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]


def _wait_state(broker: ManagedBroker, state: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (seen := retained_state(broker)) != state:
        assert time.monotonic() < deadline, f"hub status stayed {seen!r}, wanted {state!r}"
        time.sleep(0.1)


def _hub_process(broker: ManagedBroker) -> tuple[subprocess.Popen[bytes], int]:
    http_port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "run",
            "--data-dir",
            str(broker.data_dir),
            "--mqtt-port",
            str(broker.port),
            "--http",
            f"127.0.0.1:{http_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(http_port, 20)
    return proc, http_port


def test_hub_status_online_offline_and_last_will(broker: ManagedBroker) -> None:
    proc, _ = _hub_process(broker)
    try:
        _wait_state(broker, "online")
        proc.terminate()  # SIGTERM: clean shutdown says "offline" itself
        assert proc.wait(15) == 0
        _wait_state(broker, "offline")

        proc, _ = _hub_process(broker)
        _wait_state(broker, "online")
        proc.kill()  # no shutdown code runs: only the Will can say "offline"
        proc.wait(10)
        _wait_state(broker, "offline")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_backoff_is_capped_jittered_and_resets() -> None:
    backoff = Backoff(0.2, 5.0, random.Random(3))
    delays = [backoff.next_delay() for _ in range(40)]
    assert all(0.2 <= d <= 5.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 30  # jittered, not a fixed ladder
    assert max(delays[:3]) <= 0.8  # grows from the minimum: 0.2, then <= 0.4, <= 0.8
    assert max(delays[10:]) > 2.5  # and reaches the cap region
    backoff.reset()
    assert backoff.next_delay() == 0.2
