"""The `DeviceLink` interface every transport implements, and the shared reconnect backoff."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from hub.messages import Command, DeviceMessage


class LinkError(Exception):
    """A link could not deliver: not connected, device not reachable over this link."""


@runtime_checkable
class DeviceLink(Protocol):
    """One transport's devices as a stream of typed messages, plus the way back to them.

    Used as an async context manager: entering starts the link's own tasks (connection,
    reconnects), leaving stops them. `messages()` has exactly one consumer, the hub. Where the
    transport acknowledges delivery (MQTT QoS 1), a message is acknowledged when the consumer
    asks for the next one, i.e. once the hub has finished with it: a hub that dies while
    handling a message gets it again (at least once, never lost).
    """

    async def __aenter__(self) -> DeviceLink: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def messages(self) -> AsyncIterator[DeviceMessage]: ...

    @property
    def connected(self) -> bool:
        """Whether the transport is up (the broker connection, the BLE adapter)."""
        ...

    def reaches(self, device_id: str) -> bool:
        """Whether commands for this device go over this link."""
        ...

    async def send_command(self, device_id: str, command: Command) -> None:
        """Hand a command to the transport (QoS 1 where it has one); LinkError if it cannot."""
        ...

    async def send_play(self, device_id: str, frame: bytes, session: int) -> None:
        """Send one encoded audio frame to the device's speaker (best effort)."""
        ...


class Backoff:
    """Capped exponential backoff with full jitter: delay in [min, min(max, min * 2**n)]."""

    def __init__(self, minimum: float, maximum: float, rng: random.Random | None = None) -> None:
        if not 0 < minimum <= maximum:
            raise ValueError("need 0 < minimum <= maximum")
        self.minimum = minimum
        self.maximum = maximum
        self.attempt = 0
        self._rng = rng or random.Random()

    def reset(self) -> None:
        self.attempt = 0

    def next_delay(self) -> float:
        cap = min(self.maximum, self.minimum * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return float(self.minimum + self._rng.random() * (cap - self.minimum))
