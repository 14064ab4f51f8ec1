"""The hub process: links → registry, commands, audio hook; HTTP API in the same event loop.

`Hub.run(stop)` owns every task in one TaskGroup and returns after a clean shutdown: HTTP
server closed, links closed (the MQTT link publishes the hub's offline status), registry
flushed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

import uvicorn

from hub.api import create_app
from hub.audio import AudioSink, DroppingAudioSink
from hub.commands import CommandSender
from hub.credentials import CredentialStore
from hub.links.base import DeviceLink, LinkError
from hub.links.mqtt import MqttLink, MqttLinkConfig
from hub.messages import (
    AudioFrame,
    Command,
    CommandAck,
    DeviceEvent,
    DeviceMessage,
    DeviceStatus,
    Rejected,
    RejectReason,
    Telemetry,
)
from hub.metrics import HubMetrics
from hub.registry import DeviceRecord, Registry
from hub.settings import HubSettings

log = logging.getLogger(__name__)

PARKED_STATUS_MAX = 1024
KNOWN_REFRESH_S = 1.0

# awaited for each accepted status, telemetry and event message with the device's record
# after the update; the message is acknowledged to the device (QoS 1) only afterwards
Forwarder = Callable[[DeviceStatus | Telemetry | DeviceEvent, DeviceRecord], Awaitable[None]]


class _QuietServer(uvicorn.Server):
    """uvicorn inside our loop: the hub, not uvicorn, owns SIGINT/SIGTERM."""

    def install_signal_handlers(self) -> None:
        pass

    def capture_signals(self) -> contextlib.nullcontext[None]:  # type: ignore[override]
        return contextlib.nullcontext()


class _RateLimitedLog:
    """At most one line per key per interval, saying how many were suppressed."""

    def __init__(self, interval_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self._last: dict[str, tuple[float, int]] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        last, suppressed = self._last.get(key, (0.0, 0))
        if now - last < self.interval_s:
            self._last[key] = (last, suppressed + 1)
            return
        self._last[key] = (now, 0)
        log.warning(msg + (f" (+{suppressed} similar)" if suppressed else ""), *args)


class Hub:
    def __init__(
        self,
        settings: HubSettings,
        *,
        links: Sequence[DeviceLink] | None = None,
        audio_sink: AudioSink | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = HubMetrics()
        self.store = CredentialStore(settings.data_dir)
        self.registry = Registry(settings.registry_path, settings.registry_flush_s)
        self.links: list[DeviceLink] = list(links) if links is not None else [self._mqtt_link()]
        self.commands = CommandSender(
            _Router(self.links),
            self.metrics,
            timeout_s=settings.command_timeout_s,
            attempts=settings.command_attempts,
            queue_per_device=settings.command_queue_per_device,
        )
        self.audio_sink: AudioSink = audio_sink or DroppingAudioSink()
        self.http_port: int | None = None
        self.started = asyncio.Event()
        self._known_version = -1
        self._last_refresh = 0.0
        self._parked: collections.OrderedDict[str, DeviceStatus] = collections.OrderedDict()
        self._log = _RateLimitedLog()
        self._forwarders: list[Forwarder] = []
        self.metrics.bind_live(
            self.registry.online_count,
            self.registry.count,
            lambda: 1.0 if self.link_connected() else 0.0,
        )

    def _mqtt_link(self) -> MqttLink:
        s = self.settings
        username, password = s.mqtt_username, s.mqtt_password
        if username is None and self.store.hub_path.exists():
            username, password = self.store.hub_credentials()
        return MqttLink(
            MqttLinkConfig(
                hub_id=s.hub_id,
                host=s.mqtt_host,
                port=s.mqtt_port,
                username=username,
                password=password,
                keepalive_s=s.mqtt_keepalive_s,
                reconnect_min_s=s.reconnect_min_s,
                reconnect_max_s=s.reconnect_max_s,
                queue_size=s.incoming_queue,
            )
        )

    def add_forwarder(self, forwarder: Forwarder) -> None:
        """Awaited for every accepted status, telemetry and event message, before the link
        acknowledges it: a forwarder that makes the message durable (the voice runtime's
        outbox) loses nothing if the hub dies. A forwarder that raises is logged and counted;
        the message still counts as handled."""
        self._forwarders.append(forwarder)

    def link_connected(self) -> bool:
        return any(link.connected for link in self.links)

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.settings.http_host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.settings.http_host, self.settings.http_port))
        except OSError:
            sock.close()
            raise
        self.http_port = sock.getsockname()[1]
        server = _QuietServer(
            uvicorn.Config(
                create_app(self),
                log_level="warning",
                lifespan="off",
                access_log=False,
                timeout_graceful_shutdown=5,
            )
        )
        await asyncio.to_thread(self.registry.open)
        await self._refresh_known(force=True)
        try:
            async with contextlib.AsyncExitStack() as links, asyncio.TaskGroup() as tg:
                for link in self.links:
                    await links.enter_async_context(link)
                workers = [tg.create_task(self._consume(link)) for link in self.links]
                workers.append(
                    tg.create_task(self.registry.run_flusher(self.metrics.registry_flushes.inc))
                )
                workers.append(tg.create_task(self._watch_credentials()))
                http = tg.create_task(server.serve(sockets=[sock]))
                self.started.set()
                log.info(
                    "hub %s up; API on http://%s:%d",
                    self.settings.hub_id,
                    self.settings.http_host,
                    self.http_port,
                )
                await stop.wait()
                log.info("hub %s stopping", self.settings.hub_id)
                server.should_exit = True
                await http
                for task in workers:
                    task.cancel()
        finally:
            sock.close()
            await asyncio.to_thread(self.registry.close)
            log.info("hub %s stopped; registry flushed", self.settings.hub_id)

    # -- provisioning changes -------------------------------------------------------------------
    async def _watch_credentials(self) -> None:
        while True:
            await asyncio.sleep(KNOWN_REFRESH_S)
            await self._refresh_known()

    async def _refresh_known(self, force: bool = False) -> None:
        self._last_refresh = time.monotonic()
        version = await asyncio.to_thread(self.store.version)
        if version == self._known_version and not force:
            return
        ids = await asyncio.to_thread(self.store.device_ids)
        self._known_version = version
        before = {r.device_id for r in self.registry.all()}
        self.registry.set_known(ids)
        for device_id in ids - before:
            parked = self._parked.pop(device_id, None)
            if parked is not None:
                self.registry.apply_status(parked)
                await self._forward(parked)
        if ids != before:
            log.info(
                "devices: %d provisioned (+%d, -%d)", len(ids), len(ids - before), len(before - ids)
            )

    # -- message handling -----------------------------------------------------------------------
    async def _consume(self, link: DeviceLink) -> None:
        async for msg in link.messages():
            if isinstance(msg, Rejected):
                self._reject(msg)
                continue
            if not self.registry.is_known(msg.device_id):
                if time.monotonic() - self._last_refresh > 0.2:
                    await self._refresh_known()
                if not self.registry.is_known(msg.device_id):
                    self._unknown(msg)
                    continue
            try:
                await self._handle(msg)
            except Exception as exc:  # noqa: BLE001 - never crash on a message (it would come back)
                # a QoS 1 message is re-sent until handled: a message that crashed the hub
                # would crash it again on every restart, so it counts as handled here
                self.metrics.handle_errors.inc()
                self._log.warning("handle", "handling %s failed: %r", type(msg).__name__, exc)

    async def _handle(self, msg: DeviceMessage) -> None:
        m = self.metrics.messages
        if isinstance(msg, Telemetry):
            self.registry.apply_telemetry(msg)
            m["telemetry"].inc()
        elif isinstance(msg, AudioFrame):
            m["audio"].inc()
            self.registry.mark_seen(msg.device_id, msg.received_at)
            await self.audio_sink.on_frame(msg)
        elif isinstance(msg, DeviceStatus):
            self.registry.apply_status(msg)
            m["status"].inc()
        elif isinstance(msg, DeviceEvent):
            self.registry.apply_event(msg)
            m["event"].inc()
            log.info("event from %s: %s %s", msg.device_id, msg.type, msg.action or "")
        elif isinstance(msg, CommandAck):
            m["ack"].inc()
            self.registry.mark_seen(msg.device_id, msg.received_at)
            if not self.commands.on_ack(msg):
                log.debug("ack %s from %s matches no waiting command", msg.id, msg.device_id)
        if isinstance(msg, (DeviceStatus, Telemetry, DeviceEvent)):
            await self._forward(msg)

    async def _forward(self, msg: DeviceStatus | Telemetry | DeviceEvent) -> None:
        if self._forwarders:
            record = self.registry.get(msg.device_id)
            assert record is not None  # only known devices are handled or unparked
            for forward in self._forwarders:
                try:
                    await forward(msg, record)
                except Exception as exc:  # noqa: BLE001 - one bad forwarder must not stop the link
                    self.metrics.forward_errors.inc()
                    self._log.warning(
                        "forward", "forwarding %s failed: %r", type(msg).__name__, exc
                    )

    def _reject(self, msg: Rejected) -> None:
        self.metrics.rejected[msg.reason].inc()
        self._log.warning(
            f"reject:{msg.reason}",
            "refused %s from %s (%s): %s",
            msg.kind or "message",
            msg.device_id or "?",
            msg.reason.value,
            msg.detail,
        )

    def _unknown(self, msg: DeviceMessage) -> None:
        assert not isinstance(msg, Rejected)
        self.metrics.rejected[RejectReason.UNKNOWN_DEVICE].inc()
        if isinstance(msg, DeviceStatus):
            self._parked[msg.device_id] = msg
            self._parked.move_to_end(msg.device_id)
            while len(self._parked) > PARKED_STATUS_MAX:
                self._parked.popitem(last=False)
        self._log.warning("unknown", "message from unknown device %s dropped", msg.device_id)


class _Router:
    """Commands go out over the first link that reaches the device."""

    def __init__(self, links: list[DeviceLink]) -> None:
        self.links = links

    async def send_command(self, device_id: str, command: Command) -> None:
        for link in self.links:
            if link.reaches(device_id):
                await link.send_command(device_id, command)
                return
        raise LinkError(f"no link reaches {device_id}")


async def serve_until_signal(hub: Hub, on_started: Callable[[Hub], None] | None = None) -> None:
    """Run `hub` until SIGINT or SIGTERM, then shut it down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(hub.run(stop))
            started = tg.create_task(hub.started.wait())
            await asyncio.wait((runner, started), return_when=asyncio.FIRST_COMPLETED)
            if started.done() and on_started is not None:
                on_started(hub)
    except ExceptionGroup as group:
        if len(group.exceptions) == 1:  # one failure (port taken, ...): report it plainly
            raise group.exceptions[0] from None
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
