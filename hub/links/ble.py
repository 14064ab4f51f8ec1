"""BLE device link: GATT devices become the same typed message stream as MQTT ones.

Each bound device has a `BleTransport` (the radio boundary). The real one, `BleakTransport`,
talks to BlueZ through bleak; tests use a fake with the same five members. Over the link,
messages are the codec's BLE messages (kind byte + the MQTT payload) fragmented to the ATT
MTU; the link reassembles notifications, decodes them with `decode_device_message`, and plays
the broker's part for availability: a connection yields "online", a lost one yields "offline"
(the BLE counterpart of the Last Will). It reconnects with the same capped, jittered backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

from hub import wire
from hub.links.base import Backoff, LinkError
from hub.messages import (
    AudioFrame,
    Command,
    DeviceMessage,
    DeviceStatus,
    Rejected,
    RejectReason,
    Telemetry,
    decode_device_message,
)

log = logging.getLogger(__name__)

UPLINK_KINDS = ("status", "telemetry", "event", "ack", "audio")


class BleTransport(Protocol):
    """One GATT connection to one device: everything the link needs from a radio."""

    @property
    def is_connected(self) -> bool: ...

    @property
    def mtu(self) -> int: ...

    async def connect(
        self, on_notify: Callable[[bytes], None], on_disconnect: Callable[[], None]
    ) -> None:
        """Connect and subscribe to the device's notify characteristic."""
        ...

    async def write(self, data: bytes) -> None:
        """Write one ATT payload (without response) to the device's write characteristic."""
        ...

    async def disconnect(self) -> None: ...


class BleakTransport:
    """The real adapter (bleak → BlueZ/D-Bus). Needs a Bluetooth adapter to do anything."""

    def __init__(self, address: str, timeout_s: float = 20.0) -> None:
        from bleak import BleakClient

        self.address = address
        self._client: Any = None
        self._client_type = BleakClient
        self.timeout_s = timeout_s

    @property
    def is_connected(self) -> bool:
        return bool(self._client is not None and self._client.is_connected)

    @property
    def mtu(self) -> int:
        return int(self._client.mtu_size) if self._client is not None else 23

    async def connect(
        self, on_notify: Callable[[bytes], None], on_disconnect: Callable[[], None]
    ) -> None:
        client = self._client_type(
            self.address,
            disconnected_callback=lambda _c: on_disconnect(),
            timeout=self.timeout_s,
        )
        await client.connect()
        await client.start_notify(wire.BLE_UP_UUID, lambda _ch, data: on_notify(bytes(data)))
        self._client = client

    async def write(self, data: bytes) -> None:
        if self._client is None:
            raise LinkError(f"{self.address} not connected")
        await self._client.write_gatt_char(wire.BLE_DOWN_UUID, data, response=False)

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.disconnect()


class _Peer:
    def __init__(self, device_id: str, transport: BleTransport) -> None:
        self.device_id = device_id
        self.transport = transport
        self.reassembler = wire.Reassembler()
        self.lost = asyncio.Event()
        self.msg_no = 0
        self.write_lock = asyncio.Lock()


class BleLink:
    """`DeviceLink` over BLE for a fixed set of bound devices (device id → transport)."""

    def __init__(
        self,
        transports: Mapping[str, BleTransport],
        *,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        queue_size: int = 10000,
    ) -> None:
        self._peers = {d: _Peer(wire.check_id(d), t) for d, t in transports.items()}
        self._queue: asyncio.Queue[DeviceMessage] = asyncio.Queue()
        self._queue_size = queue_size
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._stack = contextlib.AsyncExitStack()
        self.dropped = 0

    async def __aenter__(self) -> BleLink:
        tg = await self._stack.enter_async_context(asyncio.TaskGroup())
        self._tasks = [tg.create_task(self._keep_connected(p)) for p in self._peers.values()]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await self._stack.aclose()
        for peer in self._peers.values():
            with contextlib.suppress(Exception):  # the radio may already be gone
                await peer.transport.disconnect()

    @property
    def connected(self) -> bool:
        return any(p.transport.is_connected for p in self._peers.values())

    async def messages(self) -> AsyncIterator[DeviceMessage]:
        while True:
            yield await self._queue.get()

    def reaches(self, device_id: str) -> bool:
        peer = self._peers.get(device_id)
        return peer is not None and peer.transport.is_connected

    async def send_command(self, device_id: str, command: Command) -> None:
        await self._send(device_id, "cmd", command.encode())

    async def send_play(self, device_id: str, frame: bytes, session: int) -> None:
        await self._send(device_id, "play", frame)

    async def _send(self, device_id: str, kind: str, body: bytes) -> None:
        peer = self._peers.get(device_id)
        if peer is None or not peer.transport.is_connected:
            raise LinkError(f"{device_id} is not connected over BLE")
        try:
            message = wire.ble_message(kind, body)
            async with peer.write_lock:  # fragments of two messages must not interleave
                peer.msg_no = (peer.msg_no + 1) & 0xFF
                for part in wire.fragment(message, peer.msg_no, peer.transport.mtu):
                    await peer.transport.write(part)
        except (wire.ProtocolError, OSError) as exc:
            raise LinkError(f"BLE send to {device_id} failed: {exc}") from exc

    # -- per-device connection owner -------------------------------------------------------------
    async def _keep_connected(self, peer: _Peer) -> None:
        backoff = Backoff(*self._backoff)
        while True:
            peer.lost.clear()
            peer.reassembler = wire.Reassembler()
            try:
                await peer.transport.connect(
                    lambda data: self._on_notify(peer, data), peer.lost.set
                )
            except Exception as exc:  # noqa: BLE001 - bleak/BlueZ raise many types; all mean retry
                delay = backoff.next_delay()
                log.info("BLE %s: connect failed (%s); retry in %.1f s", peer.device_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            self._put(DeviceStatus(peer.device_id, "online"))
            await peer.lost.wait()
            self._put(DeviceStatus(peer.device_id, "offline"))
            log.info("BLE %s: connection lost", peer.device_id)

    def _on_notify(self, peer: _Peer, data: bytes) -> None:
        try:
            message = peer.reassembler.feed(data)
            if message is None:
                return
            kind, body = wire.parse_ble_message(message)
        except wire.ProtocolError as exc:
            self._put(Rejected(RejectReason.MALFORMED, f"BLE: {exc}", peer.device_id))
            return
        if kind not in UPLINK_KINDS:
            self._put(
                Rejected(
                    RejectReason.BAD_TOPIC, f"devices do not send {kind}", peer.device_id, kind
                )
            )
            return
        self._put(decode_device_message(peer.device_id, kind, None, body))

    def _put(self, msg: DeviceMessage) -> None:
        if self._queue.qsize() >= self._queue_size and isinstance(
            msg, (Telemetry, AudioFrame, Rejected)
        ):
            self.dropped += 1  # same policy as the MQTT link: newest dropped, counted
            return
        self._queue.put_nowait(msg)
