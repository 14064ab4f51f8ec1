"""The real firmware (MicroPython, simulated HAL) against the real hub (`hub.service.Hub`, its
managed Mosquitto with per-device credentials and ACL, its HTTP API).

A test-side audio sink stands in for the voice pipeline: it echoes each finished utterance back
through the hub's own link as play frames. Ways we tried to break it: a command the device must
refuse, the hub stopped in the middle of a session and started again (the device must not get
stuck, and must work with the new hub without a reboot)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from firmware.arma import proto
from hub.messages import AudioFrame
from hub.service import Hub
from tests.hub.conftest import ManagedBroker, broker, hub_settings, wait_until  # noqa: F401

DEV = "arma-fw-1"
pytestmark = pytest.mark.micropython


class EchoSink:
    """Collects each session's frames; at END sends the audio back as the reply."""

    def __init__(self) -> None:
        self.hub: Hub | None = None
        self.frames: dict[int, list[proto.Frame]] = {}
        self.replied: dict[int, list[bytes]] = {}

    async def on_frame(self, msg: AudioFrame) -> None:
        self.frames.setdefault(msg.session, []).append(msg.frame)
        if msg.frame.end and self.hub is not None:
            frames = [f for f in self.frames[msg.session] if f.payload][:25]
            sent = []
            for seq, f in enumerate(frames):
                flags = proto.FLAG_START if seq == 0 else 0
                out = proto.encode_frame(msg.session, seq, f.codec, f.payload, flags)
                await self.hub.links[0].send_play(msg.device_id, out, msg.session)
                sent.append(f.pcm16())
            end = proto.encode_frame(
                msg.session, len(frames), proto.CODEC_ADPCM, b"", proto.FLAG_END
            )
            await self.hub.links[0].send_play(msg.device_id, end, msg.session)
            self.replied[msg.session] = sent


@contextlib.asynccontextmanager
async def hub_running(b: ManagedBroker, sink: EchoSink) -> AsyncIterator[Hub]:
    hub = Hub(hub_settings(b.data_dir, b.port, command_timeout_s=3.0), audio_sink=sink)
    sink.hub = hub
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    try:
        async with asyncio.timeout(15):
            await hub.started.wait()
        await wait_until(hub.link_connected, 15)
        yield hub
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


async def _command(hub: Hub, op: str, **args: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.http_port}", timeout=15) as c:
        return await c.post(f"/api/v1/devices/{DEV}/commands", json={"op": op, "args": args})


async def _talk(device, sink: EchoSink) -> int:  # type: ignore[no-untyped-def]
    mark = device.mark()
    device.press()
    try:
        m = await asyncio.to_thread(
            device.wait_line, r"session (\d+) ended: (silence|release)", 10, mark
        )
    finally:
        device.release()
    session = int(m.group(1))
    await asyncio.to_thread(device.wait_line, rf"played \d+ frames of session {session}", 10, mark)
    await asyncio.to_thread(device.wait_line, r"led: idle", 5, mark)
    await asyncio.sleep(0.1)  # a new session needs a new press: let it see the release first
    return session


async def test_firmware_with_real_hub(broker: ManagedBroker, device_factory, tmp_path) -> None:  # noqa: F811
    (creds,) = broker.add_devices([DEV])
    device = device_factory(
        broker.port,
        device_id=DEV,
        mqtt={"user": creds.mqtt_username, "password": creds.mqtt_password},
    )
    sink = EchoSink()
    async with hub_running(broker, sink) as hub:
        device.start()
        await wait_until(lambda: (r := hub.registry.get(DEV)) is not None and r.online, 20)
        await wait_until(lambda: hub.registry.get(DEV).battery is not None, 5)  # type: ignore[union-attr]
        rec = hub.registry.get(DEV)
        assert rec is not None and rec.fw == "1.0.0" and rec.battery == 76 and rec.heap

        r = await _command(hub, "identify", times=2)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["result"] == {"blinked": 2}
        r = await _command(hub, "set_volume", level=500)
        assert r.status_code == 200 and r.json()["ok"] is False and "0-100" in r.json()["error"]

        session = await _talk(device, sink)
        assert device.played(session) == b"".join(sink.replied[session])
        frames = sink.frames[session]
        assert frames[0].start and frames[-1].end
        assert [f.seq for f in frames] == list(range(len(frames)))

        # the hub goes away while the device is talking
        mark = device.mark()
        device.press()
        await asyncio.to_thread(device.wait_line, r"led: listening", 10, mark)
    # hub stopped (context left) mid-session
    mark = device.mark()
    device.release()
    await asyncio.to_thread(device.wait_line, r"no reply for session \d+", 10, mark)
    await asyncio.to_thread(device.wait_line, r"led: idle", 5, mark)

    async with hub_running(broker, sink) as hub:
        # the new hub learns the device is online from its retained status, no device reboot
        await wait_until(lambda: (r := hub.registry.get(DEV)) is not None and r.online, 10)
        r = await _command(hub, "ping")
        assert r.status_code == 200 and r.json()["ok"] is True
        session = await _talk(device, sink)
        assert device.played(session) == b"".join(sink.replied[session])
    assert device.boots == 1
