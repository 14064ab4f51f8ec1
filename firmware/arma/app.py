# The ARMA device application: one task per concern (Wi-Fi, MQTT link, push-to-talk, commands,
# telemetry, watchdog), all hardware reached through the HAL. Every wait has a timeout so a lost
# hub or broker always brings the device back to idle.
import asyncio
import gc
import json
import random
import time

from arma import audio, ble, commands, config, improv, log, mqtt, ota, proto
from arma.version import VERSION
from micropython import const

_TAG = "app"
_POLL_MS = const(20)
_CMD_QUEUE = const(8)


def battery_percent(mv):
    # single-cell Li-ion, linear between 3.30 V (empty) and 4.15 V (full)
    pct = (mv - 3300) * 100 // 850
    return 0 if pct < 0 else 100 if pct > 100 else pct


class Device:
    def __init__(self, cfg, hal):
        self.cfg = cfg
        self.hal = hal
        self.id = cfg["device_id"]
        self.t0 = time.ticks_ms()
        m = cfg["mqtt"]
        self.topic_status = proto.device_topic(self.id, "status")
        offline = proto.encode_json("status", {"state": "offline", "fw": VERSION})
        self.client = mqtt.MQTTClient(
            self.id,
            hal.resolve(m["host"]),
            m["port"],
            m["user"],
            m["password"],
            m["keepalive"],
            (self.topic_status, offline, 1, True),
            self._on_message,
            self._on_connect,
            m["queue"],
            m["backoff_min_ms"],
            m["backoff_max_ms"],
        )
        self.client.subscribe(proto.device_topic(self.id, "cmd"), 1)
        self.client.subscribe(proto.device_topic(self.id, "play"), 0)
        a = cfg["audio"]
        self.uplink = audio.Uplink(a["codec"], a["frame_ms"])
        self.play = audio.PlayQueue(a["play_queue"])
        self.speaker = audio.Speaker()
        self.cmds = []
        self.cmd_event = asyncio.Event()
        self.state = "online"
        self.session = None
        self.audio_topic = ""
        self.sessions = 0
        self.healthy = False
        self.ble = None
        self.improv = None
        self.joining = False

    # -- MQTT callbacks (run inside the link's receive task: no blocking, no awaits) --------
    def _on_connect(self, client):
        self.publish_status(self.state if self.session is not None else "online")
        for ev in ota.boot_events():
            self.event("error", "ota", ev)

    def _on_message(self, topic, payload, retain):
        try:
            _dev, kind, _session = proto.parse_device_topic(topic)
            self._dispatch(kind, payload)
        except proto.ProtocolError as e:
            log.warn(_TAG, "rejected message on %s: %s" % (topic, e))

    def _on_ble(self, kind, body):
        try:
            self._dispatch(kind, body)
        except proto.ProtocolError as e:
            log.warn(_TAG, "rejected BLE %s: %s" % (kind, e))

    def _dispatch(self, kind, payload):
        # the same hub messages arrive over MQTT or BLE
        if kind == "play":
            frame = proto.decode_frame(payload)  # validated here, stored as received
            self.play.put(frame.session, payload)
        elif kind == "cmd":
            msg = proto.decode_json("cmd", payload)
            if len(self.cmds) >= _CMD_QUEUE:
                self.ack(msg["id"], False, "busy: command queue full")
                return
            self.cmds.append(msg)
            self.cmd_event.set()

    # -- outbound messages ---------------------------------------------------------------
    def send(self, kind, body, qos=0, retain=False):
        # MQTT (queued while offline) and, when a central is connected, BLE
        self.client.publish(proto.device_topic(self.id, kind), body, qos, retain)
        if self.ble is not None:
            try:
                self.ble.send(kind, body)
            except Exception as e:
                log.warn(_TAG, "BLE send failed: %r" % (e,))

    def publish_status(self, state):
        self.state = state
        self.send("status", proto.encode_json("status", {"state": state, "fw": VERSION}), 1, True)

    def event(self, typ, action, detail=None):
        msg = {"type": typ, "action": action}
        if detail:
            msg["detail"] = detail[:200]
        self.send("event", proto.encode_json("event", msg), 1)

    def ack(self, cmd_id, ok, error=None, result=None):
        msg = {"id": cmd_id, "ok": ok}
        if error:
            msg["error"] = error
        if result:
            msg["result"] = result
        self.send("ack", proto.encode_json("ack", msg), 1)

    def telemetry(self):
        gc.collect()
        return {
            "battery": battery_percent(self.hal.battery_mv()),
            "rssi": self.hal.rssi(),
            "uptime": time.ticks_diff(time.ticks_ms(), self.t0) // 1000,
            "heap": gc.mem_free(),
            "fw": VERSION,
            "charging": self.hal.charging(),
        }

    # -- tasks ---------------------------------------------------------------------------
    async def run(self):
        self.hal.led("off")
        self.hal.wdt_start(30000)
        b = self.cfg["ble"]
        radio = self.hal.ble_radio(b["name"] or self.id) if b["enabled"] else None
        if radio is not None:
            # Improv: with improv_auth a press of the button authorizes Wi-Fi provisioning
            self.improv = improv.ImprovServer(
                None, self._improv_connect, authorized=not b["improv_auth"]
            )
            self.ble = ble.BleLink(radio, self._on_ble, self.improv)
        await asyncio.gather(
            self._guard("net", self.net_loop),
            self._guard("ble", self.ble_loop),
            self._guard("ptt", self.ptt_loop),
            self._guard("cmd", self.cmd_loop),
            self._guard("tel", self.tel_loop),
            self._guard("sys", self.sys_loop),
        )

    async def _guard(self, name, loop):
        # a crashed concern is logged and restarted; the rest of the device keeps running.
        # A loop that returns (BLE disabled) is done.
        while True:
            try:
                await loop()
                return
            except Exception as e:
                log.error(_TAG, "%s task failed: %r" % (name, e))
                self.hal.led("error")
                await asyncio.sleep_ms(1000)

    async def net_loop(self):
        await self.wifi_up()
        await self.client.run()

    async def ble_loop(self):
        while self.ble is not None:
            await self.ble.service_rpc()
            await asyncio.sleep_ms(100)

    async def _improv_connect(self, ssid, password):
        # Improv Wi-Fi: join, and keep the credentials only when the join worked
        if not await self.hal.wifi_connect(ssid, password, self.cfg["timeouts"]["wifi_ms"]):
            return None
        new, _k, _r = config.apply_changes(self.cfg, {"wifi.ssid": ssid, "wifi.password": password})
        config.save(new)
        self.cfg = new
        return ""

    async def wifi_up(self):
        # one joiner at a time (boot and the Wi-Fi watch both ask); capped exponential backoff
        if self.joining:
            return
        self.joining = True
        try:
            await self._join()
        finally:
            self.joining = False

    async def _join(self):
        while not self.cfg["wifi"]["ssid"]:  # unprovisioned: Improv over BLE fills it in
            log.info(_TAG, "no Wi-Fi configured: waiting for Improv provisioning over BLE")
            self.hal.wdt_feed()
            await asyncio.sleep_ms(2000)
        if self.hal.wifi_connected():
            return
        attempt = 0
        while True:
            w = self.cfg["wifi"]
            if await self.hal.wifi_connect(
                w["ssid"], w["password"], self.cfg["timeouts"]["wifi_ms"]
            ):
                return
            delay = min(30000, 500 << min(attempt, 6))
            attempt += 1
            log.warn(_TAG, "wifi join failed, retry in %d ms" % delay)
            self.hal.wdt_feed()
            await asyncio.sleep_ms(delay)

    async def sys_loop(self):
        # watchdog, Wi-Fi watch, OTA health mark
        healthy_ms = self.cfg["ota"]["healthy_s"] * 1000
        online_since = None
        while True:
            self.hal.wdt_feed()
            if not self.hal.wifi_connected():
                await self.wifi_up()
            if self.client.connected and not self.healthy:
                now = time.ticks_ms()
                if online_since is None:
                    online_since = now
                elif time.ticks_diff(now, online_since) >= healthy_ms:
                    self.healthy = True
                    if ota.mark_good():
                        log.info(_TAG, "update confirmed, version " + VERSION)
            await asyncio.sleep_ms(1000)

    async def tel_loop(self):
        while True:
            if self.client.connected or (self.ble is not None and self.ble.conns):
                self.send("telemetry", proto.encode_json("telemetry", self.telemetry()))
            await asyncio.sleep_ms(self.cfg["telemetry_s"] * 1000)

    async def cmd_loop(self):
        while True:
            while not self.cmds:
                self.cmd_event.clear()
                await self.cmd_event.wait()
            msg = self.cmds.pop(0)
            await commands.handle(self, msg)

    async def ptt_loop(self):
        self.hal.led("idle")
        while True:
            while not self.hal.button():
                await asyncio.sleep_ms(_POLL_MS)
            if self.improv is not None and self.improv.state == improv.STATE_AUTH_REQUIRED:
                log.info(_TAG, "button: Improv provisioning authorized")
                self.improv.authorize()
                self.hal.led("identify")
            elif not self.linked():
                self.event("button", "press")  # queued (QoS 1) until the link is back
                log.warn(_TAG, "button pressed while offline")
                self.hal.led("error")
                await asyncio.sleep_ms(1000)
            else:
                self.event("button", "press")
                try:
                    await self.talk()
                finally:
                    self.hal.mic_stop()
                    self.hal.speaker_stop()
                    self.session = None
                    self.play.reset(-1)
                    if self.linked():
                        self.publish_status("online")
            self.hal.led("idle")
            while self.hal.button():  # a new session needs a new press
                await asyncio.sleep_ms(_POLL_MS)

    async def talk(self):
        a = self.cfg["audio"]
        session = random.getrandbits(30)
        self.session = session
        self.sessions += 1
        self.play.reset(session)
        topic = proto.device_topic(self.id, "audio", session)
        up = self.uplink
        up.begin(topic, session)
        self.audio_topic = topic
        self.hal.led("listening")
        self.publish_status("listening")
        reason = await self.stream(up, a)
        log.info(_TAG, "session %d ended: %s" % (session, reason))
        if reason == "offline":
            self.hal.led("error")
            await asyncio.sleep_ms(1000)
            return
        self.hal.led("thinking")
        self.publish_status("thinking")
        await self.playback(session)

    async def stream(self, up, a):
        # Streams until release, silence after speech, max length or a dead link.
        frame_ms = a["frame_ms"]
        self.hal.mic_start()
        seq = 0
        heard = False
        quiet_ms = 0
        elapsed = 0
        reason = "max"
        while elapsed < a["max_ms"]:
            await self.hal.mic_read(up.mic_buf)
            pkt = up.frame(seq, proto.FLAG_START if seq == 0 else 0)
            try:
                await self._send_audio(pkt, up.frame_view)
            except Exception as e:
                log.warn(_TAG, "stream aborted: %r" % (e,))
                return "offline"
            seq = (seq + 1) & 0xFFFF
            elapsed += frame_ms
            if up.last_peak >= a["silence_peak"]:
                heard = True
                quiet_ms = 0
            else:
                quiet_ms += frame_ms
            if not self.hal.button():
                reason = "release"
                break
            if heard and elapsed >= a["min_ms"] and quiet_ms >= a["silence_ms"]:
                reason = "silence"
                break
        self.hal.mic_stop()
        end = proto.encode_frame(self.session, seq, up.codec, b"", proto.FLAG_END)
        try:
            await self._send_audio(mqtt.publish_packet(self.audio_topic, end), end)
        except Exception:
            return "offline"
        return reason

    def linked(self):
        return self.client.connected or (self.ble is not None and bool(self.ble.conns))

    async def _send_audio(self, packet, frame):
        # MQTT when connected (the prebuilt packet, no copy); else the BLE protocol service
        if self.client.connected:
            if not self.client.send_nowait(packet):
                await self.client.flush(2000)
        elif self.ble is not None and self.ble.conns:
            self.ble.send("audio", frame)
            await asyncio.sleep_ms(0)
        else:
            raise OSError("no link to the hub")

    async def playback(self, session):
        t = self.cfg["timeouts"]
        frame = await self.play.get(t["reply_ms"])
        if frame is None:
            log.warn(_TAG, "no reply for session %d" % session)
            self.event("error", "no_reply")
            self.hal.led("error")
            await asyncio.sleep_ms(500)
            return
        self.hal.led("speaking")
        self.publish_status("speaking")
        self.hal.speaker_start(session)
        frames = 0
        while frame is not None:
            if frame.payload:
                await self.speaker.play(self.hal, frame)
                frames += 1
            if frame.end:
                log.info(_TAG, "played %d frames of session %d" % (frames, session))
                return
            frame = await self.play.get(t["play_gap_ms"])
        log.warn(_TAG, "reply stalled after %d frames" % frames)
        self.event("error", "reply_stalled")


def main(hal_module, cfg):
    dev = Device(cfg, hal_module.Hal(cfg))
    log.info(_TAG, "ARMA %s starting as %s" % (VERSION, cfg["device_id"]))
    try:
        asyncio.run(dev.run())
    finally:
        log.info(_TAG, json.dumps({"sessions": dev.sessions, "dropped": dev.client.dropped}))
