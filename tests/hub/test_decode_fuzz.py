"""The hub's decoders never raise on device input: whatever the topic, payload or BLE fragment,
the result is a typed message or a `Rejected` (fuzzed with hypothesis: random bytes, random
topics, and valid messages with bytes flipped, cut or appended)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub import wire
from hub.links.ble import BleLink
from hub.links.mqtt import MqttLink, MqttLinkConfig
from hub.messages import (
    AudioFrame,
    CommandAck,
    DeviceEvent,
    DeviceStatus,
    Rejected,
    Telemetry,
    decode_device_message,
)

TYPED = (DeviceStatus, Telemetry, DeviceEvent, CommandAck, AudioFrame, Rejected)
VALID = {
    "status": wire.encode_json("status", {"state": "online", "fw": "1"}),
    "telemetry": wire.encode_json(
        "telemetry", {"battery": 5, "rssi": -1, "uptime": 1, "heap": 1, "fw": "x"}
    ),
    "event": wire.encode_json("event", {"type": "button", "action": "press"}),
    "ack": wire.encode_json("ack", {"id": "a", "ok": True}),
    "audio": wire.encode_frame(3, 9, wire.CODEC_ADPCM, b"\x00\x00\x10\x00" + b"\x42" * 20, 1),
}
KINDS = st.sampled_from(sorted(VALID))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(KINDS)
    data = bytearray(VALID[kind])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "append"]))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        else:
            data += draw(st.binary(max_size=64))
    return kind, bytes(data)


@settings(max_examples=400, deadline=None)
@given(st.one_of(mutated(), st.tuples(KINDS, st.binary(max_size=5000))))
def test_decode_device_message_never_raises(case: tuple[str, bytes]) -> None:
    kind, payload = case
    session = 3 if kind == "audio" else None
    assert isinstance(decode_device_message("dev-1", kind, session, payload), TYPED)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(lambda a, b: f"arma/v1/d/{a}/{b}", st.text(max_size=40), st.text(max_size=20)),
    ),
    st.binary(max_size=300),
)
def test_mqtt_link_decode_never_raises(topic: str, payload: bytes) -> None:
    link = MqttLink(MqttLinkConfig(hub_id="hub-1", host="127.0.0.1", port=1))
    result = link._decode(topic, payload)
    assert result is None or isinstance(result, TYPED)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=20))
def test_ble_notifications_never_raise(fragments: list[bytes]) -> None:
    link = BleLink({"ble-1": object()})  # type: ignore[dict-item]  # transport unused here
    peer = link._peers["ble-1"]
    for fragment in fragments:
        link._on_notify(peer, fragment)
    while not link._queue.empty():
        assert isinstance(link._queue.get_nowait(), TYPED)
