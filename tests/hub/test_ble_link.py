"""BLE devices are equal to MQTT ones behind `DeviceLink`: the hub sees the same typed messages
and commands reach them, over a fake radio (the only fake: no Bluetooth adapter exists here).

How we tried to break it: default MTU 23 so every message is fragmented; a garbage fragment
and an out-of-order fragment in the middle of traffic; the radio link dropped and restored;
a command answered by the device over the same fragmented path, driven through the HTTP API.
The real bleak adapter is run up to the hardware boundary (no BlueZ here: it must fail fast
with an error, and the link must keep retrying instead of crashing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from hub import wire
from hub.credentials import CredentialStore
from hub.links.ble import BleakTransport, BleLink
from hub.messages import (
    AudioFrame,
    DeviceMessage,
    DeviceStatus,
    Rejected,
    Telemetry,
)
from hub.service import Hub
from hub.sim.audio import encode_frames, synthetic_utterance
from tests.hub.conftest import hub_settings, wait_until

TELEMETRY = {"battery": 42.5, "rssi": -70, "uptime": 99.0, "heap": 50000, "fw": "ble-1"}


class FakeRadio:
    """A device at the far end of a GATT link; implements `BleTransport`."""

    def __init__(self, mtu: int = 23, auto_ack: bool = True) -> None:
        self._mtu = mtu
        self.auto_ack = auto_ack
        self.connects = 0
        self.written: list[bytes] = []
        self.commands: list[dict] = []
        self._notify: Callable[[bytes], None] | None = None
        self._lost: Callable[[], None] | None = None
        self._msg_no = 0
        self._inbox = wire.Reassembler()

    @property
    def is_connected(self) -> bool:
        return self._notify is not None

    @property
    def mtu(self) -> int:
        return self._mtu

    async def connect(self, on_notify, on_disconnect) -> None:
        self.connects += 1
        self._notify, self._lost = on_notify, on_disconnect

    async def disconnect(self) -> None:
        self._notify = None

    async def write(self, data: bytes) -> None:
        self.written.append(data)
        message = self._inbox.feed(data)
        if message is None:
            return
        kind, body = wire.parse_ble_message(message)
        if kind == "cmd":
            cmd = wire.decode_json("cmd", body)
            self.commands.append(cmd)
            if self.auto_ack:
                self.send(
                    "ack",
                    wire.encode_json(
                        "ack", {"id": cmd["id"], "ok": True, "result": {"via": "ble"}}
                    ),
                )

    # device side
    def send(self, kind: str, body: bytes) -> None:
        assert self._notify is not None
        self._msg_no = (self._msg_no + 1) & 0xFF
        for part in wire.fragment(wire.ble_message(kind, body), self._msg_no, self._mtu):
            self._notify(part)

    def raw(self, fragment: bytes) -> None:
        assert self._notify is not None
        self._notify(fragment)

    def drop(self) -> None:
        notify_lost, self._notify = self._lost, None
        assert notify_lost is not None
        notify_lost()


async def _next(it, kind: type, within: float = 2.0) -> DeviceMessage:
    async with asyncio.timeout(within):
        while True:
            msg = await anext(it)
            if isinstance(msg, kind):
                return msg


async def test_ble_link_yields_the_same_messages_as_mqtt() -> None:
    radio = FakeRadio()
    async with BleLink({"ble-1": radio}, reconnect_min_s=0.05, reconnect_max_s=0.1) as link:
        stream = link.messages()
        online = await _next(stream, DeviceStatus)
        assert online == DeviceStatus("ble-1", "online", received_at=online.received_at)

        radio.send("telemetry", wire.encode_json("telemetry", TELEMETRY))
        tele = await _next(stream, Telemetry)
        assert (tele.device_id, tele.battery, tele.fw) == ("ble-1", 42.5, "ble-1")

        radio.raw(b"\x09")  # truncated fragment
        assert isinstance(await _next(stream, Rejected), Rejected)
        radio.raw(bytes((77, 0x02)) + b"xx")  # middle fragment of a message never started
        assert isinstance(await _next(stream, Rejected), Rejected)

        frames = list(encode_frames(synthetic_utterance(0.06), session=5))
        for frame in frames:
            radio.send("audio", frame)
        got = [await _next(stream, AudioFrame) for _ in frames]
        assert [g.frame.seq for g in got] == [0, 1, 2]
        assert got[0].frame.start and got[-1].frame.end and got[0].session == 5
        assert got[1].frame.pcm16() == wire.decode_frame(frames[1]).pcm16()

        radio.drop()
        offline = await _next(stream, DeviceStatus)
        assert offline.state == "offline"
        again = await _next(stream, DeviceStatus)  # the link reconnected by itself
        assert again.state == "online" and radio.connects == 2


async def test_hub_commands_a_ble_device_through_the_api(tmp_path) -> None:
    data_dir = tmp_path / "data"
    CredentialStore(data_dir).add("ble-1")
    radio = FakeRadio()
    link = BleLink({"ble-1": radio})
    hub = Hub(hub_settings(data_dir, 1), links=[link])  # no MQTT link at all
    stop = asyncio.Event()
    runner = asyncio.create_task(hub.run(stop))
    try:
        await wait_until(hub.started.is_set, timeout=10)
        await wait_until(
            lambda: (r := hub.registry.get("ble-1")) is not None and r.online, timeout=5
        )
        radio.send("telemetry", wire.encode_json("telemetry", TELEMETRY))
        await wait_until(lambda: hub.registry.get("ble-1").battery == 42.5, timeout=5)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.http_port}") as http:
            r = await http.post(
                "/api/v1/devices/ble-1/commands", json={"op": "identify"}, timeout=10
            )
        assert r.status_code == 200, r.text
        assert r.json()["result"] == {"via": "ble"}
        assert radio.commands[0]["op"] == "identify"
        assert len(radio.written) > 1  # the command really went out in MTU-sized fragments
        assert all(len(w) <= radio.mtu - 3 for w in radio.written)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await runner


async def test_real_bleak_adapter_fails_fast_without_a_radio_and_the_link_retries() -> None:
    transport = BleakTransport("AA:BB:CC:DD:EE:01", timeout_s=2)
    failed: Exception | None = None
    try:
        async with asyncio.timeout(10):
            await transport.connect(lambda _d: None, lambda: None)
    except Exception as exc:  # whatever BlueZ-less Linux raises, it must raise, not hang
        failed = exc
    assert failed is not None and not isinstance(failed, TimeoutError)
    assert not transport.is_connected
    async with BleLink({"ble-x": transport}, reconnect_min_s=0.05, reconnect_max_s=0.1) as link:
        await asyncio.sleep(0.5)  # several failed attempts; the TaskGroup must survive them
        assert not link.connected and not link.reaches("ble-x")
