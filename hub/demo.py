"""The whole system on embedded defaults, for `arma-hub up --voice` (the README's first command).

Next to the broker, hub and simulated devices that `arma-hub up` always starts, this adds:
the cloud API on a SQLite file in the data directory (its own process), a demo tenant with a
salon's services and a shop's products (made once, kept in `cloud-demo.json`), the hub's voice
runtime (speech models, dialogue, spoken replies, outbox + sync agent), and two talking devices
(`demo-tr`, `demo-en`) that speak synthesised Turkish and English requests in a loop. Every
recognised request is printed as it happens; the resulting orders and appointments can be read
from the cloud API with the printed admin key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hub.broker import _die_with_parent
from hub.credentials import CredentialStore
from hub.service import Hub
from hub.sim.device import SimConfig, SimDevice
from hub.sim.speech import speak
from hub.storage import atomic_write_bytes
from hub.voice.runtime import HubLinks, VoiceConfig, VoiceRuntime, attach
from models.domain.loader import DOMAINS_DIR

log = logging.getLogger(__name__)

OPENING_HOURS = {d: [["09:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OFFERINGS: list[dict[str, Any]] = [
    {
        "kind": "service",
        "name": "saç kesimi",
        "price": "500",
        "tax_rate": "0.20",
        "duration_minutes": 45,
        "capacity": 1,
    },
    {
        "kind": "service",
        "name": "manikür",
        "price": "300",
        "tax_rate": "0.20",
        "duration_minutes": 30,
        "capacity": 2,
    },
    {
        "kind": "product",
        "name": "moisturiser",
        "price": "375",
        "tax_rate": "0.20",
        "stock": 10,
        "sku": "MOI-1",
    },
    {
        "kind": "product",
        "name": "shampoo",
        "price": "150",
        "tax_rate": "0.20",
        "stock": 5,
        "sku": "SHA-1",
    },
]
TALKERS = {"demo-tr": "tr", "demo-en": "en"}
CONVERSATIONS: list[tuple[str, list[str]]] = [
    ("demo-tr", ["yarın saat üçte saç kesimi için randevu almak istiyorum", "evet tamam"]),
    ("demo-en", ["i would like two moisturiser please", "yes please"]),
    ("demo-tr", ["manikür ne kadar"]),
    ("demo-en", ["do you have shampoo in stock"]),
    ("demo-tr", ["yarın saç kesimi için randevu almak istiyorum", "öğleden sonra dörtte", "hayır"]),
]


@dataclass(frozen=True)
class DemoCloud:
    url: str
    tenant_id: str
    admin_key: str
    hub_id: str
    hub_token: str


def start_cloud(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """The cloud API as its own process (it would run on a server), on SQLite in `data_dir`."""
    db = f"sqlite:///{(data_dir / 'cloud.sqlite3').resolve()}"
    cmd = [
        sys.executable,
        "-m",
        "cloud_sync.cloud.cli",
        "--database-url",
        db,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with (data_dir / "cloud.log").open("ab") as logfile:
        proc = subprocess.Popen(
            cmd,
            stdout=logfile,
            stderr=logfile,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"cloud API exited ({proc.returncode}); see {data_dir / 'cloud.log'}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("cloud API did not start within 60 s")


def seed_cloud(data_dir: Path, url: str) -> DemoCloud:
    """A demo tenant, its hub credential and catalog: made on the first run, then reused."""
    path = data_dir / "cloud-demo.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return DemoCloud(
            url=url, **{k: saved[k] for k in ("tenant_id", "admin_key", "hub_id", "hub_token")}
        )
    db = f"sqlite:///{(data_dir / 'cloud.sqlite3').resolve()}"
    cli = [sys.executable, "-m", "cloud_sync.cloud.cli", "--database-url", db]
    tenant = json.loads(
        subprocess.run(
            [*cli, "tenants", "create", "Salon Ayşe", "--json"], check=True, capture_output=True
        ).stdout
    )
    hub = json.loads(
        subprocess.run(
            [*cli, "hubs", "create", "--tenant", tenant["tenant_id"], "--name", "hub-1", "--json"],
            check=True,
            capture_output=True,
        ).stdout
    )
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {tenant['admin_key']}"}
    ) as c:
        c.patch("/v1/tenants/me", json={"opening_hours": OPENING_HOURS}).raise_for_status()
        for body in OFFERINGS:
            c.post("/v1/offerings", json=body).raise_for_status()
    demo = DemoCloud(url, tenant["tenant_id"], tenant["admin_key"], hub["hub_id"], hub["hub_token"])
    atomic_write_bytes(
        path,
        json.dumps({k: v for k, v in demo.__dict__.items() if k != "url"}).encode(),
        mode=0o600,
    )
    return demo


class PrintingLinks(HubLinks):
    """Publishes like HubLinks and prints every recognised request for the person watching."""

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        await super().publish(topic, payload, qos=qos, retain=retain)
        if topic.endswith("/intent"):
            said = json.loads(payload)
            timings = said.get("timings_ms", {})
            after = ""
            if "encode" in timings:  # not on "no speech"
                spent = timings["encode"] + timings.get("decode", 0.0)
                when = "while the speaker paused" if timings.get("speculative_reused") else "after"
                after = f", decoded in {spent:.0f} ms {when}"
            who = f"[{said['device_id']}]"
            print(
                f"{who} heard: {said['text']!r}  →  {said['intent']} {said['slots']}"
                f"  (confidence {said['confidence']}{after})\n{who} reply: {said['reply']}",
                flush=True,
            )


def voice_runtime(hub: Hub, data_dir: Path, cloud: DemoCloud) -> VoiceRuntime:
    config = VoiceConfig(
        domains={"tr": DOMAINS_DIR / "salon_tr.yaml", "en": DOMAINS_DIR / "shop_en.yaml"},
        device_languages=TALKERS,
        data_dir=data_dir,
        cloud_url=cloud.url,
        hub_token=cloud.hub_token,
        cloud_hub_id=cloud.hub_id,
        tenant_id=cloud.tenant_id,
    )
    runtime = VoiceRuntime(
        config,
        HubLinks(hub),
        hub_id=hub.settings.hub_id,
        publisher=PrintingLinks(hub),
        devices=lambda: [r.device_id for r in hub.registry.all()],
    )
    attach(hub, runtime)
    return runtime


def provision_talkers(store: CredentialStore, port: int) -> dict[str, SimDevice]:
    """Credentials for the talking devices (before the broker starts, so it knows them)."""
    devices = {}
    for device_id in TALKERS:
        creds = store.add(device_id, replace=True)
        devices[device_id] = SimDevice(
            SimConfig(device_id, "127.0.0.1", port, creds.mqtt_username, creds.mqtt_password)
        )
    return devices


async def talk(devices: dict[str, SimDevice], stop: asyncio.Event, pause_s: float = 12.0) -> None:
    """The talking devices: each conversation turn is streamed in real time, the next waits for
    the whole reply. Loops until `stop`."""
    try:
        for sim in devices.values():
            sim.start()
            await asyncio.to_thread(sim.wait_connected, 15)
        while not stop.is_set():
            for device_id, turns in CONVERSATIONS:
                for text in turns:
                    if stop.is_set():
                        return
                    sim = devices[device_id]
                    print(f"[{device_id}] says: {text!r}", flush=True)
                    pcm = await asyncio.to_thread(speak, text, TALKERS[device_id])
                    session = await asyncio.to_thread(sim.stream_audio, pcm)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(60):
                            while session not in sim.played.ended and not stop.is_set():  # noqa: ASYNC110
                                await asyncio.sleep(0.1)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause_s):
                        await stop.wait()
    finally:
        for sim in devices.values():
            sim.stop()


async def serve_all(
    hub: Hub, runtime: VoiceRuntime, talkers: dict[str, SimDevice], on_ready: Any
) -> None:
    """Hub, voice runtime and talking devices until SIGINT or SIGTERM."""
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # paho's queue chatter while streaming
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(hub.run(stop))
            tg.create_task(runtime.run(stop))
            async with asyncio.timeout(300):
                await hub.started.wait()
                await runtime.ready.wait()
            on_ready(hub)
            tg.create_task(talk(talkers, stop))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def banner(cloud: DemoCloud) -> str:
    auth = f"-H 'Authorization: Bearer {cloud.admin_key}'"
    return "\n".join(
        [
            f"Cloud API     {cloud.url}/docs  (tenant 'Salon Ayşe', admin key in cloud-demo.json)",
            "Talking devices demo-tr and demo-en speak requests; what the hub heard and answered",
            "is printed below. Orders and appointments made by voice:",
            f"    curl -s {auth} {cloud.url}/v1/appointments",
            f"    curl -s {auth} {cloud.url}/v1/orders",
            f"    curl -s {auth} '{cloud.url}/v1/reports/activity?format=csv'",
            "Every device's status (online, battery, RSSI), as the hub forwards it:",
            f"    curl -s {auth} {cloud.url}/v1/devices",
            "",
        ]
    )
