"""`arma-hub up`: a private Mosquitto, the hub and optional simulated devices, as one unit.

Children are started with a parent-death signal, and stopped (SIGTERM, then SIGKILL after a
grace period) when the launcher gets Ctrl-C or SIGTERM, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from hub.broker import BrokerProcess, _die_with_parent
from hub.credentials import CredentialStore
from hub.service import Hub, serve_until_signal
from hub.settings import HubSettings
from hub.storage import atomic_write_bytes

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """SIGTERM/SIGINT arrived before the hub's event loop took over the signals."""


@dataclass(frozen=True, slots=True)
class UpOptions:
    data_dir: Path
    http_host: str
    http_port: int
    mqtt_port: int
    sims: int = 0
    hub_id: str = "hub-1"
    sim_telemetry_s: float = 5.0
    sim_button_s: float = 30.0
    voice: bool = False  # also the cloud API, the voice runtime and two talking devices
    cloud_port: int = 8090


def provision_sims(store: CredentialStore, count: int) -> Path:
    """(Re)create sim-001..sim-N with fresh passwords, written to a 0600 file for arma-sim."""
    creds = [store.add(f"sim-{i:03d}", replace=True).as_json() for i in range(1, count + 1)]
    path = store.data_dir / "sim-credentials.json"
    atomic_write_bytes(path, json.dumps(creds).encode(), mode=0o600)
    return path


def _stop_child(proc: subprocess.Popen[bytes], name: str, grace_s: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop in %.0f s; killing it", name, grace_s)
        proc.kill()
        proc.wait(grace_s)


def banner(hub: Hub, opts: UpOptions, sims: int) -> str:
    api = f"http://{opts.http_host}:{hub.http_port}"
    return "\n".join(
        [
            "",
            f"ARMA hub '{opts.hub_id}' is up ({sims} simulated devices).",
            f"  devices API   {api}/api/v1/devices",
            f"  health        {api}/healthz",
            f"  metrics       {api}/metrics",
            f"  API docs      {api}/docs",
            f"  MQTT broker   127.0.0.1:{opts.mqtt_port} (per-device logins; hub user in "
            f"{opts.data_dir}/hub-credentials.json)",
            f"  data          {opts.data_dir}",
            "  try:",
            f"    curl -s {api}/api/v1/devices",
            f"    curl -s -X POST {api}/api/v1/devices/sim-001/commands "
            "-H 'content-type: application/json' -d '{\"op\": \"identify\"}'",
            f"    arma-hub devices add shop-door-1 --data-dir {opts.data_dir} --json",
            "Ctrl-C stops everything.",
            "",
        ]
    )


def up(opts: UpOptions) -> int:
    def interrupted(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGTERM, signal.SIGINT)}
    store = CredentialStore(opts.data_dir)
    broker = BrokerProcess(opts.data_dir, opts.mqtt_port)
    sim_proc: subprocess.Popen[bytes] | None = None
    cloud_proc: subprocess.Popen[bytes] | None = None
    try:
        store.hub_credentials()
        sim_file = provision_sims(store, opts.sims) if opts.sims else None
        if opts.voice:
            from hub import demo

            opts.data_dir.mkdir(parents=True, exist_ok=True)
            talkers = demo.provision_talkers(store, opts.mqtt_port)
            cloud_proc = demo.start_cloud(opts.data_dir, opts.cloud_port)
            cloud = demo.seed_cloud(opts.data_dir, f"http://127.0.0.1:{opts.cloud_port}")
        broker.start()
        if sim_file is not None:
            sim_proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hub.sim.cli",
                    "--credentials",
                    str(sim_file),
                    "--port",
                    str(opts.mqtt_port),
                    "--telemetry-s",
                    str(opts.sim_telemetry_s),
                    "--button-s",
                    str(opts.sim_button_s),
                ],
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call
                start_new_session=True,
            )
        settings = HubSettings(
            hub_id=opts.hub_id,
            data_dir=opts.data_dir,
            mqtt_port=opts.mqtt_port,
            http_host=opts.http_host,
            http_port=opts.http_port,
        )
        hub = Hub(settings)
        if opts.voice:
            runtime = demo.voice_runtime(hub, opts.data_dir, cloud)
            ready = lambda h: print(banner(h, opts, opts.sims) + demo.banner(cloud), flush=True)  # noqa: E731
            asyncio.run(demo.serve_all(hub, runtime, talkers, ready))
            return 0
        asyncio.run(
            serve_until_signal(hub, lambda h: print(banner(h, opts, opts.sims), flush=True))
        )
        return 0
    except Interrupted as exc:
        log.info("interrupted (%s) while starting", exc)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut cleanup
        if sim_proc is not None:
            _stop_child(sim_proc, "arma-sim")
        if cloud_proc is not None:
            _stop_child(cloud_proc, "cloud API")
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("all stopped")
