"""MQTT device link: the single owner of the hub's aiomqtt connection.

It connects with the hub's credentials and a Last Will that marks the hub offline, publishes the
hub's retained status, subscribes to every device's uplink topics, turns each message into a
typed message (`hub.messages`), and reconnects with capped, jittered backoff after a broker
restart or a network cut (re-subscribing every time). Its session is persistent
(clean_session=False) so QoS 1 messages that arrive while it reconnects wait in the broker.

QoS 1 messages are acknowledged (PUBACK) only after the hub has handled them, not when they
are decoded: paho's manual acknowledgement, sent when the hub asks for the next message. A
hub killed in between leaves the message unacknowledged in its persistent session, and the
broker delivers it again when the hub reconnects (with the DUP flag): at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiomqtt
import paho.mqtt.client as mqtt

from hub import wire
from hub.links.base import Backoff, LinkError
from hub.messages import (
    AudioFrame,
    Command,
    DeviceMessage,
    Rejected,
    RejectReason,
    Telemetry,
    decode_device_message,
)

log = logging.getLogger(__name__)

# uplink filters and the QoS the hub asks for (the broker delivers min(publish, subscribe))
UPLINK_FILTERS = (
    ("arma/v1/d/+/status", 1),
    ("arma/v1/d/+/telemetry", 0),
    ("arma/v1/d/+/event", 1),
    ("arma/v1/d/+/ack", 1),
    ("arma/v1/d/+/audio/+", 0),
)
TOPIC_CACHE = 8192


@dataclass(frozen=True, slots=True)
class MqttLinkConfig:
    hub_id: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 10
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 5.0
    queue_size: int = 10000
    publish_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        wire.check_id(self.hub_id, "hub id")
        if self.queue_size < 1:
            raise ValueError("queue_size must be positive")


def hub_status_payload(state: str) -> bytes:
    data: bytes = wire.encode_json("status", {"state": state, "ts": round(time.time(), 3)})
    return data


class MqttLink:
    """`DeviceLink` over MQTT. The incoming queue is bounded for QoS 0 traffic: when it holds
    `queue_size` messages, new telemetry and audio are dropped and counted (`dropped`)."""

    def __init__(self, config: MqttLinkConfig) -> None:
        self.config = config
        # bounded by _accept's overflow policy (asyncio's own bound would need an await)
        # (message, acknowledgement owed: (connection number, mid) for QoS 1, else None)
        self._queue: asyncio.Queue[tuple[DeviceMessage, tuple[int, int] | None]] = asyncio.Queue()
        self.dropped = 0
        self.ignored = 0  # cleared retained statuses (a device removed): nothing to hand on
        self._topics: dict[str, tuple[str, str, int | None]] = {}  # parsed topic cache
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()
        self._task: asyncio.Task[None] | None = None
        self.connects = 0
        # the connection PUBACKs go out on: (its number, its paho client)
        self._acker: tuple[int, mqtt.Client] | None = None
        self._generation = 0
        self.status_topic = wire.hub_topic(config.hub_id, "status")

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> MqttLink:
        tg = await self._stack.enter_async_context(asyncio.TaskGroup())
        self._task = tg.create_task(self._run(), name="mqtt-link")
        return self

    async def __aexit__(self, *exc: object) -> None:
        client = self._client
        if client is not None:
            # a clean disconnect does not fire the Will, so say "offline" ourselves
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(
                    self.status_topic,
                    hub_status_payload("offline"),
                    qos=1,
                    retain=True,
                    timeout=2.0,
                )
        if self._task is not None:
            self._task.cancel()
        await self._stack.aclose()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    # -- DeviceLink -------------------------------------------------------------------------------
    async def messages(self) -> AsyncIterator[DeviceMessage]:
        while True:
            msg, owed = await self._queue.get()
            yield msg
            if owed is not None:  # the hub is done with it (it asks for the next one)
                self._ack(owed)

    def _ack(self, owed: tuple[int, int]) -> None:
        generation, mid = owed
        if self._acker is None or self._acker[0] != generation:
            return  # that connection is gone; the broker re-sends the message on a new one
        self._acker[1].ack(mid, 1)  # no-op error code if it has just dropped

    def reaches(self, device_id: str) -> bool:
        return True  # the broker routes to any device that has credentials

    async def send_command(self, device_id: str, command: Command) -> None:
        await self._publish(wire.device_topic(device_id, "cmd"), command.encode(), qos=1)

    async def send_play(self, device_id: str, frame: bytes, session: int) -> None:
        await self._publish(wire.device_topic(device_id, "play", session), frame, qos=0)

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish on a hub topic (intent, reply, event) for local integrations."""
        await self._publish(topic, payload, qos=qos, retain=retain)

    async def _publish(self, topic: str, payload: bytes, *, qos: int, retain: bool = False) -> None:
        client = self._client
        if client is None:
            raise LinkError("MQTT link is not connected")
        try:
            await client.publish(
                topic, payload, qos=qos, retain=retain, timeout=self.config.publish_timeout_s
            )
        except aiomqtt.MqttError as exc:
            raise LinkError(f"publish to {topic} failed: {exc}") from exc

    # -- connection owner -----------------------------------------------------------------------
    def _make_client(self) -> aiomqtt.Client:
        cfg = self.config
        self._generation += 1
        client = aiomqtt.Client(
            cfg.host,
            cfg.port,
            username=cfg.username,
            password=cfg.password,
            identifier=f"arma-hub-{cfg.hub_id}",
            clean_session=False,
            keepalive=cfg.keepalive_s,
            will=aiomqtt.Will(self.status_topic, hub_status_payload("offline"), qos=1, retain=True),
            timeout=10.0,
            queue_type=self._inbox_type(self._generation),
        )
        # PUBACK after the hub has handled a message (`messages`), not before on_message
        # returns: paho has the switch, aiomqtt 2.5 (pinned) does not expose it
        paho = client._client
        paho.manual_ack_set(True)
        self._acker = (self._generation, paho)
        return client

    def _inbox_type(self, generation: int) -> type[asyncio.Queue[aiomqtt.Message]]:
        """aiomqtt hands every message to its queue's put_nowait from paho's read callback.
        Our "queue" decodes right there and passes typed messages on, which saves aiomqtt's
        per-message task and two event-loop turns (3x the throughput, see docs/hub.md)."""
        link = self

        class Inbox(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                owed = (generation, item.mid) if item.qos == 1 else None
                link._accept(item.topic.value, item.payload, owed)

            async def get(self) -> aiomqtt.Message:
                # nothing is ever queued here; iterating client.messages just waits for
                # the disconnection, which aiomqtt reports by raising MqttError
                await asyncio.get_running_loop().create_future()
                raise AssertionError("unreachable")

        return Inbox

    def _accept(self, topic: str, payload: object, owed: tuple[int, int] | None) -> None:
        decoded = self._decode(topic, payload)
        if decoded is None:
            self.ignored += 1
            if owed is not None:
                self._ack(owed)  # nothing to hand on (a cleared retained status)
            return
        if self._queue.qsize() >= self.config.queue_size and isinstance(
            decoded, (Telemetry, AudioFrame, Rejected)
        ):
            # overflow policy: drop the newest QoS 0 message (telemetry, audio) or refused
            # input and count it; status, events and acks (QoS 1) are always admitted, and
            # the broker holds back more than its in-flight window until the hub acknowledges
            if owed is not None:
                self._ack(owed)
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning(
                    "incoming queue full (%d): dropped %d QoS 0 messages so far",
                    self.config.queue_size,
                    self.dropped,
                )
            return
        self._queue.put_nowait((decoded, owed))

    async def _run(self) -> None:
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
        while True:
            delay = backoff.next_delay()
            try:
                async with self._make_client() as client:
                    await client.subscribe(list(UPLINK_FILTERS))
                    await client.publish(
                        self.status_topic, hub_status_payload("online"), qos=1, retain=True
                    )
                    self._client = client
                    self.connects += 1
                    self._connected.set()
                    backoff.reset()
                    log.info("MQTT link up (%s:%d)", self.config.host, self.config.port)
                    async for _ in client.messages:
                        pass  # messages arrive through the inbox (_accept)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT link down (%s); reconnecting in %.2f s", exc, delay)
            finally:
                self._client = None
                self._connected.clear()
            await asyncio.sleep(delay)

    def _decode(self, topic: str, payload: object) -> DeviceMessage | None:
        if not isinstance(payload, (bytes, bytearray)):
            payload = b"" if payload is None else str(payload).encode()
        parsed = self._topics.get(topic)
        if parsed is None:
            try:
                parsed = wire.parse_device_topic(topic)
            except wire.ProtocolError as exc:
                return Rejected(RejectReason.BAD_TOPIC, f"{topic!r}: {exc}")
            if parsed[2] is None:  # per-device topics repeat; audio sessions do not
                if len(self._topics) >= TOPIC_CACHE:
                    self._topics.clear()
                self._topics[topic] = parsed
        device_id, kind, session = parsed
        if kind == "status" and not payload:
            return None  # a cleared retained status (device removed), not a message
        return decode_device_message(device_id, kind, session, bytes(payload))
