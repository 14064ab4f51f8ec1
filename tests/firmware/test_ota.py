"""OTA of the application files, end to end: the real firmware under MicroPython gets an `ota`
command over a real Mosquitto, downloads a signed manifest and files over HTTP, stages and
verifies them, reboots, swaps, and confirms or rolls back.

Ways we tried to break it: a file whose bytes do not match the manifest's sha256, a manifest
signed with another key, a manifest that tries to replace boot.py or escape the flash with '..',
and an update whose app crashes at import on every boot."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import DEVICE_KEY, FIRMWARE, DeviceRunner, HubPeer

DEV = "arma-test-1"
pytestmark = pytest.mark.micropython


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ota_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "ota-srv"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def publish_update(
    root: Path,
    version: str,
    files: dict[str, bytes],
    key: str = DEVICE_KEY,
    served: dict[str, bytes] | None = None,
    name: str = "manifest.json",
) -> str:
    """Writes a signed envelope and the files; `served` overrides what is actually served."""
    entries = []
    for path, data in files.items():
        entries.append(
            {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        )
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((served or {}).get(path, data))
    body = json.dumps({"version": version, "files": entries})
    mac = hmac.new(bytes.fromhex(key), body.encode(), hashlib.sha256).hexdigest()
    (root / name).write_text(json.dumps({"body": body, "hmac": mac}))
    return name


def _version_file(v: str) -> bytes:
    return f'VERSION = "{v}"\n'.encode()


def _start(device_factory, mosquitto, hub_peer_factory) -> tuple[DeviceRunner, HubPeer]:
    peer = hub_peer_factory(mosquitto.port)
    device = device_factory(mosquitto.port).start()
    peer.wait_json(DEV, "status", 15, state="online", fw="1.0.0")
    return device, peer


def test_good_update_is_applied_and_confirmed(
    mosquitto, device_factory, hub_peer_factory, ota_server
):
    root, base = ota_server
    device, peer = _start(device_factory, mosquitto, hub_peer_factory)
    new_module = b"# added by the update\nGREETING = 'merhaba'\n"
    name = publish_update(
        root, "1.1.0", {"arma/version.py": _version_file("1.1.0"), "arma/extra.py": new_module}
    )
    ack = peer.command(DEV, "u1", "ota", 20, url=f"{base}/{name}")
    assert ack["ok"], ack
    assert ack["result"] == {"staged": "1.1.0", "reboot": True}
    peer.wait_json(DEV, "status", 20, state="online", fw="1.1.0")
    device.wait_line(r"update confirmed, version 1.1.0", 10)
    assert (device.flash / "arma" / "extra.py").read_bytes() == new_module
    assert not (device.flash / "ota" / "state.json").exists()
    assert (
        not (device.flash / "ota" / "old").exists() and not (device.flash / "ota" / "new").exists()
    )
    assert device.boots == 2


def test_corrupted_and_badly_signed_updates_are_refused(
    mosquitto, device_factory, hub_peer_factory, ota_server
):
    root, base = ota_server
    device, peer = _start(device_factory, mosquitto, hub_peer_factory)
    before = (device.flash / "arma" / "version.py").read_bytes()

    corrupt = publish_update(
        root,
        "1.1.0",
        {"arma/version.py": _version_file("1.1.0")},
        served={"arma/version.py": _version_file("6.6.6")},
        name="corrupt.json",
    )
    ack = peer.command(DEV, "u1", "ota", 20, url=f"{base}/{corrupt}")
    assert not ack["ok"] and "sha256 mismatch" in ack["error"]

    forged = publish_update(
        root,
        "1.1.0",
        {"arma/version.py": _version_file("1.1.0")},
        key="11" * 32,
        name="forged.json",
    )
    ack = peer.command(DEV, "u2", "ota", 20, url=f"{base}/{forged}")
    assert not ack["ok"] and "bad manifest signature" in ack["error"]

    sneaky = publish_update(root, "1.1.0", {"boot.py": b"print('owned')\n"}, name="sneaky.json")
    ack = peer.command(DEV, "u3", "ota", 20, url=f"{base}/{sneaky}")
    assert not ack["ok"] and "may not be updated" in ack["error"]

    # a signed manifest naming a path outside the flash
    body = json.dumps(
        {"version": "1.1.0", "files": [{"path": "../escape.py", "sha256": "0" * 64, "size": 1}]}
    )
    mac = hmac.new(bytes.fromhex(DEVICE_KEY), body.encode(), hashlib.sha256).hexdigest()
    (root / "escape.json").write_text(json.dumps({"body": body, "hmac": mac}))
    ack = peer.command(DEV, "u4", "ota", 20, url=f"{base}/escape.json")
    assert not ack["ok"] and "bad file path" in ack["error"]

    ack = peer.command(DEV, "u5", "ota", 20, url=f"{base}/missing.json")
    assert not ack["ok"] and "404" in ack["error"]

    # nothing changed, nothing staged, no reboot, still answering
    assert (device.flash / "arma" / "version.py").read_bytes() == before
    assert not (device.flash / "ota" / "state.json").exists()
    assert device.boots == 1
    assert peer.command(DEV, "u6", "telemetry")["result"]["fw"] == "1.0.0"


def test_update_that_crashes_at_boot_is_rolled_back(
    mosquitto, device_factory, hub_peer_factory, ota_server
):
    root, base = ota_server
    device, peer = _start(device_factory, mosquitto, hub_peer_factory)
    good_app = (FIRMWARE / "arma" / "app.py").read_bytes()
    broken_app = good_app + b"\nraise RuntimeError('bad build')\n"
    name = publish_update(
        root,
        "1.2.0",
        {
            "arma/version.py": _version_file("1.2.0"),
            "arma/app.py": broken_app,
            "arma/new_helper.py": b"X = 1\n",
        },
    )
    ack = peer.command(DEV, "u1", "ota", 20, url=f"{base}/{name}")
    assert ack["ok"], ack
    peer.wait_json(DEV, "status", 10, state="offline")  # goodbye before the reset
    # the crashing boots never get online; the next "online" is the restored 1.0.0
    peer.wait_json(DEV, "status", 40, state="online", fw="1.0.0")
    event = peer.wait_json(DEV, "event", 10, type="error", action="ota")
    assert event["detail"] == "rolled back 1.2.0 to 1.0.0 after 3 failed boots"
    # 1 original boot + 3 crashing boots of 1.2.0 + 1 rolled-back boot
    assert device.boots == 5, device.exit_codes
    assert device.exit_codes[:4] == [3, 3, 3, 3]
    assert (device.flash / "arma" / "app.py").read_bytes() == good_app
    assert not (device.flash / "arma" / "new_helper.py").exists()
    assert not (device.flash / "ota" / "state.json").exists()
    device.wait_line(r"crashed: RuntimeError\('bad build',?\)", 1)
