"""Availability: 50 simulated devices come online; a silent or killed device goes offline.

How we tried to break it: devices start all at once (connect storm); a device process is
frozen with SIGSTOP (socket open, no DISCONNECT, no packets: only the keepalive can notice),
and another is SIGKILLed (socket dies, no DISCONNECT)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import httpx

from tests.hub.conftest import ManagedBroker, wait_until


async def test_fifty_devices_online_within_ten_seconds(broker: ManagedBroker, hub_for) -> None:
    creds = broker.add_devices([f"shop-{i:02d}" for i in range(50)])
    async with hub_for() as hub:
        sims = [broker.sim(c) for c in creds]
        started = time.monotonic()
        for sim in sims:
            sim.start()
        try:
            took = await wait_until(lambda: hub.registry.online_count() == 50, timeout=10)
            assert time.monotonic() - started <= 10.0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.http_port}") as http:
                devices = (await http.get("/api/v1/devices", timeout=5)).json()
            assert len(devices) == 50
            assert all(d["online"] and d["state"] == "online" for d in devices)
            print(f"50 devices online in the registry after {took:.2f} s")
        finally:
            await asyncio.to_thread(lambda: [s.stop() for s in sims])
        # clean shutdown of each device marks it offline too
        await wait_until(lambda: hub.registry.online_count() == 0, timeout=5)


def _sim_process(broker: ManagedBroker, tmp_path, device_id: str, keepalive: int):
    creds = broker.add_devices([device_id])
    path = tmp_path / f"{device_id}.json"
    path.write_text(json.dumps([creds[0].as_json()]))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.sim.cli",
            "--credentials",
            str(path),
            "--port",
            str(broker.port),
            "--keepalive",
            str(keepalive),
            "--telemetry-s",
            "0.5",
            "--button-s",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_silent_device_offline_within_one_and_a_half_keepalive(
    broker: ManagedBroker, hub_for, tmp_path
) -> None:
    keepalive = 2
    proc = _sim_process(broker, tmp_path, "frozen-1", keepalive)
    try:
        async with hub_for() as hub:
            await wait_until(
                lambda: (r := hub.registry.get("frozen-1")) is not None and r.online, timeout=10
            )
            # let some telemetry flow so last_seen is recent, then freeze the process
            await asyncio.sleep(1.0)
            os.kill(proc.pid, signal.SIGSTOP)
            stopped_at = time.time()
            took = await wait_until(
                lambda: not hub.registry.get("frozen-1").online, timeout=1.5 * keepalive + 10
            )
            last_seen = hub.registry.get("frozen-1").last_seen
            offline_after_last_packet = stopped_at + took - last_seen
            print(
                f"frozen device offline {took:.2f} s after SIGSTOP, "
                f"{offline_after_last_packet:.2f} s after its last message"
            )
            # Mosquitto 2.0 fires the Will once 1.5 x keepalive passed since the last packet,
            # but sweeps keepalives only every 6 s (keepalive.c: `last_keepalive_check + 5 <
            # now`, whole seconds): one sweep period + 1 s of rounding is the stated tolerance
            # (measured 3.8-9.8 s for keepalive 2-6 s)
            assert offline_after_last_packet <= 1.5 * keepalive + 7.0
            assert took >= 1.0  # it really went the keepalive way, not a socket error
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


async def test_killed_device_offline_at_once(broker: ManagedBroker, hub_for, tmp_path) -> None:
    keepalive = 10
    proc = _sim_process(broker, tmp_path, "killed-1", keepalive)
    try:
        async with hub_for() as hub:
            await wait_until(
                lambda: (r := hub.registry.get("killed-1")) is not None and r.online, timeout=10
            )
            proc.kill()  # no DISCONNECT; the kernel closes the socket, the broker sends the Will
            took = await wait_until(lambda: not hub.registry.get("killed-1").online, timeout=15)
            print(f"killed device offline after {took:.2f} s")
            assert took <= 1.5 * keepalive
            assert took < 2.0  # the closed socket, not the keepalive sweep, told the broker
    finally:
        proc.kill()
        proc.wait(5)
