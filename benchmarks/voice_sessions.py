"""N devices speaking at once: latency from the end of a request to the first reply frame.

    .venv/bin/python benchmarks/voice_sessions.py [--max-devices 8] [--rounds 2]

The whole stack runs for real (tests/e2e/stack.py): the hub's Mosquitto, the hub with its
voice runtime (Whisper-base int8 ONNX on ONE inference thread, espeak-ng replies), the cloud
API on SQLite, and simulated devices streaming synthesised requests in real time (20 ms ADPCM
frames). For N = 1, 2, 4, ... all N devices start a request at the same moment; half speak
Turkish, half English, each request answered in one turn. Latency is measured on the device
side: from its last audio frame to the first reply frame it receives (the requests end with
300 ms of silence, as a released button does). Prints p50/p95 per N and the largest N whose
p95 stays under 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo, for tests.e2e

from tests.e2e.stack import speak, voice_stack

REQUESTS = {"tr": "manikür ne kadar", "en": "do you have shampoo in stock"}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def main(max_devices: int, rounds: int) -> None:
    sizes = [n for n in (1, 2, 4, 8, 12, 16, 24, 32) if n <= max_devices]
    devices = {f"bench-{i:02d}": ("tr" if i % 2 else "en") for i in range(max_devices)}
    audio = {lang: await asyncio.to_thread(speak, text, lang) for lang, text in REQUESTS.items()}
    with tempfile.TemporaryDirectory(prefix="arma-voicebench-") as tmpdir:
        await measure(Path(tmpdir), devices, sizes, audio, rounds)


async def measure(
    tmp: Path, devices: dict[str, str], sizes: list[int], audio: dict[str, Any], rounds: int
) -> None:
    async with voice_stack(tmp, f"sqlite:///{tmp / 'cloud.db'}", devices) as stack:
        first_reply: dict[int, float] = {}
        lock = threading.Lock()
        for sim in stack.devices.values():

            def on_play(frame, _sim=sim):  # type: ignore[no-untyped-def]
                with lock:
                    first_reply.setdefault(frame.session, time.monotonic())

            sim.on_play = on_play
        # warm-up: one request per language so one-time costs do not count
        for device_id in list(devices)[:2]:
            await stack.say(device_id, REQUESTS[devices[device_id]], devices[device_id])
        cols = ("N", "requests", "p50 ms", "p95 ms", "max ms", "hub p50", "hub p95")
        print(f"{cols[0]:>3} " + " ".join(f"{c:>8}" for c in cols[1:]))
        best = 0
        for n in sizes:
            latencies: list[float] = []
            hub_lat_before = len(stack.runtime.service.stats.latencies_ms)
            for _ in range(rounds):
                chosen = list(devices)[:n]

                def run_one(device_id: str) -> tuple[int, float]:
                    sim = stack.devices[device_id]
                    session = sim.stream_audio(audio[devices[device_id]])
                    return session, time.monotonic()

                ends = await asyncio.gather(*(asyncio.to_thread(run_one, d) for d in chosen))
                async with asyncio.timeout(60):
                    while True:
                        with lock:
                            if all(s in first_reply for s, _ in ends):
                                break
                        await asyncio.sleep(0.02)
                latencies += [(first_reply[s] - t_end) * 1000 for s, t_end in ends]
                await asyncio.sleep(1.0)  # let the replies finish streaming
            hub = list(stack.runtime.service.stats.latencies_ms)[hub_lat_before:]
            p95 = pct(latencies, 0.95)
            print(
                f"{n:>3} {len(latencies):>8} {statistics.median(latencies):>8.0f} {p95:>8.0f} "
                f"{max(latencies):>8.0f} {statistics.median(hub):>8.0f} {pct(hub, 0.95):>8.0f}",
                flush=True,
            )
            if p95 < 1500:
                best = n
        print(f"largest N with device-side p95 < 1.5 s: {best} (tried up to {sizes[-1]})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-devices", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.max_devices, args.rounds))
