"""`arma-hub up`: private Mosquitto + hub + simulated devices; SIGTERM (or even SIGKILL of the
launcher) leaves no process behind.

How we tried to break it: we look for survivors by scanning every process for the data
directory in its command line (the broker's config and the simulator's credentials live
there), both after a clean SIGTERM and after kill -9 of the launcher itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hub.registry import Registry
from tests.support.mosquitto import free_port


def _children_of(data_dir: Path) -> set[int]:
    """Live processes (not zombies) whose command line names the data directory."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if str(data_dir) in cmdline and state != "Z" and "hub.cli" not in cmdline:
            found.add(int(entry.name))
    return found


def _get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def _start(data_dir: Path, http_port: int, sims: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "up",
            "--data-dir",
            str(data_dir),
            "--http",
            f"127.0.0.1:{http_port}",
            "--mqtt-port",
            str(free_port()),
            "--sim",
            str(sims),
            "--sim-telemetry-s",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_devices_online(http_port: int, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        status, devices = _get(f"http://127.0.0.1:{http_port}/api/v1/devices")
        if (
            status == 200
            and isinstance(devices, list)
            and sum(d["online"] for d in devices) == count
        ):
            return
        time.sleep(0.2)
    raise TimeoutError("devices did not come online through the launcher")


def test_up_runs_everything_and_sigterm_leaves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    http_port = free_port()
    proc = _start(data_dir, http_port, sims=3)
    try:
        _wait_devices_online(http_port, 3, proc)
        status, health = _get(f"http://127.0.0.1:{http_port}/healthz")
        assert status == 200 and health["mqtt_connected"] is True
        children = _children_of(data_dir)
        assert len(children) >= 2, children  # mosquitto and arma-sim
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "curl -s" in out and f"http://127.0.0.1:{http_port}/api/v1/devices" in out
    assert "all stopped" in out
    survivors = [
        pid
        for pid in children
        if Path(f"/proc/{pid}").exists()
        and Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    ]
    assert survivors == []
    assert _children_of(data_dir) == set()
    registry = Registry(data_dir / "registry.json")
    registry.open()
    assert {r.device_id for r in registry.all()} == {"sim-001", "sim-002", "sim-003"}


@pytest.mark.slow
def test_children_die_with_a_killed_launcher(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    http_port = free_port()
    proc = _start(data_dir, http_port, sims=1)
    try:
        _wait_devices_online(http_port, 1, proc)
        children = _children_of(data_dir)
        assert len(children) >= 2
        proc.kill()  # no cleanup code runs in the launcher now
        proc.communicate(timeout=10)
        deadline = time.monotonic() + 10
        while _children_of(data_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _children_of(data_dir) == set()  # parent-death signal reached them
    finally:
        for pid in _children_of(data_dir):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("taken", ["mqtt", "http"])
def test_taken_port_is_a_clear_error_and_leaves_nothing(tmp_path: Path, taken: str) -> None:
    import socket

    data_dir = tmp_path / "data"
    mqtt_port, http_port = free_port(), free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", mqtt_port if taken == "mqtt" else http_port))
        squatter.listen()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hub.cli",
                "up",
                "--data-dir",
                str(data_dir),
                "--http",
                f"127.0.0.1:{http_port}",
                "--mqtt-port",
                str(mqtt_port),
                "--sim",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert "in use" in done.stderr and "Traceback" not in done.stderr
    assert _children_of(data_dir) == set()
