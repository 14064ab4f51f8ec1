"""A QoS 1 message is acknowledged only after the hub has handled it, so a hub that dies
while handling loses nothing: the broker delivers the message again when the hub is back.

How we tried to break it: a forwarder that never returns on the first button event stands
for a hub stuck or dying in the middle of handling (writing to its outbox, say). Five more
events queue behind it. That hub is then stopped, and a second hub with the same identity
(the same persistent MQTT session) must receive all six. When the link acknowledged on
decoding, as it did before, the broker had forgotten all six by then.

Also: QoS 1 messages the link takes without handing them on (a cleared retained status)
are acknowledged at once, refused input once counted, or they would sit in the broker's
in-flight window (20 messages on a default Mosquitto) and stall everything behind them, and
come back after every reconnect.
"""

from __future__ import annotations

import asyncio

from hub.links.mqtt import MqttLink
from hub.messages import AudioFrame, DeviceEvent, DeviceStatus, Telemetry
from hub.registry import DeviceRecord
from hub.service import Forwarder, Hub
from tests.hub.conftest import ManagedBroker, wait_until

Msg = DeviceStatus | Telemetry | DeviceEvent


def refused(hub: Hub) -> int:
    return int(sum(c._value.get() for c in hub.metrics.rejected.values()))


def recorder(into: list[str]) -> Forwarder:
    """A forwarder that notes the detail of every button event."""

    async def record(msg: Msg, _record: DeviceRecord) -> None:
        if isinstance(msg, DeviceEvent):
            into.append(msg.detail or "")

    return record


async def test_an_event_the_hub_died_handling_is_delivered_again(
    broker: ManagedBroker, hub_for
) -> None:
    (creds,) = broker.add_devices(["counter-1"])
    sim = broker.sim(creds)
    sim.start()
    try:
        await asyncio.to_thread(sim.wait_connected, 10)
        stuck = asyncio.Event()
        first_hub: list[str] = []

        async def stuck_on_first_event(msg: Msg, _record: DeviceRecord) -> None:
            if isinstance(msg, DeviceEvent):
                first_hub.append(msg.detail or "")
                stuck.set()
                await asyncio.Event().wait()  # never returns: the hub is "dying" here

        async with hub_for([stuck_on_first_event]) as hub:
            await wait_until(lambda: hub.registry.online_count() == 1, timeout=10)
            infos = [sim.send_event("button", "press", detail=f"seq={i}") for i in range(6)]
            for info in infos:
                await asyncio.to_thread(info.wait_for_publish, 5)  # the broker has them all
            await asyncio.wait_for(stuck.wait(), 10)
            await asyncio.sleep(0.5)  # the other five are in the hub's queue by now
        assert first_hub == ["seq=0"]  # it never got past the first one

        second_hub: list[str] = []
        async with hub_for([recorder(second_hub)]):
            await wait_until(lambda: len(second_hub) >= 6, timeout=10)
            await asyncio.sleep(0.3)
        assert second_hub == [f"seq={i}" for i in range(6)]  # all of them, in order, once
    finally:
        await asyncio.to_thread(sim.stop)


async def test_handled_messages_are_not_delivered_again(broker: ManagedBroker, hub_for) -> None:
    """The other half: what the hub finished with is acknowledged, including refused input
    and cleared statuses, so a restarted hub gets nothing twice and the in-flight window
    (Mosquitto's default: 20 messages) never fills up with messages nobody acknowledges."""
    (creds,) = broker.add_devices(["counter-2"])
    sim = broker.sim(creds)
    sim.start()
    try:
        await asyncio.to_thread(sim.wait_connected, 10)
        seen: list[str] = []
        async with hub_for([recorder(seen)]) as hub:
            await wait_until(lambda: hub.registry.online_count() == 1, timeout=10)
            base = f"arma/v1/d/{creds.device_id}"
            for i in range(30):  # more of each than a default in-flight window
                sim.client.publish(f"{base}/event", b"{not json", qos=1)  # refused
                sim.client.publish(f"{base}/status", b"", qos=1)  # nothing to hand on
                sim.send_event("button", "press", detail=f"seq={i}")
            await wait_until(lambda: len(seen) == 30, timeout=10)
            link = hub.links[0]
            assert isinstance(link, MqttLink)
            await wait_until(lambda: link.ignored == 30 and refused(hub) == 30, timeout=10)
        assert seen == [f"seq={i}" for i in range(30)]

        again: list[str] = []
        async with hub_for([recorder(again)]) as hub:
            await wait_until(lambda: hub.registry.online_count() == 1, timeout=10)
            sim.send_event("button", "press", detail="after-restart")
            await wait_until(lambda: "after-restart" in again, timeout=10)
            await asyncio.sleep(0.3)
            link = hub.links[0]
            assert isinstance(link, MqttLink)
            # nothing of the first hub's came back: not the events, not the refused input,
            # not the cleared statuses
            assert (link.ignored, refused(hub)) == (0, 0)
        assert again == ["after-restart"]
    finally:
        await asyncio.to_thread(sim.stop)


async def test_a_message_whose_handling_raises_does_not_stop_the_hub(
    broker: ManagedBroker, hub_for
) -> None:
    """Since a QoS 1 message comes back until it is handled, one that crashed the hub would
    crash it again on every restart: handling errors are counted and the hub goes on."""

    class BrokenSink:
        async def on_frame(self, frame: AudioFrame) -> None:
            raise RuntimeError("voice pipeline bug")

    (creds,) = broker.add_devices(["counter-3"])
    sim = broker.sim(creds)
    sim.start()
    seen: list[str] = []
    try:
        await asyncio.to_thread(sim.wait_connected, 10)
        async with hub_for([recorder(seen)]) as hub:
            hub.audio_sink = BrokenSink()
            await wait_until(lambda: hub.registry.online_count() == 1, timeout=10)
            await asyncio.to_thread(sim.stream_audio, bytes(3200), realtime=False)
            sim.send_event("button", "press", detail="after-the-bug")
            await wait_until(lambda: seen == ["after-the-bug"], timeout=10)
            assert hub.metrics.handle_errors._value.get() >= 1
    finally:
        await asyncio.to_thread(sim.stop)
