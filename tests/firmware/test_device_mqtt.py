"""The real firmware under MicroPython, against a real Mosquitto, with a paho peer as the hub.

Ways we tried to break it: reply frames for another session (must be ignored), a malformed
command and an unknown op (must be answered with ok=false, device keeps working), the broker
restarted mid-session and while idle, the device killed without a goodbye (Last Will), the hub
silent after a request (device must time out back to idle).
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import time

import pytest

from firmware.arma import proto

from .conftest import DeviceRunner, HubPeer

DEV = "arma-test-1"
pytestmark = pytest.mark.micropython


def _audio_frames(peer: HubPeer, timeout: float = 10.0) -> tuple[int, list[proto.Frame]]:
    """Collect one uplink session until its END frame."""
    frames: list[proto.Frame] = []
    while True:
        topic, payload, _ = peer.wait(lambda t, p, r: "/audio/" in t, timeout)
        _dev, _kind, session = proto.parse_device_topic(topic)
        frame = proto.decode_frame(payload)
        assert frame.session == session
        frames.append(frame)
        if frame.end:
            return session, frames


def _reply(peer: HubPeer, session: int, pcm: bytes, frame_samples: int = 320) -> list[bytes]:
    """Send `pcm` as ADPCM reply frames; returns the PCM the device should play."""
    topic = proto.device_topic(DEV, "play", session)
    state = proto.AdpcmState()
    expected = []
    chunks = [pcm[i : i + 2 * frame_samples] for i in range(0, len(pcm), 2 * frame_samples)]
    for seq, chunk in enumerate(chunks):
        block = proto.adpcm_encode_block(chunk, state)
        expected.append(proto.adpcm_decode_block(block))
        flags = proto.FLAG_START if seq == 0 else 0
        peer.publish(topic, proto.encode_frame(session, seq, proto.CODEC_ADPCM, block, flags))
    peer.publish(
        topic, proto.encode_frame(session, len(chunks), proto.CODEC_ADPCM, b"", proto.FLAG_END)
    )
    return expected


def _tone(n: int, freq: int = 440) -> bytes:
    return struct.pack(
        f"<{n}h", *(int(6000 * math.sin(2 * math.pi * freq * i / 16000)) for i in range(n))
    )


def _session(device: DeviceRunner, peer: HubPeer) -> tuple[int, list[proto.Frame]]:
    time.sleep(0.1)  # a new session needs a new press: let the device see the last release
    device.press()
    try:
        return _audio_frames(peer)
    finally:
        device.release()


def test_boot_stream_reply_telemetry_and_commands(mosquitto, device_factory, hub_peer_factory):
    peer = hub_peer_factory(mosquitto.port)
    device = device_factory(mosquitto.port).start()
    status = peer.wait_json(DEV, "status", 15, state="online")
    assert status["fw"] == "1.0.0"
    tel = peer.wait_json(DEV, "telemetry", 10)
    # 3950 mV on the fake ADC -> (3950-3300)*100//850 = 76 %
    assert tel["battery"] == 76 and tel["rssi"] == -58 and tel["heap"] > 0 and tel["fw"] == "1.0.0"

    # a late subscriber (a restarted hub) still learns the device is online: retained status
    late = hub_peer_factory(mosquitto.port, "late-hub")
    _t, payload, retained = late.wait(lambda t, p, r: t.endswith("/status"), 5)
    assert retained and proto.decode_json("status", payload)["state"] == "online"

    mark = device.mark()
    session, frames = _session(device, peer)
    # the 1 s utterance is followed by silence: the device ends the session by itself
    device.wait_line(rf"session {session} ended: (silence|release)", 5, mark)
    assert frames[0].start and frames[-1].end and frames[-1].payload == b""
    assert [f.seq for f in frames] == list(range(len(frames))), "gap or reorder in uplink"
    audio = b"".join(f.pcm16() for f in frames[:-1])
    samples = struct.unpack(f"<{len(audio) // 2}h", audio)
    assert len(frames) >= 50, "1 s of speech is at least 50 frames of 20 ms"
    assert max(abs(s) for s in samples) > 4000, "decoded uplink carries the utterance"

    # a reply for some other session must not be played
    other = (session + 1) & 0x3FFFFFFF
    peer.publish(
        proto.device_topic(DEV, "play", other),
        proto.encode_frame(other, 0, proto.CODEC_PCM16, b"\x01\x00" * 10, proto.FLAG_START),
    )
    expected = _reply(peer, session, _tone(16000 // 2))
    device.wait_line(rf"played {len(expected)} frames of session {session}", 10, mark)
    assert device.played(session) == b"".join(expected)
    assert not (device.root / "out" / f"play-{other}.raw").exists()
    device.wait_line(r"led: idle", 5, mark)
    peer.wait_json(DEV, "status", 5, state="online")
    leds = device.leds(mark)
    assert leds[:4] == ["listening", "thinking", "speaking", "idle"], leds
    states = [
        proto.decode_json("status", p)["state"] for t, p, _ in peer.seen if t.endswith("/status")
    ]
    assert states[-4:] == ["listening", "thinking", "speaking", "online"], states

    # commands: each answered on ack with its id
    ack = peer.command(DEV, "c1", "set_volume", level=35)
    assert ack["ok"] and ack["result"] == {"level": 35}
    ack = peer.command(DEV, "c2", "set_volume", level=350)
    assert not ack["ok"] and "0-100" in ack["error"]
    ack = peer.command(DEV, "c3", "self_destruct")
    assert not ack["ok"] and "unknown op" in ack["error"]
    ack = peer.command(DEV, "c4", "identify", times=2)
    assert ack["ok"] and ack["result"] == {"blinked": 2}
    # the hub retries under the same id when an ack is lost: answered again, not re-run
    mark = device.mark()
    assert peer.command(DEV, "c4", "identify", times=2) == ack
    device.wait_line(r"c4 repeated", 5, mark)
    assert "identify" not in device.leds(mark)
    assert peer.command(DEV, "c4b", "ping")["result"]["uptime"] >= 0
    ack = peer.command(DEV, "c5", "config", changes={"telemetry_s": 30, "mqtt.keepalive": 5})
    assert ack["ok"] and ack["result"] == {
        "applied": ["mqtt.keepalive", "telemetry_s"],
        "restart_required": True,
    }

    saved = json.loads((device.flash / "config.json").read_text())
    assert saved["telemetry_s"] == 30 and saved["audio"]["volume"] == 35
    ack = peer.command(DEV, "c6", "config_update", changes={"device_id": "evil"})
    assert not ack["ok"] and "not updatable" in ack["error"]
    # garbage on the command topic is rejected without an ack and without harm
    peer.publish(proto.device_topic(DEV, "cmd"), b"{not json", qos=1)
    ack = peer.command(DEV, "c7", "telemetry")
    assert ack["ok"] and ack["result"]["fw"] == "1.0.0"
    device.wait_line(r"rejected message on arma/v1/d/arma-test-1/cmd", 5)

    # reboot: acked, the device says offline, resets and comes back online by itself
    boots = device.boots
    ack = peer.command(DEV, "c8", "reboot")
    assert ack["ok"]
    peer.wait_json(DEV, "status", 10, state="offline")
    mark = device.mark()
    device.wait_line(r"<exit 3>", 10, mark)
    device.wait_line(r"connected \(1\)", 15, mark)
    peer.wait_json(DEV, "status", 15, state="online")
    assert device.boots == boots + 1


def test_broker_restart_mid_session_and_hub_silence(mosquitto, device_factory, hub_peer_factory):
    peer = hub_peer_factory(mosquitto.port)
    device = device_factory(mosquitto.port, wav_seconds=3.0).start()
    peer.wait_json(DEV, "status", 15, state="online")

    # the broker dies while the device streams: the session is abandoned, the device goes idle
    mark = device.mark()
    device.press()
    peer.wait(lambda t, p, r: "/audio/" in t, 10)
    mosquitto.restart()
    device.wait_line(r"session \d+ ended: offline", 10, mark)
    device.release()
    device.wait_line(r"connected \(2\)", 15, mark)
    device.wait_line(r"led: idle", 5, mark)
    assert device.leds(mark) == ["listening", "error", "idle"]

    # after the restart a new hub client sees the device online again (retained status re-sent)
    peer2 = hub_peer_factory(mosquitto.port, "hub-after-restart")
    assert peer2.wait_json(DEV, "status", 10, state="online")["fw"] == "1.0.0"

    # the hub never answers: the device gives up after reply_ms and is idle again
    mark = device.mark()
    session, _frames = _session(device, peer2)
    device.wait_line(rf"no reply for session {session}", 10, mark)
    device.wait_line(r"led: idle", 5, mark)
    peer2.wait_json(DEV, "event", 5, type="error", action="no_reply")

    # and a full session works afterwards
    mark = device.mark()
    session, _frames = _session(device, peer2)
    expected = _reply(peer2, session, _tone(3200))
    device.wait_line(rf"played {len(expected)} frames of session {session}", 10, mark)
    assert device.played(session) == b"".join(expected)


def test_last_will_marks_a_dead_device_offline(mosquitto, device_factory, hub_peer_factory):
    peer = hub_peer_factory(mosquitto.port)
    device = device_factory(mosquitto.port).start()
    peer.wait_json(DEV, "status", 15, state="online")
    start = time.monotonic()
    device.kill()  # power cut: no DISCONNECT
    status = peer.wait_json(DEV, "status", 10, state="offline")
    assert status["fw"] == "1.0.0"
    assert time.monotonic() - start < 10


def test_credentials_and_refused_login(
    mosquitto_factory, device_factory, hub_peer_factory, tmp_path
):
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), DEV, "s3cret"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "hub", "hubpw"], check=True)
    broker = mosquitto_factory(f"password_file {pw}\n")
    bad = device_factory(broker.port, mqtt={"user": DEV, "password": "wrong"}).start()
    bad.wait_line(r"connection refused, code 5", 10)
    bad.wait_line(r"reconnect in \d+ ms", 5)  # keeps retrying with backoff, does not crash
    bad.kill()

    good = device_factory(broker.port, mqtt={"user": DEV, "password": "s3cret"}).start()
    good.wait_line(r"connected \(1\)", 15)
    peer = hub_peer_factory(broker.port, "hub", ("hub", "hubpw"))
    assert peer.wait_json(DEV, "status", 10, state="online")["fw"] == "1.0.0"


def test_wifi_backoff_and_offline_queue(mosquitto, device_factory, hub_peer_factory):
    # Wi-Fi refuses twice: capped exponential backoff, then the device comes up by itself
    # (slow MQTT backoff: the test's hub peer is subscribed again before the device is back)
    device = device_factory(
        mosquitto.port,
        sim={"wifi_fail_first": 2},
        mqtt={"backoff_min_ms": 2000, "backoff_max_ms": 3000},
    ).start()
    device.wait_line(r"wifi join failed, retry in 500 ms", 10)
    device.wait_line(r"wifi join failed, retry in 1000 ms", 10)
    device.wait_line(r"connected \(1\)", 10)

    # QoS 1 messages made while the broker is down are kept and delivered after the reconnect
    mosquitto.stop()
    mark = device.mark()
    device.wait_line(r"link down", 10, mark)
    device.press()
    device.wait_line(r"button pressed while offline", 5, mark)
    device.release()
    mosquitto.start()
    peer = hub_peer_factory(mosquitto.port)
    device.wait_line(r"connected \(2\)", 15, mark)
    event = peer.wait_json(DEV, "event", 10, type="button")
    assert event["action"] == "press"


def test_reply_burst_beyond_the_play_queue(mosquitto, device_factory, hub_peer_factory):
    # A hub that sends a 4 s reply in one burst: the device holds play_queue frames (here 100 =
    # 2 s), drops the oldest beyond that, says so, plays the rest in real time and goes idle.
    peer = hub_peer_factory(mosquitto.port)
    device = device_factory(mosquitto.port, audio={"play_queue": 100}).start()
    peer.wait_json(DEV, "status", 15, state="online")
    mark = device.mark()
    session, _frames = _session(device, peer)
    started = time.monotonic()
    n = 200 * 320  # a rising chirp: no two frames alike
    chirp = [int(6000 * math.sin(2 * math.pi * (150 + i / 40) * i / 16000)) for i in range(n)]
    expected = _reply(peer, session, struct.pack(f"<{n}h", *chirp))
    m = device.wait_line(rf"played (\d+) frames of session {session}", 15, mark)
    elapsed = time.monotonic() - started
    played = int(m.group(1))
    device.wait_line(r"reply arrives faster than it plays", 1, mark)
    assert 100 <= played < 200, played
    # what was played is reply frames in order (a gap where the oldest were dropped), nothing
    # invented and the end intact
    audio = device.played(session)
    size = len(expected[0])  # 640 B of PCM per 20 ms frame
    chunks = [audio[i : i + size] for i in range(0, len(audio), size)]
    assert len(chunks) == played
    positions, at = [], 0
    for c in chunks:  # each played frame is a later reply frame than the one before
        at = expected.index(c, at)
        positions.append(at)
        at += 1
    assert positions[-1] == len(expected) - 1
    assert elapsed >= played * 0.02 * 0.9, "the simulated speaker plays in real time"
    device.wait_line(r"led: idle", 5, mark)
