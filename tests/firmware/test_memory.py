"""Memory discipline of the frame path, measured on the MicroPython unix port with gc.mem_alloc()
(GC disabled while counting). Figures for docs come from benchmarks/firmware_memory.py.

Tried to break it: we first measured 779 B/frame (a coroutine per send plus a list built by the
keepalive task every tick) — exactly what these tests are here to catch coming back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from firmware.arma import proto

from .conftest import FIRMWARE, REPO, micropython_path, write_tone_wav

PROBE = REPO / "benchmarks" / "firmware_memory_probe.py"
pytestmark = pytest.mark.micropython


def run_probe(port: int, wav: Path, frames: int, heapsize: str | None = None) -> dict[str, float]:
    args = [micropython_path()] + (["-X", f"heapsize={heapsize}"] if heapsize else [])
    out = subprocess.run(
        [*args, str(PROBE), str(FIRMWARE), str(wav), str(port), str(frames)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def test_frame_path_allocates_nothing_per_frame(mosquitto, tmp_path):
    wav = tmp_path / "mic.wav"
    write_tone_wav(wav, 2.0)
    # 160 KB: imports compiled from .py on a 64-bit unix port (objects about 1.5x the ESP32's)
    r = run_probe(mosquitto.port, wav, 60, heapsize="160K")
    # ADPCM encode + frame header + MQTT packet assembly: exactly zero bytes
    assert r["encode_and_packet_bytes_per_frame"] == 0
    # mic read + encode + socket write through the real MQTT link: only the asyncio scheduler's
    # own bookkeeping remains (about 1-3 B/frame); a coroutine or a copy would be >100 B
    assert r["full_path_bytes_per_frame"] < 16
    # downlink decodes in place: what is left is the received frame object and its payload
    # (the codec's adpcm_decode_block alone allocates ~12 KB per 20 ms frame)
    assert r["play_bytes_per_frame"] < 2048
    assert r["heap_steady_bytes"] < 110_000
    assert r["heap_total_bytes"] < 170_000  # it really ran in the small heap


def test_device_runs_in_an_esp32_sized_heap(mosquitto, device_factory, hub_peer_factory):
    # the whole application, boot to a streamed session, in 160 KB of heap
    peer = hub_peer_factory(mosquitto.port)
    device = device_factory(mosquitto.port, heapsize="160K").start()
    tel = peer.wait_json("arma-test-1", "telemetry", 15)
    assert 0 < tel["heap"] < 160 * 1024
    device.press()
    try:
        peer.wait(lambda t, p, r: "/audio/" in t and proto.decode_frame(p).end, 15)
    finally:
        device.release()
    tel = peer.wait_json("arma-test-1", "telemetry", 5)
    assert tel["heap"] > 40 * 1024, "free heap after a session"
    assert "MemoryError" not in "\n".join(device.lines)
