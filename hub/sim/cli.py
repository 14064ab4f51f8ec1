"""`arma-sim`: run N simulated devices against a broker until SIGTERM/SIGINT (or --duration)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from hub.sim.audio import AudioFormatError, load_wav, synthetic_utterance
from hub.sim.device import SimConfig, SimDevice, SimError

log = logging.getLogger("arma-sim")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="arma-sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--credentials", type=Path, help="JSON list of {device_id, mqtt_username, mqtt_password}"
    )
    src.add_argument("--count", type=int, default=3, help="anonymous devices (open broker)")
    p.add_argument("--prefix", default="sim", help="device id prefix with --count")
    p.add_argument("--keepalive", type=int, default=10)
    p.add_argument("--telemetry-s", type=float, default=5.0, help="telemetry period")
    p.add_argument(
        "--button-s", type=float, default=30.0, help="mean time between presses (0: off)"
    )
    p.add_argument("--audio", type=Path, help="16 kHz mono WAV streamed on each press")
    p.add_argument("--no-audio", action="store_true", help="presses send no audio session")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many s (0: run)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def fleet_configs(args: argparse.Namespace) -> list[SimConfig]:
    if args.credentials:
        entries = json.loads(args.credentials.read_text())
        return [
            SimConfig(
                e["device_id"],
                args.host,
                args.port,
                e["mqtt_username"],
                e["mqtt_password"],
                args.keepalive,
                seed=i,
            )
            for i, e in enumerate(entries)
        ]
    return [
        SimConfig(
            f"{args.prefix}-{i:03d}", args.host, args.port, keepalive_s=args.keepalive, seed=i
        )
        for i in range(1, args.count + 1)
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s arma-sim %(levelname)s %(message)s",
    )
    try:
        speech = load_wav(args.audio) if args.audio else synthetic_utterance()
    except (AudioFormatError, OSError) as exc:
        log.error("%s", exc)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    devices = [SimDevice(c) for c in fleet_configs(args)]
    for device in devices:
        device.start()
    try:
        for device in devices:
            device.wait_connected(15.0)
    except SimError as exc:
        log.error("%s", exc)
        for device in devices:
            device.stop(clean=False)
        return 1
    log.info("%d devices online on %s:%d", len(devices), args.host, args.port)
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.duration if args.duration > 0 else float("inf")
    now = time.monotonic()
    next_telemetry = {d: now + rng.random() * args.telemetry_s for d in devices}
    next_press = {
        d: now + rng.expovariate(1 / args.button_s) if args.button_s > 0 else float("inf")
        for d in devices
    }
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="sim-audio") as audio_pool:
        while not stop.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            for d in devices:
                if now >= next_telemetry[d]:
                    d.send_telemetry()
                    next_telemetry[d] = now + args.telemetry_s
                if now >= next_press[d]:
                    d.press_button()
                    if not args.no_audio:
                        audio_pool.submit(d.stream_audio, speech)
                    next_press[d] = now + rng.expovariate(1 / args.button_s)
            wake = min(*next_telemetry.values(), *next_press.values(), deadline)
            stop.wait(max(0.0, min(wake - time.monotonic(), 1.0)))
    pending = [(d, d.say_offline()) for d in devices]
    give_up = time.monotonic() + 3.0
    for device, info in pending:
        if info is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(max(0.0, give_up - time.monotonic()))
        device.stop(clean=False)
    log.info("stopped %d devices", len(devices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
