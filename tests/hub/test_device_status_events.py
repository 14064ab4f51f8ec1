"""Device status reaches the outbox as `device.status` events (what the cloud's device list,
status history and uptime/battery report are built from).

How we tried to break it: a device that comes online, reports telemetry every 100 ms
and is then killed (no clean disconnect: the broker's Last Will says offline);
readings the cloud would refuse (battery 140 %, positive RSSI, NaN-free but negative
uptime); a runtime that is not ready yet; and a clock moved past the telemetry interval.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path

from cloud_sync.events import DeviceStatus as DeviceStatusData
from cloud_sync.events import Event
from cloud_sync.outbox import Outbox
from hub.messages import DeviceEvent, DeviceStatus, Telemetry
from hub.registry import DeviceRecord
from hub.voice.runtime import DeviceStatusForwarder, OutboxEventSink, status_data
from tests.hub.conftest import ManagedBroker, wait_until

TENANT, HUB = uuid.uuid4(), uuid.uuid4()


def statuses(outbox: Outbox) -> list[tuple[str, DeviceStatusData]]:
    out = []
    for pending in outbox.peek(1000):
        event = Event.model_validate(json.loads(pending.body))
        assert event.type == "device.status"
        out.append((event.device_id, DeviceStatusData.model_validate(event.data)))
    return out


def test_readings_the_cloud_would_refuse_are_left_out_not_sent() -> None:
    good = DeviceRecord("d1", online=True, battery=76.6, rssi=-61, uptime=12.4, heap=81234)
    assert status_data(good) == DeviceStatusData(
        online=True, battery_pct=77, rssi_dbm=-61, uptime_s=12, free_heap=81234
    )
    assert status_data(good, readings=False) == DeviceStatusData(online=True)
    bad = DeviceRecord("d1", online=True, battery=140.0, rssi=12, uptime=-3.0, fw="x" * 40)
    data = status_data(bad)
    assert (data.battery_pct, data.rssi_dbm, data.uptime_s) == (None, None, None)
    assert data.firmware == "x" * 32
    # offline: the state (and firmware), not the readings from before it went away
    gone = DeviceRecord("d1", online=False, battery=50.0, rssi=-70, fw="1.2.3")
    assert status_data(gone) == DeviceStatusData(online=False, firmware="1.2.3")


async def test_online_offline_at_once_telemetry_at_most_once_per_interval(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sink = OutboxEventSink(outbox, TENANT, HUB)
    ready: list[OutboxEventSink | None] = [None]
    now = [1000.0]
    forward = DeviceStatusForwarder(lambda: ready[0], interval_s=300, clock=lambda: now[0])
    on = DeviceRecord("d1", online=True, battery=80.0)
    tele = Telemetry("d1", battery=80.0, rssi=-50, uptime=1.0, heap=1, fw="1")

    await forward(DeviceStatus("d1", "online"), on)  # runtime not running yet
    assert statuses(outbox) == []
    ready[0] = sink
    never_seen = DeviceRecord("d2")  # provisioned, never connected: state "unknown"
    await forward.catch_up([dataclasses.replace(on, state="online"), never_seen])
    await forward(tele, on)  # the catch-up had no readings: this report goes at once
    now[0] += 299
    await forward(tele, on)
    await forward(DeviceEvent("d1", "button", "press"), on)  # events are not status
    assert [(d.online, d.battery_pct) for _, d in statuses(outbox)] == [(True, None), (True, 80)]
    now[0] += 2  # 301 s after the last one sent: due
    await forward(tele, on)
    await forward(DeviceStatus("d1", "offline"), DeviceRecord("d1", online=False))
    await forward(DeviceStatus("d1", "offline"), DeviceRecord("d1", online=False))  # repeat
    await forward(DeviceStatus("d1", "online"), on)  # back at once, interval or not
    assert [d.online for _, d in statuses(outbox)] == [True, True, True, False, True]
    assert forward.sent == 5
    # a device that says "online" before its first report: that report is sent at once
    bare = DeviceRecord("d3", online=True, state="online")
    await forward(DeviceStatus("d3", "online"), bare)
    reported = dataclasses.replace(bare, battery=55.0, rssi=-70)
    await forward(Telemetry("d3", battery=55.0, rssi=-70, uptime=2.0, heap=1, fw="1"), reported)
    await forward(Telemetry("d3", battery=55.0, rssi=-70, uptime=3.0, heap=1, fw="1"), reported)
    d3 = [d for device, d in statuses(outbox) if device == "d3"]
    assert [(d.online, d.battery_pct) for d in d3] == [(True, None), (True, 55)]
    outbox.close()


async def test_a_device_online_reporting_then_killed_becomes_three_status_events(
    broker: ManagedBroker, hub_for, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sink = OutboxEventSink(outbox, TENANT, HUB)
    forward = DeviceStatusForwarder(lambda: sink, interval_s=3600)
    (creds,) = broker.add_devices(["shelf-1"])
    sim = broker.sim(creds)
    try:
        async with hub_for([forward]) as hub:
            sim.start()
            await wait_until(lambda: len(statuses(outbox)) == 1, timeout=10)
            for _ in range(5):  # the first one carries readings; the rest are within the hour
                sim.send_telemetry(battery=64.0, rssi=-58)
                await asyncio.sleep(0.1)
            await wait_until(lambda: hub.registry.get("shelf-1").uptime is not None, timeout=5)  # type: ignore[union-attr]
            await asyncio.sleep(0.3)
            assert len(statuses(outbox)) == 2
            # killed: the socket dies without a DISCONNECT, so the broker fires the Will
            await asyncio.to_thread(sim.client.loop_stop)
            sim.client.socket().close()  # type: ignore[union-attr]
            await wait_until(lambda: len(statuses(outbox)) == 3, timeout=10)
        devices, (first, second, third) = zip(*statuses(outbox), strict=True)
        assert set(devices) == {"shelf-1"}
        assert first.online and first.battery_pct is None  # "online" comes before a report
        assert second.online and (second.battery_pct, second.rssi_dbm) == (64, -58)
        assert not third.online and third.battery_pct is None  # offline: no stale readings
    finally:
        await asyncio.to_thread(sim.stop)
        outbox.close()
