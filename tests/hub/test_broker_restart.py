"""Broker restart during traffic: the hub reconnects within 10 s, re-subscribes, and no QoS 1
event is lost.

How we tried to break it: five devices publish QoS 1 button events every 20 ms each while the
broker is stopped and started again on the same port; every event carries a sequence number
and the hub must see every one that any device published (the broker acknowledged them all by
the end), with the hub's session and queued messages kept by Mosquitto's persistence."""

from __future__ import annotations

import asyncio
import threading
import time

from hub.links.mqtt import MqttLink
from hub.messages import DeviceEvent
from tests.hub.conftest import ManagedBroker, wait_until


async def test_broker_restart_during_traffic(broker: ManagedBroker, hub_for) -> None:
    creds = broker.add_devices([f"busy-{i}" for i in range(5)])
    sims = [broker.sim(c) for c in creds]
    for sim in sims:
        sim.start()
    received: set[tuple[str, str]] = set()
    sent: list[tuple[str, str, object]] = []
    stop = threading.Event()

    def traffic() -> None:
        seq = 0
        while not stop.is_set():
            for sim in sims:
                info = sim.send_event("button", "press", detail=f"seq={seq}")
                sent.append((sim.config.device_id, f"seq={seq}", info))
            seq += 1
            stop.wait(0.02)

    try:
        # the hub reconnects later than the devices (2-3 s vs paho's 1 s), so devices publish
        # while the hub is not there: only its persistent session keeps those events
        async with hub_for(reconnect_min_s=2.0, reconnect_max_s=3.0) as hub:

            async def record(msg: object, _record: object) -> None:
                if isinstance(msg, DeviceEvent):
                    received.add((msg.device_id, msg.detail or ""))

            hub.add_forwarder(record)
            link = hub.links[0]
            assert isinstance(link, MqttLink)
            await wait_until(lambda: hub.registry.online_count() == 5, timeout=10)
            sender = threading.Thread(target=traffic)
            sender.start()
            try:
                await asyncio.sleep(1.0)
                before = link.connects
                await asyncio.to_thread(broker.process.stop)  # SIGTERM: persistence saved
                restarted = time.monotonic()
                await asyncio.to_thread(broker.process.start)
                await wait_until(lambda: link.connects > before and link.connected, timeout=12)
                back_after = time.monotonic() - restarted
                await wait_until(lambda: hub.registry.online_count() == 5, timeout=10)
                await asyncio.sleep(1.0)  # traffic continues after the restart
            finally:
                stop.set()
                await asyncio.to_thread(sender.join, 10)
            # every event reached the hub, including those the devices queued while the
            # broker was down (paho re-sends them after reconnecting)
            queued_offline = sum(1 for _, _, info in sent if info.rc != 0)
            wanted = {(d, s) for d, s, _ in sent}
            try:
                await wait_until(lambda: wanted <= received, timeout=15)
            finally:
                print(
                    f"hub back {back_after:.2f} s after the broker restarted; "
                    f"{len(wanted)} QoS 1 events sent ({queued_offline} while disconnected), "
                    f"{len(wanted & received)} received"
                )
            assert back_after <= 10.0
            assert len(wanted) > 5 * 50 * 2 * 0.5  # traffic really flowed on both sides
            assert hub.link_connected()
    finally:
        await asyncio.to_thread(lambda: [s.stop() for s in sims])
