"""Per-device broker security: credentials and ACL written by the hub, applied by SIGHUP.

How we tried to break it: a device's own valid login subscribes to and publishes on another
device's topics (and a wildcard over all devices); a removed device keeps its old password and
tries to log in again; the broker is never restarted in between (same pid)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub import wire
from hub.credentials import CredentialStore, verify_password
from tests.hub.conftest import ManagedBroker

NOT_AUTHORIZED = 0x87  # MQTT v5 reason code


class Client:
    """A blocking MQTT v5 test client recording every broker answer."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.connack: ReasonCode | None = None
        self.suback: dict[int, list[ReasonCode]] = {}
        self.puback: dict[int, ReasonCode] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.event = threading.Condition()
        self.disconnected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        c.username_pw_set(username, password)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda _c, _u, mid, codes, _p: self._note(self.suback, mid, codes)
        c.on_publish = lambda _c, _u, mid, code, _p: self._note(self.puback, mid, code)
        c.on_message = lambda _c, _u, m: self._note_msg(m)
        c.on_disconnect = lambda *_a: self.disconnected.set()
        self.client = c
        self.port = port

    def _on_connect(self, _c, _u, _f, code: ReasonCode, _p: Properties | None) -> None:
        with self.event:
            self.connack = code
            self.event.notify_all()

    def _note(self, table: dict, mid: int, value: object) -> None:
        with self.event:
            table[mid] = value
            self.event.notify_all()

    def _note_msg(self, m: mqtt.MQTTMessage) -> None:
        with self.event:
            self.messages.append((m.topic, bytes(m.payload)))
            self.event.notify_all()

    def wait(self, predicate, timeout: float = 5.0) -> bool:
        with self.event:
            return self.event.wait_for(predicate, timeout)

    def connect(self) -> ReasonCode:
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        assert self.wait(lambda: self.connack is not None), "no CONNACK"
        assert self.connack is not None
        return self.connack

    def subscribe(self, topic: str) -> list[ReasonCode]:
        _, mid = self.client.subscribe(topic, qos=1)
        assert self.wait(lambda: mid in self.suback), f"no SUBACK for {topic}"
        return self.suback[mid]

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        info = self.client.publish(topic, payload, qos=1)
        assert self.wait(lambda: info.mid in self.puback), f"no PUBACK for {topic}"
        return self.puback[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _hub_client(broker: ManagedBroker) -> Client:
    user, password = broker.store.hub_credentials()
    hub = Client(broker.port, user, password)
    assert not hub.connect().is_failure
    return hub


def test_device_cannot_reach_another_devices_topics(broker: ManagedBroker) -> None:
    a, b = broker.add_devices(["dev-a", "dev-b"])
    hub = _hub_client(broker)
    assert not hub.subscribe("arma/v1/d/#")[0].is_failure
    dev_a = Client(broker.port, a.mqtt_username, a.mqtt_password)
    try:
        assert not dev_a.connect().is_failure
        # Mosquitto 2.0 grants these subscriptions (SUBACK) but its ACL filters every
        # delivery, so nothing of dev-b's ever reaches dev-a: checked below with real traffic
        snooping = (
            "arma/v1/d/dev-b/cmd",
            "arma/v1/d/dev-b/play/+",
            "arma/v1/d/+/cmd",
            "arma/v1/d/#",
            "#",
        )
        for topic in snooping:
            (code,) = dev_a.subscribe(topic)
            assert code.is_failure or code.value <= 2, (topic, code)
        assert not dev_a.subscribe("arma/v1/d/dev-a/cmd")[0].is_failure

        telemetry = wire.encode_json(
            "telemetry", {"battery": 50, "rssi": -60, "uptime": 1, "heap": 1, "fw": "x"}
        )
        forged = dev_a.publish("arma/v1/d/dev-b/telemetry", telemetry)
        assert forged.value == NOT_AUTHORIZED
        forged_cmd = dev_a.publish("arma/v1/d/dev-b/cmd", b"{}")
        assert forged_cmd.value == NOT_AUTHORIZED
        own = dev_a.publish("arma/v1/d/dev-a/telemetry", telemetry)
        assert not own.is_failure
        # the hub sees the device's own message, and never the forged ones
        assert hub.wait(lambda: any(t == "arma/v1/d/dev-a/telemetry" for t, _ in hub.messages))
        time.sleep(0.3)
        assert [t for t, _ in hub.messages if "dev-b" in t] == []

        # the hub commands both devices: each gets its own, dev-a never gets dev-b's
        dev_b = Client(broker.port, b.mqtt_username, b.mqtt_password)
        assert not dev_b.connect().is_failure
        assert not dev_b.subscribe("arma/v1/d/dev-b/#")[0].is_failure
        frame = wire.encode_frame(7, 0, wire.CODEC_PCM16, b"\0\0", wire.FLAG_START)
        assert not hub.publish("arma/v1/d/dev-b/cmd", b'{"v":1,"id":"b1","op":"ping"}').is_failure
        assert not hub.publish("arma/v1/d/dev-b/play/7", frame).is_failure
        assert not hub.publish("arma/v1/d/dev-a/cmd", b'{"v":1,"id":"a1","op":"ping"}').is_failure
        assert dev_b.wait(lambda: len(dev_b.messages) == 2), dev_b.messages
        assert dev_a.wait(lambda: any(t.endswith("dev-a/cmd") for t, _ in dev_a.messages))
        time.sleep(0.3)  # dev-a's message came after dev-b's: anything leaked would be here
        # (one copy per overlapping subscription; all of them its own topic)
        assert {t for t, _ in dev_a.messages} == {"arma/v1/d/dev-a/cmd"}
        dev_b.close()
    finally:
        dev_a.close()
        hub.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_cli_add_applies_without_restart_and_remove_revokes(broker: ManagedBroker) -> None:
    pid = broker.process.proc.pid
    added = _cli("devices", "add", "door-1", "--data-dir", str(broker.data_dir), "--json")
    assert added.returncode == 0, added.stderr
    creds = json.loads(added.stdout)
    assert set(creds) == {"device_id", "mqtt_username", "mqtt_password"}
    assert creds["device_id"] == "door-1"
    # only a hash is stored, and it is the mosquitto PBKDF2 format of that password
    (stored,) = CredentialStore(broker.data_dir).devices()
    assert creds["mqtt_password"] not in broker.data_dir.joinpath("credentials.json").read_text()
    assert stored.password_hash.startswith("$7$")
    assert verify_password(creds["mqtt_password"], stored.password_hash)

    dev = Client(broker.port, creds["mqtt_username"], creds["mqtt_password"])
    assert not dev.connect().is_failure  # the new login works on the running broker
    wrong = Client(broker.port, creds["mqtt_username"], "not-the-password")
    assert wrong.connect().is_failure
    wrong.close()

    duplicate = _cli("devices", "add", "door-1", "--data-dir", str(broker.data_dir), "--json")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    bad = _cli("devices", "add", "Door 1!", "--data-dir", str(broker.data_dir))
    assert bad.returncode == 2 and "device id" in bad.stderr

    removed = _cli("devices", "remove", "door-1", "--data-dir", str(broker.data_dir))
    assert removed.returncode == 0, removed.stderr
    # the broker drops the live session of the revoked login...
    assert dev.disconnected.wait(5), "revoked device stayed connected"
    dev.client.loop_stop()
    # ...and refuses its next login with the old password
    again = Client(broker.port, creds["mqtt_username"], creds["mqtt_password"])
    code = again.connect()
    again.close()
    assert code.is_failure, code
    assert broker.process.proc.pid == pid and broker.process.running  # never restarted
    listed = _cli("devices", "list", "--data-dir", str(broker.data_dir), "--json")
    assert json.loads(listed.stdout) == []


def test_password_hash_format_matches_mosquitto_passwd(tmp_path) -> None:
    """Our `$7$` hashes and mosquitto_passwd's verify the same way (and wrong ones do not)."""
    path = tmp_path / "pw"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(path), "alice", "s3cret"], check=True, timeout=10
    )
    user, hashed = path.read_text().strip().split(":", 1)
    assert user == "alice" and hashed.startswith("$7$")
    assert verify_password("s3cret", hashed)
    assert not verify_password("s3cret!", hashed)
