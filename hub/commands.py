"""Hub → device commands: per-device bounded queue, ack matching, timeout and retry.

Commands to one device go out one at a time (a device handles one command at a time); callers
beyond `queue_per_device` waiting for a device are refused at once with `CommandQueueFull`
(overflow policy: reject newest, the caller decides). A retry re-sends the same command id, so
a device that already executed it answers with its remembered ack instead of acting twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from hub.links.base import LinkError
from hub.messages import Command, CommandAck
from hub.metrics import HubMetrics

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A command that did not get an ack; `code` is stable and goes into API errors."""

    code = "command_error"
    http_status = 500


class CommandTimeout(CommandError):
    code = "command_timeout"
    http_status = 504


class CommandQueueFull(CommandError):
    code = "command_queue_full"
    http_status = 429


class DeviceUnreachable(CommandError):
    code = "device_unreachable"
    http_status = 503


class CommandTransport(Protocol):
    async def send_command(self, device_id: str, command: Command) -> None: ...


def new_command_id() -> str:
    """Time-ordered and unique: milliseconds since the epoch in hex + 32 random bits."""
    return f"{int(time.time() * 1000):x}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class CommandResult:
    command: Command
    ack: CommandAck
    attempts: int
    elapsed_s: float


class CommandSender:
    def __init__(
        self,
        link: CommandTransport,
        metrics: HubMetrics,
        *,
        timeout_s: float,
        attempts: int,
        queue_per_device: int,
    ) -> None:
        self.link = link
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.queue_per_device = queue_per_device
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[str, int] = defaultdict(int)
        self._pending: dict[str, tuple[str, asyncio.Future[CommandAck]]] = {}

    def on_ack(self, ack: CommandAck) -> bool:
        """Route an ack to its waiting command; False for a late, duplicate or foreign ack."""
        entry = self._pending.get(ack.id)
        if entry is None or entry[0] != ack.device_id or entry[1].done():
            return False
        entry[1].set_result(ack)
        return True

    async def send(
        self,
        device_id: str,
        op: str,
        args: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> CommandResult:
        command = Command(new_command_id(), op, args or {})
        if self._waiting[device_id] >= self.queue_per_device:
            self.metrics.commands["queue_full"].inc()
            raise CommandQueueFull(f"{self.queue_per_device} commands already wait for {device_id}")
        self._waiting[device_id] += 1
        try:
            async with self._locks[device_id]:
                return await self._exchange(device_id, command, timeout_s or self.timeout_s)
        finally:
            self._waiting[device_id] -= 1
            if not self._waiting[device_id]:
                del self._waiting[device_id]
                self._locks.pop(device_id, None)

    async def _exchange(self, device_id: str, command: Command, timeout_s: float) -> CommandResult:
        started = time.monotonic()
        future: asyncio.Future[CommandAck] = asyncio.get_running_loop().create_future()
        self._pending[command.id] = (device_id, future)
        try:
            for attempt in range(1, self.attempts + 1):
                if attempt > 1:
                    self.metrics.commands["retried"].inc()
                    log.info("command %s to %s: no ack, retry %d", command.id, device_id, attempt)
                try:
                    await self.link.send_command(device_id, command)
                except LinkError as exc:
                    if attempt == self.attempts:
                        self.metrics.commands["unreachable"].inc()
                        raise DeviceUnreachable(str(exc)) from exc
                    await asyncio.sleep(min(timeout_s, 0.5))
                    continue
                try:
                    ack = await asyncio.wait_for(asyncio.shield(future), timeout_s)
                except TimeoutError:
                    continue
                self.metrics.commands["acked" if ack.ok else "failed"].inc()
                return CommandResult(command, ack, attempt, time.monotonic() - started)
            self.metrics.commands["timeout"].inc()
            raise CommandTimeout(
                f"{device_id} did not ack {command.op} ({self.attempts} attempts x {timeout_s} s)"
            )
        finally:
            self._pending.pop(command.id, None)
            future.cancel()
