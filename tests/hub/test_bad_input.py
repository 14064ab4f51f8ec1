"""Nothing a device sends can crash the hub: bad payloads, oversized ones, bad topics and
unknown devices are counted (Prometheus) and the hub keeps serving.

How we tried to break it: non-JSON, wrong schema, a newer protocol version, oversized JSON and
audio, random bytes on every uplink topic (seeded), invalid ids in topics, a device without
credentials. The broker here is anonymous so that such traffic can reach the hub at all (the
managed broker's ACL would refuse most of it first)."""

from __future__ import annotations

import json
import random

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub import wire
from hub.credentials import CredentialStore
from hub.messages import RejectReason
from tests.hub.conftest import hub_settings, running_hub, wait_until
from tests.support.mosquitto import Mosquitto

TELEMETRY = {"battery": 80, "rssi": -50, "uptime": 12.5, "heap": 70000, "fw": "1.0.0"}


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _metric(text: str, name: str, label: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{{label}}}"):
            return float(line.split()[-1])
    raise AssertionError(f"{name}{{{label}}} not in /metrics")


async def test_bad_payloads_and_unknown_devices_are_counted(mosquitto: Mosquitto, tmp_path) -> None:
    data_dir = tmp_path / "data"
    CredentialStore(data_dir).add("dev-ok")
    async with running_hub(hub_settings(data_dir, mosquitto.port)) as hub:
        pub = _publisher(mosquitto.port)
        try:
            base = "arma/v1/d/dev-ok"
            expected = {reason: 0 for reason in RejectReason}
            sends: list[tuple[str, bytes, RejectReason]] = [
                (f"{base}/telemetry", b"not json", RejectReason.MALFORMED),
                (f"{base}/telemetry", b'{"v":1,"battery":50}', RejectReason.MALFORMED),
                (
                    f"{base}/telemetry",
                    json.dumps({**TELEMETRY, "v": 1, "battery": 101}).encode(),
                    RejectReason.MALFORMED,
                ),
                (f"{base}/status", b'{"v":2,"state":"online"}', RejectReason.MALFORMED),
                (f"{base}/event", b'{"v":1,"type":"explode"}', RejectReason.MALFORMED),
                (f"{base}/ack", b"[1,2,3]", RejectReason.MALFORMED),
                (
                    f"{base}/telemetry",
                    b'{"v":1,"pad":"' + b"x" * 3000 + b'"}',
                    RejectReason.OVERSIZED,
                ),
                (f"{base}/audio/7", b"\xa5" * 5000, RejectReason.OVERSIZED),
                (f"{base}/audio/7", b"\xa5\x11\x00", RejectReason.MALFORMED),
                (
                    f"{base}/audio/8",
                    wire.encode_frame(7, 0, wire.CODEC_PCM16, b"\0\0"),
                    RejectReason.MALFORMED,
                ),  # frame's session differs from the topic's
                ("arma/v1/d/NOT_AN_ID!/telemetry", b"{}", RejectReason.BAD_TOPIC),
                (f"{base}/audio/abc", b"\0" * 20, RejectReason.BAD_TOPIC),
                (
                    "arma/v1/d/ghost-1/telemetry",
                    wire.encode_json("telemetry", TELEMETRY),
                    RejectReason.UNKNOWN_DEVICE,
                ),
                (
                    "arma/v1/d/ghost-2/status",
                    wire.encode_json("status", {"state": "online"}),
                    RejectReason.UNKNOWN_DEVICE,
                ),
            ]
            rng = random.Random(7)
            for i in range(200):  # random bytes on every uplink kind
                kind = ("status", "telemetry", "event", "ack", "audio/9")[i % 5]
                payload = rng.randbytes(rng.randrange(1, 600))
                sends.append((f"{base}/{kind}", payload, RejectReason.MALFORMED))
            for topic, payload, reason in sends:
                pub.publish(topic, payload, qos=1)
                expected[reason] += 1
            pub.publish(f"{base}/telemetry", wire.encode_json("telemetry", TELEMETRY), qos=1)

            rejected = hub.metrics.rejected
            await wait_until(
                lambda: sum(c._value.get() for c in rejected.values()) >= len(sends), timeout=10
            )
            await wait_until(lambda: hub.registry.get("dev-ok").battery == 80, timeout=5)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.http_port}") as http:
                health = await http.get("/healthz", timeout=5)
                metrics = (await http.get("/metrics", timeout=5)).text
                device = (await http.get("/api/v1/devices/dev-ok", timeout=5)).json()
            assert health.status_code == 200
            assert device["battery"] == 80 and device["rssi"] == -50
            for reason, count in expected.items():
                got = _metric(metrics, "arma_hub_rejected_messages_total", f'reason="{reason}"')
                assert got == count, (reason, got, count)
            assert _metric(metrics, "arma_hub_messages_total", 'kind="telemetry"') == 1
            assert hub.registry.get("ghost-1") is None  # unknown devices never enter
        finally:
            pub.disconnect()
            pub.loop_stop()


async def test_device_added_while_running_is_picked_up(mosquitto: Mosquitto, tmp_path) -> None:
    """A status from a device provisioned after the hub started is not lost as 'unknown'."""
    data_dir = tmp_path / "data"
    store = CredentialStore(data_dir)
    async with running_hub(hub_settings(data_dir, mosquitto.port)) as hub:
        store.add("late-1")
        pub = _publisher(mosquitto.port)
        try:
            pub.publish(
                "arma/v1/d/late-1/status", wire.encode_json("status", {"state": "online"}), qos=1
            )
            await wait_until(
                lambda: (r := hub.registry.get("late-1")) is not None and r.online, timeout=5
            )
        finally:
            pub.disconnect()
            pub.loop_stop()
