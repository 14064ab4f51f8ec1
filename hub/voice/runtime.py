"""Wiring of the voice path inside the hub process: domains compiled against the synced catalog,
one shared speech recogniser, the outbox + sync agent, and the VoiceService.

`VoiceRuntime` is used next to `Hub.run` (same event loop): it is the hub's audio sink, sends
replies through the hub's links, publishes recognised intents on the hub's MQTT topics, and
forwards the devices' status to the cloud as `device.status` events (`attach` wires all of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from cloud_sync.agent import SyncAgent
from cloud_sync.events import DeviceStatus as DeviceStatusData
from cloud_sync.events import Event
from cloud_sync.outbox import Outbox
from hub.messages import DeviceEvent, DeviceStatus, Telemetry
from hub.registry import DeviceRecord
from hub.service import Hub
from hub.voice.catalog import LocalCatalog
from hub.voice.dialogue import DIALOGUE_INTENTS, Dialogue
from hub.voice.homeassistant import HomeAssistantDiscovery
from hub.voice.service import Conversation, EventSink, PlayTarget, Publisher, VoiceService
from hub.voice.tts import CachedSynthesizer, EspeakSynthesizer, Synthesizer
from models.domain import CompiledDomain, compile_domain, domain_from_dict
from models.engine import Engine

log = logging.getLogger(__name__)
ANSWER_INTENT = "ProvideInfo"


def with_answer_intent(data: dict[str, Any]) -> dict[str, Any]:
    """Add an intent whose sentences are the bare slot answers the dialogue asks for
    ("saat üçte", "two"), so the speech decoder's graph accepts a reply to "Saat kaçta?"."""
    asked: set[str] = set()
    for spec in (data.get("intents") or {}).values():
        if isinstance(spec, dict):
            asked.update((spec.get("ask") or {}).keys())
    lists = data.get("lists") or {}
    sentences = sorted(f"{{{slot}}}" for slot in asked if slot in lists)
    if "date" in asked and "time" in asked and "date" in lists and "time" in lists:
        sentences.append("{date} {time}")
    if not sentences:
        return data
    out = dict(data)
    out["intents"] = {**data["intents"], ANSWER_INTENT: {"data": [{"sentences": sentences}]}}
    return out


def compile_for_hub(path: Path, catalog: LocalCatalog | None) -> CompiledDomain:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    bound = catalog.domain_catalog() if catalog is not None else None
    return compile_domain(
        domain_from_dict(with_answer_intent(data), catalog=bound, source=str(path))
    )


