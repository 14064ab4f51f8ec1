# Runs under MicroPython (test_ble_app.py): the real arma.app.Device with a HAL whose BLE radio
# records what the device does (the hardware boundary), no broker. A phone provisions Wi-Fi over
# Improv, then the hub talks to the device over the protocol service: a command is answered
# (the ack comes back fragmented to the MTU), a garbage write is rejected, and a push-to-talk
# session runs entirely over BLE while MQTT is unreachable.
# ruff: noqa: ASYNC230  (MicroPython has no executor; these are tiny local files)
import sys

sys.path.insert(0, sys.argv[1])  # firmware/
import os

os.chdir(sys.argv[2])  # a scratch dir: config.json is written here

import asyncio  # noqa: E402

from arma import app, config, hal_sim, improv, proto  # noqa: E402

sys.path.insert(0, sys.argv[3])  # tests/firmware, for the recording radio
from shared_cases import Radio  # noqa: E402


class Hal(hal_sim.Hal):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.radio = Radio(mtu=40)
        self.joined = []

    async def wifi_connect(self, ssid, password, timeout_ms):
        self.joined.append((ssid, password))
        self._wifi_up = password == "right"
        return self._wifi_up

    def ble_radio(self, name):
        return self.radio


cfg = config.check(
    config._merge(
        config.DEFAULTS,
        {
            "device_id": "arma-ble-1",
            "key": "ab" * 16,
            "mqtt": {"host": "127.0.0.1", "port": 1},
            "ble": {"enabled": True},
            "wifi": {"ssid": "", "password": ""},
            "audio": {"max_ms": 600},
            "timeouts": {"reply_ms": 3000},
        },
    )
)
config.save(cfg)


def reassemble(notes, handle):
    r = proto.Reassembler()
    out = []
    for _c, h, data in notes:
        if h == handle:
            m = r.feed(data)
            if m is not None:
                out.append(proto.parse_ble_message(m))
    return out


async def main():
    hal = Hal(cfg)
    dev = app.Device(cfg, hal)
    runner = asyncio.create_task(dev.run())
    await asyncio.sleep_ms(200)
    radio = hal.radio
    link = dev.ble
    assert link is not None and radio.adverts == 1
    radio.on_conn(1, True)
    # Improv needs a button press first (improv_auth, the default)
    assert dev.improv.state == improv.STATE_AUTH_REQUIRED
    radio.on_write(1, link.h_rpc, improv.build_rpc(1, improv.pack_strings(["shop", "right"])))
    await asyncio.sleep_ms(200)
    assert dev.improv.error == improv.ERROR_NOT_AUTHORIZED and not hal.joined
    os.mkdir("sim")
    open("sim/button", "w").close()
    await asyncio.sleep_ms(200)
    os.remove("sim/button")
    assert dev.improv.state == improv.STATE_AUTHORIZED
    await asyncio.sleep_ms(100)
    # wrong password first, then the right one
    radio.on_write(1, link.h_rpc, improv.build_rpc(1, improv.pack_strings(["shop", "wrong"])))
    await asyncio.sleep_ms(300)
    assert dev.improv.error == improv.ERROR_UNABLE_TO_CONNECT, dev.improv.error
    assert not config.load()["wifi"]["ssid"]
    radio.on_write(1, link.h_rpc, improv.build_rpc(1, improv.pack_strings(["shop", "right"])))
    await asyncio.sleep_ms(300)
    assert dev.improv.state == improv.STATE_PROVISIONED
    assert config.load()["wifi"] == {"ssid": "shop", "password": "right"}
    assert hal.joined[-1] == ("shop", "right")
    # protocol service: a command written in fragments, answered over BLE
    cmd = proto.encode_json("cmd", {"id": "b1", "op": "identify", "args": {"times": 1}})
    for f in proto.fragment(proto.ble_message("cmd", cmd), 9, 40):
        radio.on_write(1, link.h_down, f)
    radio.on_write(1, link.h_down, b"\x01")  # truncated fragment: rejected, counted
    await asyncio.sleep_ms(700)
    acks = [
        proto.decode_json("ack", b) for k, b in reassemble(radio.notes, link.h_up) if k == "ack"
    ]
    assert acks == [{"v": 1, "id": "b1", "ok": True, "result": {"blinked": 1}}], acks
    assert link.rejected == 1
    assert all(len(d) <= 40 - 3 for _c, h, d in radio.notes if h == link.h_up)
    # push-to-talk with no MQTT (the broker address is unreachable): audio goes over BLE
    open("sim/button", "w").close()
    for _ in range(60):
        msgs = reassemble(radio.notes, link.h_up)
        if any(k == "audio" and proto.decode_frame(b).end for k, b in msgs):
            break
        await asyncio.sleep_ms(100)
    os.remove("sim/button")
    frames = [proto.decode_frame(b) for k, b in reassemble(radio.notes, link.h_up) if k == "audio"]
    assert frames and frames[0].start and frames[-1].end, len(frames)
    assert [f.seq for f in frames] == list(range(len(frames)))
    session = frames[0].session
    assert all(f.session == session for f in frames) and len(frames) >= 25  # 600 ms of 20 ms
    # the hub answers over BLE: 3 ADPCM frames and END, each fragmented to the MTU
    st = proto.AdpcmState()
    expected = b""
    for seq in range(4):
        if seq < 3:
            pcm = bytes((seq * 40 + i) & 0xFF for i in range(640))
            block = proto.adpcm_encode_block(pcm, st)
            expected += proto.adpcm_decode_block(block)
            frame = proto.encode_frame(session, seq, proto.CODEC_ADPCM, block, 1 if seq == 0 else 0)
        else:
            frame = proto.encode_frame(session, seq, proto.CODEC_ADPCM, b"", proto.FLAG_END)
        for f in proto.fragment(proto.ble_message("play", frame), 20 + seq, 40):
            radio.on_write(1, link.h_down, f)
        await asyncio.sleep_ms(20)
    await asyncio.sleep_ms(300)
    with open(f"sim/play-{session}.raw", "rb") as f:
        assert f.read() == expected
    states = [
        proto.decode_json("status", b)["state"]
        for k, b in reassemble(radio.notes, link.h_up)
        if k == "status"
    ]
    assert states[-4:] == ["listening", "thinking", "speaking", "online"], states
    runner.cancel()
    print("BLE APP OK", len(radio.notes))


asyncio.run(main())
