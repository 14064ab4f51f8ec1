"""CI type-checks the firmware against the MicroPython ESP32 stubs (typings/) with
firmware/mypy.ini. Tried to break it: calling `time.ticks_ms` wrongly or passing a str where the
stubs want bytes makes mypy fail (see test_mypy_catches_a_stub_violation)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import FIRMWARE, REPO

FILES = ["boot.py", "main.py", "arma"]


def _mypy(*targets: str, cwd: Path = FIRMWARE) -> subprocess.CompletedProcess[str]:
    assert (REPO / "typings" / "machine.pyi").exists(), "ESP32 stubs missing: run scripts/setup.sh"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(FIRMWARE / "mypy.ini"),
            "--cache-dir",
            str(REPO / ".mypy_cache" / "firmware"),
            *targets,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_firmware_typechecks_against_esp32_stubs() -> None:
    out = _mypy(*FILES)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout


def test_mypy_catches_a_stub_violation(tmp_path: Path) -> None:
    bad = FIRMWARE / "arma" / "_typecheck_probe.py"
    bad.write_text(
        "import machine\nmachine.Pin('not a pin id', 'bad mode', 3, 4, 5)\n"
        "import time\ntime.sleep_ms('soon')\n"
    )
    try:
        out = _mypy("arma/_typecheck_probe.py")
    finally:
        bad.unlink()
    assert out.returncode != 0
    assert "sleep_ms" in out.stdout
