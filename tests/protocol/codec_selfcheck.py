# Codec checks that run unchanged under MicroPython and CPython (no pytest, no typing):
#   micropython tests/protocol/codec_selfcheck.py   |   python tests/protocol/codec_selfcheck.py
# Prints one line per check and "ALL OK <n>" at the end; any failure raises.
import math
import struct
import sys

sys.path.insert(0, ("/".join(__file__.split("/")[:-3]) or ".") + "/firmware")
from arma import proto

checks = 0


def ok(name):
    global checks
    checks += 1
    print("ok", name)


def expect_error(fn, *args):
    try:
        fn(*args)
    except proto.ProtocolError:
        return
    raise AssertionError("no ProtocolError from " + repr(args)[:80])


# topics
assert proto.device_topic("arma-0001", "telemetry") == "arma/v1/d/arma-0001/telemetry"
assert proto.device_topic("arma-0001", "audio", 7) == "arma/v1/d/arma-0001/audio/7"
assert proto.parse_device_topic("arma/v1/d/arma-0001/audio/42") == ("arma-0001", "audio", 42)
assert proto.parse_device_topic("arma/v1/d/x1/status") == ("x1", "status", None)
for bad in (
    "arma/v1/d/A B/status",
    "arma/v1/d/x/nope",
    "arma/v1/d/x/audio",
    "arma/v1/d/x/status/1",
    "arma/v2/d/x/status",
    "arma/v1/d/x/audio/-1",
    "arma/v1/d/x/audio/99999999999",
    "",
):
    expect_error(proto.parse_device_topic, bad)
assert proto.hub_topic("hub-1", "intent") == "arma/v1/hub/hub-1/intent"
ok("topics")

# JSON messages: round trip, version and schema checks
tele = {"battery": 87, "rssi": -61, "uptime": 3600, "heap": 81234, "fw": "1.0.0"}
data = proto.encode_json("telemetry", tele)
back = proto.decode_json("telemetry", data)
assert back["v"] == 1 and back["battery"] == 87 and back["fw"] == "1.0.0"
expect_error(
    proto.decode_json, "telemetry", b'{"v":2,"battery":1,"rssi":0,"uptime":1,"heap":1,"fw":"x"}'
)
expect_error(
    proto.decode_json, "telemetry", b'{"v":1,"battery":101,"rssi":0,"uptime":1,"heap":1,"fw":"x"}'
)
expect_error(
    proto.decode_json, "telemetry", b'{"v":1,"battery":true,"rssi":0,"uptime":1,"heap":1,"fw":"x"}'
)
expect_error(proto.decode_json, "status", b'{"v":1,"state":"sleeping"}')
expect_error(proto.decode_json, "status", b"[1,2]")
expect_error(proto.decode_json, "status", b"\xff\xfe")
expect_error(proto.decode_json, "status", b"{" + b" " * 5000 + b"}")
expect_error(proto.decode_json, "cmd", b'{"v":1,"op":"identify"}')
cmd = proto.decode_json("cmd", proto.encode_json("cmd", {"id": "c1", "op": "identify", "args": {}}))
assert cmd["op"] == "identify"
ok("json")

# audio frames: byte layout of the doc's example
frame = proto.encode_frame(7, 1, proto.CODEC_PCM16, b"\x01\x00\xff\xff", proto.FLAG_START)
assert frame == b"\xa5\x10\x01\x00\x07\x00\x00\x00\x01\x00\x04\x00\x01\x00\xff\xff", frame
f = proto.decode_frame(frame)
assert f.session == 7 and f.seq == 1 and f.start and not f.end and f.pcm16() == b"\x01\x00\xff\xff"
expect_error(proto.decode_frame, frame[:-1])
expect_error(proto.decode_frame, frame + b"\x00")
expect_error(proto.decode_frame, b"\x00" + frame[1:])
expect_error(proto.decode_frame, frame[:1] + b"\x20" + frame[2:])
expect_error(proto.decode_frame, frame[:1] + b"\x1f" + frame[2:])
expect_error(proto.decode_frame, frame[:2] + b"\x04" + frame[3:])
expect_error(proto.encode_frame, 1, 0, proto.CODEC_PCM16, b"\x00" * 5000)
ok("frames")

# IMA-ADPCM: a 440 Hz tone survives the round trip with a good SNR
n = 3200
pcm = bytearray(n * 2)
for i in range(n):
    struct.pack_into("<h", pcm, i * 2, int(8000 * math.sin(2 * math.pi * 440 * i / 16000)))
state = proto.AdpcmState()
blocks = [proto.adpcm_encode_block(bytes(pcm[o : o + 640]), state) for o in range(0, len(pcm), 640)]
assert len(blocks[0]) == 4 + 160
decoded = b"".join(proto.adpcm_decode_block(b) for b in blocks)
assert len(decoded) == len(pcm)
sig = 0.0
err = 0.0
for i in range(n):
    a = struct.unpack_from("<h", pcm, i * 2)[0]
    b = struct.unpack_from("<h", decoded, i * 2)[0]
    sig += a * a
    err += (a - b) * (a - b)
snr = 10 * math.log10(sig / max(err, 1.0))
print(f"adpcm snr_db {snr:.1f}")
assert snr > 20, snr
# each block decodes on its own: the state header travels with it
assert proto.adpcm_decode_block(blocks[3]) == decoded[3 * 640 : 4 * 640]
expect_error(proto.adpcm_decode_block, b"\x00\x00\x59\x00\x11")
ok("adpcm")

# BLE: message kind byte, fragmentation to the MTU and reassembly
big = proto.encode_frame(9, 2, proto.CODEC_ADPCM, blocks[1], 0)
msg = proto.ble_message("audio", big)
frags = proto.fragment(msg, 5, 23)
assert all(len(x) <= 20 for x in frags) and len(frags) == 1 + (len(msg) - 1) // 18
r = proto.Reassembler()
out = None
for x in frags:
    out = r.feed(x)
assert out == msg and proto.parse_ble_message(out) == ("audio", big)
r2 = proto.Reassembler()
r2.feed(frags[0])
expect_error(r2.feed, frags[0][:1] + bytes((frags[1][1] + 1,)) + frags[1][2:])
assert r2.dropped == 1  # the open message was given up
assert r2.feed(frags[0]) is None
expect_error(proto.parse_ble_message, b"\x09abc")
expect_error(proto.fragment, b"x" * 5000, 1, 23)
ok("ble")

print("ALL OK", checks)
