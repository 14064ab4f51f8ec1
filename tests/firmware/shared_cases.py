# Firmware framing cases run unchanged under MicroPython and CPython (test_shared_logic.py runs
# this file with both). Written in the subset both run: no pytest, no typing. Prints one line
# per case and "PASSED n" at the end; any failure raises.
import sys

sys.path.insert(0, sys.argv[1])  # firmware/

import asyncio

from arma import adpcm_fast, ble, improv, proto

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError(f"{exc.__name__} not raised by {fn.__name__}{args!r}")


class Radio:
    # records what the link does; hands out handles like gatts_register_services
    def __init__(self, mtu=23):
        self.values = {}
        self.notes = []
        self.adverts = 0
        self._mtu = mtu

    def register(self, services, on_write, on_conn):
        self.on_write = on_write
        self.on_conn = on_conn
        h = 10
        out = []
        for _uuid, chars in services:
            hs = []
            for _c in chars:
                hs.append(h)
                h += 2
            out.append(tuple(hs))
        return tuple(out)

    def advertise(self, uuid):
        self.adverts += 1

    def set_value(self, handle, data):
        self.values[handle] = bytes(data)

    def notify(self, conn, handle, data):
        self.notes.append((conn, handle, bytes(data)))

    def mtu(self, conn):
        return self._mtu


@case
def improv_frames():
    frame = improv.build_rpc(1, improv.pack_strings(["shop-wifi", "pässword"]))
    assert frame[0] == 1 and frame[1] == len(frame) - 3
    assert frame[-1] == sum(frame[:-1]) & 0xFF
    cmd, data = improv.parse_rpc(frame)
    assert cmd == 1 and improv.parse_wifi_settings(data) == ("shop-wifi", "pässword")
    bad = bytearray(frame)
    bad[-1] ^= 1
    assert raises(improv.ImprovError, improv.parse_rpc, bytes(bad)).code == improv.ERROR_INVALID_RPC
    raises(improv.ImprovError, improv.parse_rpc, frame[:-2])
    raises(improv.ImprovError, improv.parse_rpc, b"\x01")
    raises(improv.ImprovError, improv.unpack_strings, b"\x05ab")
    raises(improv.ImprovError, improv.parse_wifi_settings, improv.pack_strings(["only-ssid"]))
    raises(improv.ImprovError, improv.parse_wifi_settings, improv.pack_strings(["", "pw"]))
    raises(improv.ImprovError, improv.build_rpc, 1, bytes(256))


def _run(coro):
    return asyncio.run(coro)


@case
def improv_provisioning_flow():
    notes = []
    joined = []

    async def connect(ssid, password):
        joined.append((ssid, password))
        return "http://arma-hub.local/devices/arma-0001" if password == "right" else None

    srv = improv.ImprovServer(lambda c, v: notes.append((c, v)), connect, authorized=False)
    good = improv.build_rpc(1, improv.pack_strings(["net", "right"]))
    _run(srv.write(good))
    assert srv.error == improv.ERROR_NOT_AUTHORIZED and not joined
    srv.authorize()
    assert srv.state == improv.STATE_AUTHORIZED
    notes.clear()
    # split across two writes, as a small MTU would
    _run(srv.write(good[:4]))
    assert not joined
    _run(srv.write(good[4:]))
    assert joined == [("net", "right")] and srv.state == improv.STATE_PROVISIONED
    states = [v[0] for c, v in notes if c == improv.CHAR_STATE]
    assert states == [improv.STATE_PROVISIONING, improv.STATE_PROVISIONED]
    result = next(v for c, v in notes if c == improv.CHAR_RESULT)
    cmd, data = improv.parse_rpc(result)
    assert cmd == 1 and improv.unpack_strings(data) == ["http://arma-hub.local/devices/arma-0001"]
    srv2 = improv.ImprovServer(lambda c, v: None, connect)
    _run(srv2.write(improv.build_rpc(1, improv.pack_strings(["net", "wrong"]))))
    assert srv2.error == improv.ERROR_UNABLE_TO_CONNECT and srv2.state == improv.STATE_AUTHORIZED
    _run(srv2.write(improv.build_rpc(9, b"")))
    assert srv2.error == improv.ERROR_UNKNOWN_RPC


