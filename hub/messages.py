"""Typed in-process messages: what every DeviceLink yields, whatever its transport.

`decode_device_message` is the one place where a (device id, kind, payload) triple from any
transport becomes a typed message; it never raises for bad input, it returns `Rejected`.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from hub import wire

JSON_KINDS = ("status", "telemetry", "event", "ack")
MAX_FRAME_BYTES = wire.FRAME_HEADER_SIZE + wire.MAX_AUDIO_PAYLOAD


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    device_id: str
    state: str
    fw: str | None = None
    received_at: float = field(default_factory=_now)

    @property
    def online(self) -> bool:
        return self.state != "offline"


@dataclass(frozen=True, slots=True)
class Telemetry:
    device_id: str
    battery: float
    rssi: int
    uptime: float
    heap: int
    fw: str
    charging: bool | None = None
    received_at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    device_id: str
    type: str
    action: str | None = None
    detail: str | None = None
    received_at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class CommandAck:
    device_id: str
    id: str
    ok: bool
    error: str | None = None
    result: dict[str, Any] | None = None
    received_at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class AudioFrame:
    device_id: str
    session: int
    frame: wire.Frame
    received_at: float = field(default_factory=_now)


class RejectReason(enum.StrEnum):
    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    BAD_TOPIC = "bad_topic"
    UNKNOWN_DEVICE = "unknown_device"


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input a link could not turn into a message; counted and logged by the hub, never raised."""

    reason: RejectReason
    detail: str
    device_id: str | None = None
    kind: str | None = None


DeviceMessage = DeviceStatus | Telemetry | DeviceEvent | CommandAck | AudioFrame | Rejected


@dataclass(frozen=True, slots=True)
class Command:
    """A hub → device command; `id` lets the device's ack (and a retry's duplicate) match it."""

    id: str
    op: str
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # encoding validates id length and field types; a bad command never reaches a link
        wire.encode_json("cmd", self.as_json())

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "op": self.op}
        if self.args:
            out["args"] = self.args
        return out

    def encode(self) -> bytes:
        data: bytes = wire.encode_json("cmd", self.as_json())
        return data


def decode_device_message(
    device_id: str, kind: str, session: int | None, payload: bytes
) -> DeviceMessage:
    """Turn one payload from a device into a typed message or a `Rejected`."""
    try:
        if kind == "audio":
            if len(payload) > MAX_FRAME_BYTES:
                return Rejected(RejectReason.OVERSIZED, f"{len(payload)} bytes", device_id, kind)
            frame = wire.decode_frame(payload)
            if session is not None and frame.session != session:
                return Rejected(RejectReason.MALFORMED, "session mismatch", device_id, kind)
            return AudioFrame(device_id, frame.session, frame)
        if kind not in JSON_KINDS:
            return Rejected(RejectReason.BAD_TOPIC, f"devices do not send {kind}", device_id, kind)
        if len(payload) > wire.MAX_JSON_BYTES:
            return Rejected(RejectReason.OVERSIZED, f"{len(payload)} bytes", device_id, kind)
        msg = wire.decode_json(kind, payload)
    except wire.ProtocolError as exc:
        return Rejected(RejectReason.MALFORMED, str(exc), device_id, kind)
    if kind == "telemetry":
        return Telemetry(
            device_id,
            battery=msg["battery"],
            rssi=msg["rssi"],
            uptime=msg["uptime"],
            heap=msg["heap"],
            fw=msg["fw"],
            charging=msg.get("charging"),
        )
    if kind == "status":
        return DeviceStatus(device_id, msg["state"], msg.get("fw"))
    if kind == "event":
        return DeviceEvent(device_id, msg["type"], msg.get("action"), msg.get("detail"))
    return CommandAck(device_id, msg["id"], msg["ok"], msg.get("error"), msg.get("result"))
