"""One simulated ARMA device on MQTT (paho-mqtt, the shared codec), as the firmware behaves.

Thread model: paho's network thread runs callbacks; public methods may be called from any
thread. `stream_audio` blocks for the duration of the utterance (real-time pacing).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub import wire
from hub.sim.audio import FRAME_MS, encode_frames

log = logging.getLogger(__name__)

ACK_MEMORY = 64


class SimError(Exception):
    """The simulated device could not connect or publish."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    device_id: str
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 10
    fw: str = "sim-0.1.0"
    seed: int | None = None

    def __post_init__(self) -> None:
        wire.check_id(self.device_id)


@dataclass
class Played:
    """Frames the hub sent to this device's speaker, per session."""

    frames: dict[int, list[wire.Frame]] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)


class SimDevice:
    def __init__(
        self,
        config: SimConfig,
        *,
        ack_commands: bool = True,
        on_play: Callable[[wire.Frame], None] | None = None,
    ) -> None:
        self.config = config
        self.ack_commands = ack_commands
        self.on_play = on_play
        self.played = Played()
        self.commands: list[dict[str, Any]] = []
        self.connect_results: list[str] = []
        self._acks: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed)
        self._born = time.monotonic()
        self._battery = 60.0 + 40.0 * self._rng.random()
        self._topic = {
            k: wire.device_topic(config.device_id, k)
            for k in ("status", "telemetry", "event", "ack", "cmd")
        }
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"arma-dev-{config.device_id}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        client.will_set(self._topic["status"], self._status("offline"), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    # -- connection -----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (paho thread; it reconnects by itself)."""
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self.client.loop_start()

    def wait_connected(self, timeout: float = 10.0) -> None:
        if not self._connected.wait(timeout):
            raise SimError(
                f"{self.config.device_id}: not connected after {timeout} s "
                f"(results: {self.connect_results})"
            )

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def say_offline(self) -> mqtt.MQTTMessageInfo | None:
        """Publish the retained "offline" a clean shutdown owes (no Will fires then)."""
        if not self.connected:
            return None
        return self.client.publish(self._topic["status"], self._status("offline"), 1, True)

    def stop(self, clean: bool = True, timeout: float = 2.0) -> None:
        info = self.say_offline() if clean else None
        if info is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self.client.disconnect()
        self.client.loop_stop()

    def _status(self, state: str) -> bytes:
        return wire.encode_json("status", {"state": state, "fw": self.config.fw})

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.connect_results.append(str(rc))
        if rc.is_failure:
            return
        client.subscribe(
            [(self._topic["cmd"], 1), (wire.device_topic(self.config.device_id, "play"), 0)]
        )
        client.publish(self._topic["status"], self._status("online"), qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        self._connected.clear()

    # -- uplink ---------------------------------------------------------------------------------
    def send_telemetry(self, **overrides: Any) -> mqtt.MQTTMessageInfo:
        self._battery = max(0.0, self._battery - 0.01)
        msg: dict[str, Any] = {
            "battery": round(self._battery, 1),
            "rssi": self._rng.randint(-85, -40),
            "uptime": round(time.monotonic() - self._born, 1),
            "heap": self._rng.randint(60_000, 90_000),
            "fw": self.config.fw,
            "charging": False,
        }
        msg.update(overrides)
        return self.client.publish(self._topic["telemetry"], wire.encode_json("telemetry", msg), 0)

    def send_event(
        self, type_: str, action: str | None = None, detail: str | None = None
    ) -> mqtt.MQTTMessageInfo:
        msg: dict[str, Any] = {"type": type_}
        if action is not None:
            msg["action"] = action
        if detail is not None:
            msg["detail"] = detail
        return self.client.publish(self._topic["event"], wire.encode_json("event", msg), 1)

    def press_button(self, action: str = "press") -> mqtt.MQTTMessageInfo:
        return self.send_event("button", action)

    def stream_audio(
        self,
        pcm: bytes,
        *,
        codec: int = wire.CODEC_ADPCM,
        realtime: bool = True,
        session: int | None = None,
    ) -> int:
        """Send one push-to-talk turn; returns its session id. Paced at 20 ms per frame."""
        session = secrets.randbits(32) if session is None else session
        topic = wire.device_topic(self.config.device_id, "audio", session)
        started = time.monotonic()
        for index, frame in enumerate(encode_frames(pcm, session, codec)):
            if realtime:
                delay = started + index * FRAME_MS / 1000 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.client.publish(topic, frame, qos=0)
        return session

    # -- downlink -------------------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            _, kind, session = wire.parse_device_topic(message.topic)
            if kind == "cmd":
                self._on_command(client, wire.decode_json("cmd", bytes(message.payload)))
            elif kind == "play" and session is not None:
                frame = wire.decode_frame(bytes(message.payload))
                with self._lock:
                    self.played.frames.setdefault(session, []).append(frame)
                    if frame.end:
                        self.played.ended.add(session)
                if self.on_play is not None:
                    self.on_play(frame)
        except wire.ProtocolError as exc:
            log.warning("%s: refused %s: %s", self.config.device_id, message.topic, exc)

    def _on_command(self, client: mqtt.Client, cmd: dict[str, Any]) -> None:
        with self._lock:
            self.commands.append(cmd)
        if not self.ack_commands:
            return
        ack = self._acks.get(cmd["id"])
        if ack is None:  # a retry of a command already done gets the same ack, not a re-run
            ack = wire.encode_json("ack", {"id": cmd["id"], **self._execute(cmd)})
            self._acks[cmd["id"]] = ack
            while len(self._acks) > ACK_MEMORY:
                self._acks.popitem(last=False)
        client.publish(self._topic["ack"], ack, qos=1)

    def _execute(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op, args = cmd["op"], cmd.get("args") or {}
        if op == "identify":
            return {"ok": True, "result": {"blinked": int(args.get("times", 3))}}
        if op == "ping":
            return {"ok": True, "result": {"uptime": round(time.monotonic() - self._born, 1)}}
        if op == "set_volume":
            level = args.get("level")
            if not isinstance(level, int) or not 0 <= level <= 100:
                return {"ok": False, "error": "level must be an integer 0-100"}
            return {"ok": True, "result": {"level": level}}
        if op == "reboot":
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op}"}