@case
def ble_link_fragments_both_ways():
    radio = Radio(mtu=23)
    got = []
    srv = improv.ImprovServer(None, None)
    link = ble.BleLink(radio, lambda k, b: got.append((k, b)), srv)
    assert radio.adverts == 1 and radio.values[link._improv_handles[improv.CHAR_STATE]] == b"\x02"
    assert link.send("status", b"{}") == 0  # nobody connected: nothing sent
    radio.on_conn(1, True)
    body = proto.encode_json(
        "telemetry", {"battery": 80, "rssi": -60, "uptime": 5, "heap": 9000, "fw": "1.0.0"}
    )
    n = link.send("telemetry", body)
    assert n == (len(body) + 1 + 17) // 18 and n > 1
    frags = [d for c, h, d in radio.notes if h == link.h_up]
    assert all(len(f) <= 20 for f in frags)
    r = proto.Reassembler()
    out = None
    for f in frags:
        out = r.feed(f)
    assert proto.parse_ble_message(out) == ("telemetry", body)
    # hub -> device: a play frame split into fragments, one of them duplicated (rejected)
    frame = proto.encode_frame(7, 0, proto.CODEC_PCM16, bytes(100), proto.FLAG_START)
    down = proto.fragment(proto.ble_message("play", frame), 3, 23)
    assert len(down) > 2
    radio.on_write(1, link.h_down, down[0])
    radio.on_write(1, link.h_down, down[1])
    radio.on_write(1, link.h_down, down[1])  # duplicate: the open message is dropped
    assert link.rejected == 1 and not got
    for f in down:
        radio.on_write(1, link.h_down, f)
    assert got == [("play", frame)]
    radio.on_conn(1, False)
    assert radio.adverts == 2 and link.send("status", b"{}") == 0


@case
def adpcm_fast_matches_codec():
    from array import array

    samples = [int(9000 * ((i * 37) % 200 - 100) / 100) for i in range(640)]
    pcm = b"".join(bytes(((s & 0xFF), (s >> 8) & 0xFF)) for s in samples)
    st_a = proto.AdpcmState()
    st_b = proto.AdpcmState()
    buf = array("h", samples)
    for k in range(2):  # two consecutive blocks: the state carries over identically
        ref = proto.adpcm_encode_block(pcm[k * 640 : (k + 1) * 640], st_a)
        out = bytearray(4 + 160)
        n = adpcm_fast.encode_into(buf[k * 320 : (k + 1) * 320], 320, out, 0, st_b)
        assert n == len(ref) and bytes(out) == ref
        assert (st_a.predictor, st_a.index) == (st_b.predictor, st_b.index)
    assert adpcm_fast.peak(buf, 640) == max(abs(s) for s in samples)
    # decoding in small chunks into a reused buffer equals the codec's one-shot decode
    ref = proto.adpcm_encode_block(pcm[:640], proto.AdpcmState(1234, 20))
    st = proto.AdpcmState(1234, 20)
    small = bytearray(36)  # 9 source bytes per call
    got = b""
    pos = 4
    while pos < len(ref):
        start = pos
        pos = adpcm_fast.decode_into(ref, pos, len(ref), small, st)
        got += bytes(small[: (pos - start) * 4])
    assert got == proto.adpcm_decode_block(ref)
    assert adpcm_fast.peak_le16(pcm, 0, 640) == max(abs(s) for s in samples)


if __name__ == "__main__":
    passed = 0
    for fn in CASES:
        fn()
        passed += 1
        print("ok", fn.__name__)
    print("PASSED", passed)
