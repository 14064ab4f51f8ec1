"""Hub telemetry throughput and latency against the raw Mosquitto publish->subscribe rate.

One run, same broker, same publisher clients (a separate process, pinned to another core):
  1. raw:  N paho clients blast M telemetry messages each (QoS 0) -> one paho subscriber
           with the hub's login that only counts them (the broker's pub->sub ceiling here);
  2. hub:  the same blast -> the hub (MQTT link, decoding, validation, registry update,
           metrics), running in this process pinned to ONE core;
  3. latency: a fixed rate through the hub; publish time (carried in the message) to the
           moment the registry holds the update; p50/p99.
Rates are messages received / (last - first arrival). Drops (QoS 0 over a full broker queue)
are reported, not hidden. `--kind event` sends QoS 1 button events instead of telemetry: the
raw subscriber acknowledges each as paho does by default, the hub only after handling it.

    .venv/bin/python benchmarks/hub_throughput.py [--devices 10] [--messages 5000] [--rate 2000]
        [--kind telemetry|event]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub import wire
from hub.broker import BrokerProcess, apply_credentials
from hub.credentials import CredentialStore
from hub.messages import DeviceEvent, Telemetry
from hub.service import Hub
from hub.settings import HubSettings
from tests.support.mosquitto import free_port


def telemetry(ts: float) -> bytes:
    return wire.encode_json(
        "telemetry", {"battery": 77.5, "rssi": -61, "uptime": ts, "heap": 81234, "fw": "1.2.3"}
    )


def event(ts: float) -> bytes:
    return wire.encode_json("event", {"type": "button", "action": "press", "detail": repr(ts)})


PAYLOAD = {"telemetry": (telemetry, 0), "event": (event, 1)}  # kind -> (payload, QoS)


def sent_at(kind: str, payload: bytes) -> float:
    msg = json.loads(payload)
    return float(msg["uptime"] if kind == "telemetry" else msg["detail"])


# -- publisher process ------------------------------------------------------------------------
def publish(args: argparse.Namespace) -> None:
    creds = json.loads(Path(args.creds).read_text())
    clients = []
    for c in creds:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{c['device_id']}")
        client.username_pw_set(c["mqtt_username"], c["mqtt_password"])
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", args.port, 30)
        client.loop_start()
        clients.append((client, wire.device_topic(c["device_id"], args.kind)))
    payload, qos = PAYLOAD[args.kind]
    time.sleep(0.5)
    started = time.monotonic()
    total = args.messages * len(clients)
    for i in range(args.messages):
        if args.rate:
            delay = started + i * len(clients) / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for client, topic in clients:
            client.publish(topic, payload(time.time()), qos=qos)
    took = time.monotonic() - started
    time.sleep(0.5)
    for client, _ in clients:
        client.disconnect()
        client.loop_stop()
    print(json.dumps({"published": total, "publish_s": took}), flush=True)


def run_publishers(args: argparse.Namespace, creds_file: Path, rate: float) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--role",
        "publish",
        "--port",
        str(args.port),
        "--creds",
        str(creds_file),
        "--messages",
        str(args.messages),
        "--rate",
        str(rate),
        "--kind",
        args.kind,
    ]
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {1}) if os.cpu_count() > 1 else None,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- consumers ---------------------------------------------------------------------------------
class Arrivals:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.latencies: list[float] = []

    def note(self, now: float, sent: float | None = None) -> None:
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now
        if sent is not None:
            self.latencies.append(now - sent)

    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first) if self.count > 1 else 0.0


def raw_phase(
    args: argparse.Namespace, creds_file: Path, user: str, password: str, rate: float, parse: bool
) -> tuple[Arrivals, dict[str, float]]:
    arrivals = Arrivals()
    ready = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, m: mqtt.MQTTMessage) -> None:
        now = time.time()
        arrivals.note(now, sent_at(args.kind, m.payload) if parse else None)

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
    sub.username_pw_set(user, password)
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: ready.set()
    sub.connect("127.0.0.1", args.port, 30)
    sub.subscribe(f"arma/v1/d/+/{args.kind}", qos=PAYLOAD[args.kind][1])
    sub.loop_start()
    ready.wait(10)
    pub = run_publishers(args, creds_file, rate)
    settle(lambda: arrivals.count, pub["published"])
    sub.disconnect()
    sub.loop_stop()
    return arrivals, pub


def settle(count, expected: int, quiet_s: float = 1.0, limit_s: float = 60.0) -> None:
    """Wait until everything arrived or nothing more arrives for `quiet_s`."""
    deadline = time.monotonic() + limit_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline and count() < expected:
        now_count = count()
        if now_count != last:
            last, since = now_count, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return
        time.sleep(0.05)


async def hub_phase(
    args: argparse.Namespace, data_dir: Path, creds_file: Path, rate: float, forward: bool = False
) -> tuple[Arrivals, dict[str, float]]:
    settings = HubSettings(
        data_dir=data_dir, mqtt_port=args.port, http_port=0, incoming_queue=100_000
    )
    hub = Hub(settings)
    arrivals = Arrivals()
    start = time.time()

    def on_update(msg: object) -> None:
        if isinstance(msg, Telemetry) and msg.uptime > start:
            arrivals.note(time.time(), msg.uptime)
        elif isinstance(msg, DeviceEvent) and msg.detail and float(msg.detail) > start:
            arrivals.note(time.time(), float(msg.detail))

    hub.registry.add_listener(on_update)
    if forward:  # the forwarding hook's own cost: a record per message, one await

        async def forwarder(msg: object, record: object) -> None:
            return None

        hub.add_forwarder(forwarder)
    stop = asyncio.Event()
    runner = asyncio.create_task(hub.run(stop))
    while not hub.link_connected():  # noqa: ASYNC110 - the link offers no event to await
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    pub = await asyncio.to_thread(run_publishers, args, creds_file, rate)
    await asyncio.to_thread(settle, lambda: arrivals.count, pub["published"])
    stop.set()
    await runner
    return arrivals, pub


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 2 else float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--role", default="bench")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--creds", default="")
    p.add_argument("--devices", type=int, default=10)
    p.add_argument("--messages", type=int, default=5000, help="per device")
    p.add_argument("--rate", type=float, default=2000.0, help="total msg/s for the latency run")
    p.add_argument("--rounds", type=int, default=3, help="alternating raw/hub throughput rounds")
    p.add_argument("--kind", choices=sorted(PAYLOAD), default="telemetry")
    p.add_argument(
        "--forwarder", action="store_true", help="also a hub phase with a no-op forwarder"
    )
    args = p.parse_args()
    if args.role == "publish":
        publish(args)
        return
    if os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {0})  # hub (and raw subscriber) on one core
    with tempfile.TemporaryDirectory(prefix="arma-bench-") as tmp:
        data_dir = Path(tmp)
        store = CredentialStore(data_dir)
        user, password = store.hub_credentials()
        creds = [store.add(f"bench-{i:03d}").as_json() for i in range(args.devices)]
        creds_file = data_dir / "creds.json"
        creds_file.write_text(json.dumps(creds))
        args.port = free_port()
        broker = BrokerProcess(data_dir, args.port).start()
        apply_credentials(data_dir)
        try:
            rounds = []
            forwarded: list[float] = []
            for _ in range(args.rounds):  # alternate, so load changes hit both sides alike
                raw, raw_pub = raw_phase(args, creds_file, user, password, 0, parse=False)
                hub, hub_pub = asyncio.run(hub_phase(args, data_dir, creds_file, 0))
                rounds.append((raw, raw_pub, hub, hub_pub))
                if args.forwarder:
                    fwd, _ = asyncio.run(hub_phase(args, data_dir, creds_file, 0, forward=True))
                    forwarded.append(fwd.rate() / raw.rate())
            args_lat = argparse.Namespace(
                **{**vars(args), "messages": int(args.rate * 5 / args.devices)}
            )
            raw_lat, _ = raw_phase(args_lat, creds_file, user, password, args.rate, parse=True)
            hub_lat, lat_pub = asyncio.run(hub_phase(args_lat, data_dir, creds_file, args.rate))
        finally:
            broker.stop()
    total = rounds[0][1]["published"]
    print(
        f"{args.kind}: devices={args.devices} messages/device={args.messages} total={total} "
        "per phase; "
        f"publishers in one process on core 1, consumer (raw or hub) on core 0"
    )
    ratios = []
    for i, (raw, raw_pub, hub, hub_pub) in enumerate(rounds, 1):
        ratios.append(hub.rate() / raw.rate())
        print(
            f"round {i}: offered {total / raw_pub['publish_s']:6.0f} msg/s | raw mosquitto "
            f"pub->sub {raw.rate():6.0f} msg/s ({raw.count}/{total}) | hub {hub.rate():6.0f} "
            f"msg/s ({hub.count}/{hub_pub['published']}) | hub/raw {ratios[-1]:.2f}"
        )
    print(f"hub / raw, median of {len(ratios)} rounds: {statistics.median(ratios):.2f}")
    if forwarded:
        print(
            f"hub with a no-op forwarder / raw, per round: "
            f"{', '.join(f'{r:.2f}' for r in forwarded)}; median {statistics.median(forwarded):.2f}"
        )
    n = lat_pub["published"]
    print(f"latency at {args.rate:.0f} msg/s for 5 s ({n} msgs), publish -> registry update:")
    print(
        f"  hub p50 {pct(hub_lat.latencies, 50):.2f} ms  p99 {pct(hub_lat.latencies, 99):.2f} ms"
        f"  ({hub_lat.count}/{n} updates)"
    )
    print(
        f"  raw subscriber p50 {pct(raw_lat.latencies, 50):.2f} ms  "
        f"p99 {pct(raw_lat.latencies, 99):.2f} ms  ({raw_lat.count}/{n})"
    )


if __name__ == "__main__":
    main()