class OutboxEventSink:
    """Events become durable in the outbox before `emit` returns; then the agent is nudged.

    Per-device sequence numbers are the previous one + 1, and never below the wall clock in
    milliseconds, so they keep rising across hub restarts without extra state.
    """

    def __init__(
        self,
        outbox: Outbox,
        tenant_id: uuid.UUID,
        hub_id: uuid.UUID,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.tenant_id = tenant_id
        self.hub_id = hub_id
        self.notify = notify
        self._seq: dict[str, int] = {}

    async def emit(self, device_id: str, data: BaseModel) -> None:
        seq = max(self._seq.get(device_id, -1) + 1, time.time_ns() // 1_000_000)
        self._seq[device_id] = seq
        event = Event.create(
            tenant_id=self.tenant_id, hub_id=self.hub_id, device_id=device_id, seq=seq, data=data
        )
        await asyncio.to_thread(self.outbox.enqueue, event)
        if self.notify is not None:
            self.notify()


STATUS_EVENT_INTERVAL_S = 300.0


def status_data(record: DeviceRecord, readings: bool = True) -> DeviceStatusData:
    """The registry's view of a device as a `device.status` payload. Readings outside what
    the cloud accepts (a device's bug) are left out rather than refused. Without `readings`,
    and always for an offline device, only the state and firmware: the registry's readings
    may date from before the device went away."""

    def within(value: float | None, low: int, high: int | None = None) -> int | None:
        if value is None or not math.isfinite(value):
            return None
        number = round(value)
        return number if low <= number and (high is None or number <= high) else None

    fresh = record.online and readings
    return DeviceStatusData(
        online=record.online,
        battery_pct=within(record.battery, 0, 100) if fresh else None,
        rssi_dbm=within(record.rssi, -127, 0) if fresh else None,
        uptime_s=within(record.uptime, 0) if fresh else None,
        free_heap=within(record.heap, 0) if fresh else None,
        firmware=record.fw[:32] if record.fw else None,
    )


class DeviceStatusForwarder:
    """A hub forwarder (`Hub.add_forwarder`) that turns the devices' status into
    `device.status` events in the outbox: at once when a device goes online or offline (and
    for the first message of each device after the hub starts), with the first telemetry
    after an event that had no readings (status events carry none: a device says "online"
    before its first report, and the registry's readings may be from before it left),
    and otherwise from telemetry at most every `interval_s` per device, so a fleet reporting
    every few seconds does not fill the outbox. The event is durable before the hub
    acknowledges the device's message.

    Until the runtime runs (it sets its event sink first thing), nothing is sent; then
    `catch_up` sends the state of every device seen so far."""

    def __init__(
        self,
        sink: Callable[[], EventSink | None],
        interval_s: float = STATUS_EVENT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self.interval_s = interval_s
        self._clock = clock
        # device -> (online sent, when, whether it was made from a report)
        self._last: dict[str, tuple[bool, float, bool]] = {}
        self.sent = 0
        self.errors = 0  # catch_up's; the hub counts the forwarder's own

    async def __call__(
        self, msg: DeviceStatus | Telemetry | DeviceEvent, record: DeviceRecord
    ) -> None:
        if isinstance(msg, DeviceEvent):
            return
        sink = self._sink()
        if sink is None:
            return
        now = self._clock()
        last = self._last.get(record.device_id)
        due = (
            last is None
            or last[0] != record.online
            or (isinstance(msg, Telemetry) and (not last[2] or now - last[1] >= self.interval_s))
        )
        if due:
            await self._send(sink, record, now, readings=isinstance(msg, Telemetry))

    async def catch_up(self, records: Iterable[DeviceRecord]) -> None:
        """The event sink is there now: send every device that reported before it was (the
        hub may have started first and taken the devices' retained statuses)."""
        sink = self._sink()
        if sink is None:
            return
        for record in records:
            if record.device_id not in self._last and record.state != "unknown":
                try:
                    await self._send(sink, record, self._clock(), readings=False)
                except Exception as exc:  # noqa: BLE001 - one device must not stop the runtime
                    self.errors += 1
                    log.warning("device.status for %s not queued: %r", record.device_id, exc)

    async def _send(
        self, sink: EventSink, record: DeviceRecord, now: float, *, readings: bool
    ) -> None:
        # noted before the write, so a message that arrives meanwhile does not send it twice
        previous = self._last.get(record.device_id)
        self._last[record.device_id] = (record.online, now, readings)
        try:
            await sink.emit(record.device_id, status_data(record, readings))
        except BaseException:
            if previous is None:
                self._last.pop(record.device_id, None)
            else:
                self._last[record.device_id] = previous
            raise
        self.sent += 1


@dataclass
class VoiceConfig:
    domains: Mapping[str, Path]  # language -> domain file
    default_language: str = "tr"
    device_languages: Mapping[str, str] = field(default_factory=dict)
    data_dir: Path = Path(".arma-data")
    cloud_url: str | None = None
    hub_token: str | None = None
    cloud_hub_id: str | None = None
    tenant_id: str | None = None
    threads: int = 1


class VoiceRuntime:
    def __init__(
        self,
        config: VoiceConfig,
        play: PlayTarget,
        *,
        hub_id: str,
        publisher: Publisher | None = None,
        synthesizer: Synthesizer | None = None,
        devices: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.config = config
        self.devices = devices
        self.discovery = (
            HomeAssistantDiscovery(publisher, hub_id) if publisher is not None else None
        )
        self.outbox = Outbox(config.data_dir / "outbox.sqlite3")
        self.agent: SyncAgent | None = None
        if config.cloud_url and config.hub_token:
            self.agent = SyncAgent(
                self.outbox,
                config.cloud_url,
                config.hub_token,
                hub_id=config.cloud_hub_id,
                sync_interval=60.0,
                sync_cache=config.data_dir / "sync.json",
                on_sync=self._on_sync,
            )
        self.device_status = DeviceStatusForwarder(lambda: self.service.events)
        self.device_records: Callable[[], Iterable[DeviceRecord]] = list  # set by `attach`
        self.catalog: LocalCatalog | None = None
        self._compiled: dict[str, CompiledDomain] = {}
        self._engines: dict[str, Engine] = {}
        self._recognizer: Any = None
        self.ready = asyncio.Event()
        self.service = VoiceService(
            self._conversation,
            synthesizer or CachedSynthesizer(EspeakSynthesizer()),
            play,
            hub_id=hub_id,
            publisher=publisher,
            events=None,
        )

    # -- catalog and domains -------------------------------------------------------------
    async def _on_sync(self, document: dict[str, Any]) -> None:
        """A new sync document: new stock and prices always; the domains are compiled again
        only when what customers can name (the catalog's names and ids) changed."""
        catalog = LocalCatalog.from_sync_document(document)
        same_names = self.catalog is not None and (
            self.catalog.domain_catalog() == catalog.domain_catalog()
        )
        if not same_names:
            await asyncio.to_thread(self._load, catalog)
        self.catalog = catalog
        for conv in self.service.conversations.values():  # on the loop: no turn is half-done
            lang = conv.dialogue.language
            conv.engine = self._engines.get(lang, conv.engine)
            conv.dialogue.compiled = self._compiled.get(lang, conv.dialogue.compiled)
            conv.dialogue.catalog = catalog

    def _load(self, catalog: LocalCatalog | None) -> None:
        """Compile every domain against `catalog` (a thread: this takes seconds)."""
        from models.asr.recognizer import Recognizer

        if self._recognizer is None:
            self._recognizer = Recognizer(threads=self.config.threads)
        compiled = {
            lang: compile_for_hub(path, catalog) for lang, path in self.config.domains.items()
        }
        # the engine reads "yarın" on the service's clock, the one the dialogue judges by
        engines = {
            lang: Engine(c, recognizer=self._recognizer, clock=self.service.clock)
            for lang, c in compiled.items()
        }
        for engine in engines.values():
            # the search Dialogue.listening_for asks for after "do you confirm?": built here
            # (a thread) rather than by the first such session on the event loop (~60 ms)
            engine.automaton_for(DIALOGUE_INTENTS)
        self._compiled, self._engines, self.catalog = compiled, engines, catalog
        log.info(
            "voice: %d domain(s) compiled, %d offerings",
            len(compiled),
            len(catalog.offerings) if catalog else 0,
        )

    def _conversation(self, device_id: str) -> Conversation:
        lang = self.config.device_languages.get(device_id, self.config.default_language)
        if not self._engines:
            raise LookupError("voice runtime not ready")
        if lang not in self._engines:
            lang = next(iter(self._engines))
        return Conversation(self._engines[lang], Dialogue(self._compiled[lang], self.catalog))

    # -- run -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        tenant, hub = self._ids()
        self.service.events = OutboxEventSink(
            self.outbox, tenant, hub, self.agent.notify if self.agent else None
        )
        await self.device_status.catch_up(self.device_records())
        async with contextlib.AsyncExitStack() as stack:
            if self.agent is not None:
                await stack.enter_async_context(self.agent)
                # the agent pulls the sync document as it starts; wait a little for a first
                # copy, else run on the cached one (or none: catalog answers then fail politely)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):
                        while self.agent.sync_document is None:  # noqa: ASYNC110 - agent state
                            await asyncio.sleep(0.1)
                doc = self.agent.sync_document
                catalog = LocalCatalog.from_sync_document(doc) if doc else None
            else:
                catalog = None
            await asyncio.to_thread(self._load, catalog)
            self.ready.set()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.service.run(stop))
                if self.discovery is not None and self.devices is not None:
                    tg.create_task(self._announce(stop))
        await asyncio.to_thread(self.outbox.close)

    async def _announce(self, stop: asyncio.Event) -> None:
        """Home Assistant discovery for every device the hub knows, new ones as they come."""
        assert self.discovery is not None and self.devices is not None
        while not stop.is_set():
            with contextlib.suppress(Exception):  # broker away: try again next round
                await self.discovery.announce(self.devices())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await stop.wait()

    def _ids(self) -> tuple[uuid.UUID, uuid.UUID]:
        doc = self.agent.sync_document if self.agent else None
        tenant = self.config.tenant_id or (doc or {}).get("tenant", {}).get("id")
        hub = self.config.cloud_hub_id or (doc or {}).get("hub_id")
        # without a cloud the events still queue, under a local placeholder identity
        return uuid.UUID(str(tenant)) if tenant else uuid.UUID(int=0), uuid.UUID(
            str(hub)
        ) if hub else uuid.UUID(int=0)


def attach(hub: Hub, runtime: VoiceRuntime) -> None:
    """Make `runtime` the hub's voice path: its audio sink, and the forwarder of the
    devices' status to the cloud."""
    hub.audio_sink = runtime.service
    hub.add_forwarder(runtime.device_status)
    runtime.device_records = hub.registry.all


class HubLinks:
    """The hub's links as the voice path needs them: reply frames go out over whichever link
    reaches the device, hub topics are published on the first link that can publish."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def send_play(self, device_id: str, frame: bytes, session: int) -> None:
        for link in self.hub.links:
            if link.reaches(device_id):
                await link.send_play(device_id, frame, session)
                return

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        for link in self.hub.links:
            publish = getattr(link, "publish", None)
            if publish is not None:
                await publish(topic, payload, qos=qos, retain=retain)
                return
