"""Commands over the local HTTP API: ack, device-side failure, timeout with retry, bounded
per-device queue, and the stable JSON errors.

How we tried to break it: a device that never acks (its firmware is hung), more concurrent
commands than the device's queue holds, unknown and offline devices, an invalid body."""

from __future__ import annotations

import asyncio

import httpx

from tests.hub.conftest import ManagedBroker, wait_until


async def test_command_ack_timeout_and_errors(broker: ManagedBroker, hub_for) -> None:
    good, hung, _never = broker.add_devices(["good-1", "hung-1", "never-1"])
    sims = [broker.sim(good), broker.sim(hung, ack_commands=False)]
    for sim in sims:
        sim.start()
    try:
        async with hub_for(command_attempts=2, command_queue_per_device=2) as hub:
            await wait_until(lambda: hub.registry.online_count() == 2, timeout=10)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{hub.http_port}", timeout=10
            ) as http:
                r = await http.post(
                    "/api/v1/devices/good-1/commands", json={"op": "identify", "args": {"times": 5}}
                )
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["ok"] is True and body["result"] == {"blinked": 5}
                assert body["attempts"] == 1
                assert sims[0].commands[-1]["id"] == body["command_id"]

                # the device refuses: that is an ack with ok=false, not an HTTP error
                r = await http.post(
                    "/api/v1/devices/good-1/commands",
                    json={"op": "set_volume", "args": {"level": 500}},
                )
                assert r.status_code == 200
                assert r.json()["ok"] is False and "0-100" in r.json()["error"]

                # a hung device: both attempts time out, same command id re-sent
                r = await http.post(
                    "/api/v1/devices/hung-1/commands", json={"op": "identify", "timeout_s": 0.3}
                )
                assert r.status_code == 504
                assert r.json()["error"]["code"] == "command_timeout"
                await wait_until(lambda: len(sims[1].commands) == 2, timeout=2)
                ids = {c["id"] for c in sims[1].commands}
                assert len(ids) == 1

                # queue of 2 per device: of 4 concurrent commands, 2 are refused at once
                replies = await asyncio.gather(
                    *[
                        http.post(
                            "/api/v1/devices/hung-1/commands", json={"op": "ping", "timeout_s": 0.2}
                        )
                        for _ in range(4)
                    ]
                )
                codes = sorted(r.status_code for r in replies)
                assert codes == [429, 429, 504, 504], codes
                assert {r.json()["error"]["code"] for r in replies if r.status_code == 429} == {
                    "command_queue_full"
                }

                r = await http.post("/api/v1/devices/nobody/commands", json={"op": "identify"})
                assert r.status_code == 404 and r.json()["error"]["code"] == "device_not_found"
                r = await http.post("/api/v1/devices/never-1/commands", json={"op": "identify"})
                assert r.status_code == 409 and r.json()["error"]["code"] == "device_offline"
                r = await http.post("/api/v1/devices/good-1/commands", json={"op": "DROP TABLE"})
                assert r.status_code == 422
                r = await http.get("/api/v1/devices/Bad%20Id")
                assert r.status_code == 422

                metrics = (await http.get("/metrics")).text
                assert 'arma_hub_commands_total{outcome="acked"} 1.0' in metrics
                assert 'arma_hub_commands_total{outcome="timeout"} 3.0' in metrics
                assert 'arma_hub_commands_total{outcome="queue_full"} 2.0' in metrics
    finally:
        await asyncio.to_thread(lambda: [s.stop() for s in sims])
