"""The whole voice path for end-to-end tests: a real cloud API on SQLite (uvicorn), the hub's
managed Mosquitto with per-device credentials, the real hub with its VoiceRuntime (real
speech models, real dialogue, espeak-ng replies, outbox + sync agent), and simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cloud_sync.cloud.migrate import migrate
from hub import wire
from hub.broker import BrokerProcess
from hub.credentials import CredentialStore
from hub.demo import OFFERINGS, OPENING_HOURS
from hub.service import Hub
from hub.sim.device import SimConfig, SimDevice
from hub.sim.speech import speak
from hub.voice.runtime import HubLinks, VoiceConfig, VoiceRuntime, attach
from models.domain.loader import DOMAINS_DIR
from tests.cloud.conftest import Cloud, start_cloud, stop_cloud
from tests.hub.conftest import hub_settings
from tests.support.mosquitto import free_port

# the demo tenant of `arma-hub up --voice`: tests and the demo speak about the same catalog
WEEK = OPENING_HOURS


@dataclass
class VoiceStack:
    cloud: Cloud
    admin: Any  # httpx.Client with the tenant admin key
    hub: Hub
    runtime: VoiceRuntime
    devices: dict[str, SimDevice]
    broker: BrokerProcess
    offerings: dict[str, str] = field(default_factory=dict)  # name -> id

    async def say(
        self, device_id: str, text: str, language: str, timeout: float = 60
    ) -> tuple[int, bytes]:
        """Stream a spoken request in real time; wait for the whole reply; return (session, PCM).

        Both codecs of the protocol are exercised: English devices send IMA-ADPCM (as the
        firmware does), Turkish ones PCM16 (the espeak-ng Turkish voice is already at the edge
        of what the speech model understands; ADPCM's quantisation noise tips short answers
        over, see docs/benchmarks.md)."""
        device = self.devices[device_id]
        pcm = await asyncio.to_thread(speak, text, language)
        codec = wire.CODEC_PCM16 if language == "tr" else wire.CODEC_ADPCM
        session = await asyncio.to_thread(partial(device.stream_audio, pcm, codec=codec))
        async with asyncio.timeout(timeout):
            while session not in device.played.ended:
                await asyncio.sleep(0.05)
        frames = sorted(device.played.frames[session], key=lambda f: f.seq)
        return session, b"".join(f.pcm16() for f in frames)

    def list(self, path: str) -> list[dict[str, Any]]:
        r = self.admin.get(path)
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


def reply_seconds(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2")
    return float(np.count_nonzero(np.abs(x) > 500)) / 16000


@contextlib.asynccontextmanager
async def voice_stack(
    tmp_path: Path,
    db_url: str,
    devices: dict[str, str],
    cloud_port: int = 0,
    configure: Callable[[VoiceConfig], None] | None = None,
) -> AsyncIterator[VoiceStack]:
    """`devices`: device id -> language. The cloud may be stopped and restarted by the test."""
    migrate(db_url)
    cloud = start_cloud(db_url, port=cloud_port)
    tenant_id, admin_token = cloud.tenant("Salon Ayşe")
    admin = cloud.client(admin_token)
    r = admin.patch("/v1/tenants/me", json={"opening_hours": WEEK})
    assert r.status_code == 200, r.text
    offerings = {}
    for body in OFFERINGS:
        r = admin.post("/v1/offerings", json=body)
        assert r.status_code == 201, r.text
        offerings[body["name"]] = r.json()["id"]
    cloud_hub_id, hub_token = cloud.hub(admin_token)

    data_dir = tmp_path / "hub"
    store = CredentialStore(data_dir)
    store.hub_credentials()
    creds = {d: store.add(d) for d in devices}
    broker = BrokerProcess(data_dir, free_port()).start()
    settings = hub_settings(data_dir, broker.port)
    hub = Hub(settings)
    config = VoiceConfig(
        domains={"tr": DOMAINS_DIR / "salon_tr.yaml", "en": DOMAINS_DIR / "shop_en.yaml"},
        device_languages=devices,
        data_dir=data_dir,
        cloud_url=cloud.url,
        hub_token=hub_token,
        cloud_hub_id=str(cloud_hub_id),
        tenant_id=str(tenant_id),
    )
    if configure is not None:
        configure(config)
    runtime = VoiceRuntime(
        config,
        HubLinks(hub),
        hub_id=settings.hub_id,
        publisher=HubLinks(hub),
        devices=lambda: [r.device_id for r in hub.registry.all()],
    )
    attach(hub, runtime)
    sims = {
        d: SimDevice(SimConfig(d, "127.0.0.1", broker.port, c.mqtt_username, c.mqtt_password))
        for d, c in creds.items()
    }
    stop = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            hub_task = tg.create_task(hub.run(stop))
            voice_task = tg.create_task(runtime.run(stop))
            try:
                async with asyncio.timeout(120):
                    await hub.started.wait()
                    await runtime.ready.wait()
                for sim in sims.values():
                    sim.start()
                    await asyncio.to_thread(sim.wait_connected, 10)
                yield VoiceStack(cloud, admin, hub, runtime, sims, broker, offerings)
            finally:
                stop.set()
                for sim in sims.values():
                    sim.stop()
                _done, pending = await asyncio.wait({hub_task, voice_task}, timeout=30)
                if pending:
                    for t in asyncio.all_tasks():
                        t.print_stack(limit=3)
                    raise TimeoutError(f"stack did not stop: {pending}")
    finally:
        broker.stop()
        stop_cloud(cloud)


def new_id() -> str:
    return str(uuid.uuid4())
