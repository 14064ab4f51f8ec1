"""The firmware's framing logic (Improv RPC, BLE link fragmentation, the allocation-free ADPCM
encoder against the shared codec) runs the same cases under CPython and MicroPython."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import FIRMWARE, micropython_path

CASES = 4


@pytest.mark.micropython
@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
def test_shared_cases(interpreter: str) -> None:
    exe = sys.executable if interpreter == "cpython" else micropython_path()
    script = str(FIRMWARE.parent / "tests" / "firmware" / "shared_cases.py")
    out = subprocess.run(
        [exe, script, str(FIRMWARE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"PASSED {CASES}" in out.stdout, out.stdout
