"""Helper process for the crash test: rewrites the registry as fast as it can and prints each
generation number after its flush returned (that write is durable)."""

from __future__ import annotations

import sys
from pathlib import Path

from hub.messages import DeviceStatus, Telemetry
from hub.registry import Registry


def main() -> None:
    registry = Registry(Path(sys.argv[1]))
    registry.open()
    ids = [f"dev-{i:03d}" for i in range(40)]
    registry.set_known(ids)
    while True:
        generation = registry.generation + 1
        for device_id in ids:
            registry.apply_status(
                DeviceStatus(device_id, "online" if generation % 2 else "offline")
            )
            registry.apply_telemetry(
                Telemetry(device_id, battery=50, rssi=-60, uptime=float(generation), heap=1, fw="t")
            )
        registry.flush_now()
        assert registry.generation == generation
        print(generation, flush=True)


if __name__ == "__main__":
    main()
