"""The application's BLE glue under MicroPython: Improv Wi-Fi provisioning of an unconfigured
device (wrong password first), a hub command over the GATT protocol service (fragmented both
ways, a truncated fragment rejected), and a whole push-to-talk session over BLE while MQTT is
unreachable (audio up, reply frames down, played byte-exactly), through a recording radio (the
fake sits at the hardware boundary; hal.BleRadio is the real adapter). See ble_app_case.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import FIRMWARE, micropython_path

HERE = Path(__file__).resolve().parent


@pytest.mark.micropython
def test_improv_provisioning_and_commands_over_ble(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            micropython_path(),
            str(HERE / "ble_app_case.py"),
            str(FIRMWARE),
            str(tmp_path),
            str(HERE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BLE APP OK" in out.stdout
    assert "waiting for Improv provisioning" in out.stdout
