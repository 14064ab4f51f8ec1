"""`arma-hub`: run the hub, start the whole local system, manage device credentials."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import ValidationError

from hub.broker import BrokerError, apply_credentials
from hub.credentials import CredentialError, CredentialStore
from hub.launcher import UpOptions, up
from hub.service import Hub, serve_until_signal
from hub.settings import HubSettings


def host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arma-hub", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data-dir", type=Path, default=Path(".arma-data"))

    u = sub.add_parser("up", parents=[data], help="private Mosquitto + hub + simulated devices")
    u.add_argument("--http", type=host_port, default=("127.0.0.1", 8080))
    u.add_argument("--mqtt-port", type=int, default=1883)
    u.add_argument("--sim", type=int, default=0, metavar="N", help="simulated devices")
    u.add_argument("--hub-id", default="hub-1")
    u.add_argument("--sim-telemetry-s", type=float, default=5.0)
    u.add_argument("--sim-button-s", type=float, default=30.0)
    u.add_argument(
        "--voice",
        action="store_true",
        help="also the cloud API (SQLite), the voice pipeline and two talking devices",
    )
    u.add_argument("--cloud-port", type=int, default=8090)

    r = sub.add_parser("run", parents=[data], help="the hub only (broker runs elsewhere)")
    r.add_argument("--http", type=host_port, default=("127.0.0.1", 8080))
    r.add_argument("--mqtt-host", default="127.0.0.1")
    r.add_argument("--mqtt-port", type=int, default=1883)
    r.add_argument("--hub-id", default="hub-1")
    r.add_argument("--flush-s", type=float, default=0.5, help="registry flush interval")

    d = sub.add_parser("devices", help="device credentials").add_subparsers(
        dest="action", required=True
    )
    add = d.add_parser("add", parents=[data], help="create a device; prints its credentials")
    add.add_argument("device_id")
    add.add_argument("--json", action="store_true")
    add.add_argument("--replace", action="store_true", help="issue a new password if it exists")
    rm = d.add_parser("remove", parents=[data], help="revoke a device (next login refused)")
    rm.add_argument("device_id")
    ls = d.add_parser("list", parents=[data])
    ls.add_argument("--json", action="store_true")

    st = sub.add_parser("status", help="ask a running hub how it is")
    st.add_argument("--http", type=host_port, default=("127.0.0.1", 8080))
    return p


def _devices(args: argparse.Namespace) -> int:
    store = CredentialStore(args.data_dir)
    if args.action == "list":
        rows = [
            {"device_id": d.device_id, "mqtt_username": d.mqtt_username} for d in store.devices()
        ]
        print(json.dumps(rows) if args.json else "\n".join(r["device_id"] for r in rows))
        return 0
    if args.action == "add":
        creds = store.add(args.device_id, replace=args.replace)
        told = apply_credentials(args.data_dir)
        if args.json:
            print(json.dumps(creds.as_json()))
        else:
            print(
                f"device {creds.device_id}: username {creds.mqtt_username} "
                f"password {creds.mqtt_password}"
                + ("" if told else " (no broker running; applies when it starts)")
            )
        return 0
    store.remove(args.device_id)
    apply_credentials(args.data_dir)
    print(f"device {args.device_id} removed")
    return 0


def _status(args: argparse.Namespace) -> int:
    base = f"http://{args.http[0]}:{args.http[1]}"
    try:
        with urllib.request.urlopen(f"{base}/api/v1/devices", timeout=5) as resp:
            devices = json.load(resp)
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:
            health = json.load(resp)
    except (urllib.error.URLError, OSError) as exc:
        print(f"no hub answers at {base}: {exc}", file=sys.stderr)
        return 1
    print(
        f"hub: {health['status']}, MQTT {'up' if health['mqtt_connected'] else 'down'}, "
        f"{health['devices_online']}/{health['devices']} devices online"
    )
    for d in devices:
        print(
            f"  {d['device_id']:<24} {'online ' if d['online'] else 'offline'} "
            f"battery={d['battery']} rssi={d['rssi']} last_seen={d['last_seen']}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        if args.command == "devices":
            return _devices(args)
        if args.command == "status":
            return _status(args)
        if args.command == "up":
            return up(
                UpOptions(
                    data_dir=args.data_dir,
                    http_host=args.http[0],
                    http_port=args.http[1],
                    mqtt_port=args.mqtt_port,
                    sims=args.sim,
                    hub_id=args.hub_id,
                    sim_telemetry_s=args.sim_telemetry_s,
                    sim_button_s=args.sim_button_s,
                    voice=args.voice,
                    cloud_port=args.cloud_port,
                )
            )
        settings = HubSettings(
            hub_id=args.hub_id,
            data_dir=args.data_dir,
            mqtt_host=args.mqtt_host,
            mqtt_port=args.mqtt_port,
            http_host=args.http[0],
            http_port=args.http[1],
            registry_flush_s=args.flush_s,
        )
        asyncio.run(serve_until_signal(Hub(settings)))
        return 0
    except (CredentialError, BrokerError, ValidationError, OSError) as exc:
        print(f"arma-hub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
