# MQTT 3.1.1 client written for the ARMA firmware, on asyncio streams (umqtt is not available on
# every build and it blocks). One owner task (`run`) keeps the link: connect with Last Will and
# credentials, resubscribe, keepalive PINGREQ, QoS 0/1 publish with PUBACK tracking and DUP
# retransmit (also after a reconnect), capped jittered reconnect backoff and a bounded send queue
# whose overflow drops the oldest message (counted in `dropped`, logged).
import asyncio
import random
import struct
import time

from arma import log
from micropython import const

_TAG = "mqtt"
_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_PINGREQ = b"\xc0\x00"
_PINGRESP = const(0xD0)
_DISCONNECT = b"\xe0\x00"
_TICK_MS = const(200)


class MQTTError(Exception):
    pass


def _str(s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    return struct.pack(">H", len(b)) + b


def remaining_length(n, out=None, offset=0):
    # Encodes the MQTT variable-length integer; returns bytes, or writes into out and returns
    # the byte count (allocation-free form for prebuilt packets).
    if n > 268435455:
        raise MQTTError("packet too large")
    if out is None:
        out = bytearray(4)
        k = remaining_length(n, out, 0)
        return bytes(out[:k])
    k = 0
    while True:
        d = n & 0x7F
        n >>= 7
        if n:
            d |= 0x80
        out[offset + k] = d
        k += 1
        if not n:
            return k


def publish_packet(topic, payload, qos=0, retain=False, pid=0, dup=False):
    t = topic.encode() if isinstance(topic, str) else topic
    hdr = _PUBLISH | (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    size = 2 + len(t) + (2 if qos else 0) + len(payload)
    parts = bytes((hdr,)) + remaining_length(size) + struct.pack(">H", len(t)) + t
    if qos:
        parts += struct.pack(">H", pid)
    return parts + bytes(payload)


class MQTTClient:
    def __init__(
        self,
        client_id,
        host,
        port=1883,
        user=None,
        password=None,
        keepalive=30,
        will=None,
        on_message=None,
        on_connect=None,
        queue_max=16,
        backoff_min_ms=500,
        backoff_max_ms=30000,
        retry_ms=3000,
        connect_timeout_ms=5000,
        max_packet=8192,
    ):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.will = will  # (topic, payload, qos, retain) or None
        self.on_message = on_message  # fn(topic: str, payload: bytes, retain: bool)
        self.on_connect = on_connect  # fn(client), called after CONNACK and SUBSCRIBE
        self.queue_max = queue_max
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.retry_ms = retry_ms
        self.connect_timeout_ms = connect_timeout_ms
        self.max_packet = max_packet
        self.connected = False
        self.connects = 0
        self.dropped = 0
        self._subs = []
        self._queue = []
        self._pending = {}  # pid -> [topic, payload, retain, sent_ms]
        self._pid = 0
        self._reader = None
        self._writer = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._last_rx = time.ticks_ms()
        self._last_ping = self._last_rx
        self._stopped = False

    # -- public API ----------------------------------------------------------------------
    def subscribe(self, topic, qos=0):
        self._subs.append((topic, qos))

    def publish(self, topic, payload, qos=0, retain=False):
        # Queue a message; sent in order while connected, kept (bounded) while not.
        if len(self._queue) >= self.queue_max:
            self._queue.pop(0)
            self.dropped += 1
            log.warn(_TAG, "send queue full, dropped oldest (%d dropped)" % self.dropped)
        self._queue.append((topic, payload, qos, retain))
        self._wake.set()

    def pending(self):
        return len(self._queue) + len(self._pending)

    def send_nowait(self, packet):
        # The audio frame path: hand a prebuilt packet to the socket without a coroutine or a
        # copy. A stream write either goes out whole or queues behind earlier bytes, so packets
        # never interleave. Returns False when bytes are left to flush(); MQTTError if offline.
        w = self._writer
        if w is None or not self.connected:
            raise MQTTError("not connected")
        w.write(packet)
        return not getattr(w, "out_buf", b"x")

    async def flush(self, timeout_ms=5000):
        w = self._writer
        if w is None:
            raise MQTTError("not connected")
        async with self._lock:
            await asyncio.wait_for_ms(w.drain(), timeout_ms)

    async def send_raw(self, packet):
        # Write a prebuilt packet now and wait until it left; MQTTError when offline.
        if not self.send_nowait(packet):
            await self.flush()

    async def wait_connected(self, timeout_ms):
        t0 = time.ticks_ms()
        while not self.connected:
            if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
                return False
            await asyncio.sleep_ms(50)
        return True

    async def run(self):
        # Owner loop: never returns; cancel the task to stop.
        attempt = 0
        while True:
            try:
                await self._open()
                attempt = 0
                await self._serve()
            except Exception as e:  # any failure ends this link, never the owner loop
                log.warn(_TAG, "link down: %r" % (e,))
            finally:
                await self._close()
            if self._stopped:
                return
            delay = min(self.backoff_max_ms, self.backoff_min_ms << min(attempt, 10))
            delay = delay // 2 + random.getrandbits(16) % (delay // 2 + 1)
            attempt += 1
            log.info(_TAG, "reconnect in %d ms" % delay)
            await asyncio.sleep_ms(delay)

    # -- link --------------------------------------------------------------------------
    async def _open(self):
        log.info(_TAG, "connecting to %s:%d" % (self.host, self.port))
        self._reader, self._writer = await asyncio.wait_for_ms(
            asyncio.open_connection(self.host, self.port), self.connect_timeout_ms
        )
        flags = 0x02  # clean session: subscriptions are replayed on every connect
        payload = _str(self.client_id)
        if self.will:
            wt, wp, wq, wr = self.will
            flags |= 0x04 | (wq << 3) | (0x20 if wr else 0)
            payload += _str(wt) + _str(wp)
        if self.user is not None:
            flags |= 0x80
            payload += _str(self.user)
            if self.password is not None:
                flags |= 0x40
                payload += _str(self.password)
        body = b"\x00\x04MQTT\x04" + bytes((flags,)) + struct.pack(">H", self.keepalive) + payload
        await self._write(bytes((_CONNECT,)) + remaining_length(len(body)) + body)
        hdr, data = await asyncio.wait_for_ms(  # type: int, bytes
            self._read_packet(), self.connect_timeout_ms
        )
        if hdr != _CONNACK or len(data) != 2:
            raise MQTTError("expected CONNACK")
        if data[1] != 0:
            raise MQTTError("connection refused, code %d" % data[1])
        self._last_rx = self._last_ping = time.ticks_ms()
        if self._subs:
            pid = self._next_pid()
            body = struct.pack(">H", pid)
            for topic, qos in self._subs:
                body += _str(topic) + bytes((qos,))
            await self._write(bytes((_SUBSCRIBE,)) + remaining_length(len(body)) + body)
        self.connected = True
        self.connects += 1
        log.info(_TAG, "connected (%d)" % self.connects)
        # unacknowledged QoS 1 messages go out again, marked DUP
        for pid in list(self._pending):
            m = self._pending[pid]
            await self._write(publish_packet(m[0], m[1], 1, m[2], pid, True))
            m[3] = time.ticks_ms()
        if self.on_connect:
            self.on_connect(self)
        self._wake.set()

    async def _serve(self):
        # reader, sender and keepalive run as sibling tasks; the first to fail ends the link
        dead = asyncio.Event()
        errors = []

        async def guard(coro):
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as e:
                errors.append(e)
            dead.set()

        tasks = [
            asyncio.create_task(guard(self._receiver())),
            asyncio.create_task(guard(self._sender())),
            asyncio.create_task(guard(self._maintain())),
        ]
        try:
            await dead.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                try:
                    await t
                except BaseException:  # CancelledError
                    pass
        raise errors[0] if errors else MQTTError("link closed")

    async def _receiver(self):
        while True:
            hdr, data = await self._read_packet()
            self._last_rx = time.ticks_ms()
            await self._handle(hdr, data)

    async def _close(self):
        self.connected = False
        w = self._writer
        self._writer = self._reader = None
        if w is not None:
            try:
                w.close()
                await asyncio.wait_for_ms(w.wait_closed(), 1000)
            except Exception:
                pass

    async def disconnect(self):
        # Clean DISCONNECT (the broker does not publish the Last Will); run() then returns.
        self._stopped = True
        if self.connected:
            try:
                await self._write(_DISCONNECT)
            except Exception:
                pass
        await self._close()

    async def _write(self, data):
        w = self._writer
        if w is None:
            raise MQTTError("not connected")
        async with self._lock:
            w.write(data)
            await asyncio.wait_for_ms(w.drain(), 5000)

    async def _read_packet(self):
        r = self._reader
        if r is None:
            raise MQTTError("not connected")
        hdr = (await r.readexactly(1))[0]
        length = 0
        shift = 0
        while True:
            d = (await r.readexactly(1))[0]
            length |= (d & 0x7F) << shift
            if not d & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MQTTError("bad remaining length")
        if length > self.max_packet:
            raise MQTTError("packet too large: %d" % length)
        data = await r.readexactly(length) if length else b""
        return hdr, data

    async def _handle(self, hdr, data):
        kind = hdr & 0xF0
        if kind == _PUBLISH:
            qos = (hdr >> 1) & 3
            tlen = (data[0] << 8) | data[1]
            topic = data[2 : 2 + tlen].decode()
            pos = 2 + tlen
            if qos:
                pid = (data[pos] << 8) | data[pos + 1]
                pos += 2
                await self._write(struct.pack(">BBH", _PUBACK, 2, pid))
            if self.on_message:
                try:
                    self.on_message(topic, data[pos:], bool(hdr & 1))
                except Exception as e:  # a bad message must not take the link down
                    log.error(_TAG, "handler failed on %s: %r" % (topic, e))
        elif kind == _PUBACK:
            self._pending.pop((data[0] << 8) | data[1], None)
        elif kind == _SUBACK:
            for code in data[2:]:
                if code == 0x80:
                    log.error(_TAG, "subscription refused")
        elif hdr != _PINGRESP:
            log.warn(_TAG, "unexpected packet 0x%02x" % hdr)

    def _next_pid(self):
        while True:
            self._pid = self._pid % 65535 + 1
            if self._pid not in self._pending:
                return self._pid

    async def _sender(self):
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and self.connected:
                topic, payload, qos, retain = self._queue.pop(0)
                pid = 0
                if qos:
                    # tracked before the write: the PUBACK can arrive while we await the drain
                    pid = self._next_pid()
                    self._pending[pid] = [topic, payload, retain, time.ticks_ms()]
                await self._write(publish_packet(topic, payload, qos, retain, pid))

    async def _maintain(self):
        # keepalive and QoS 1 retransmission; a silent broker closes the link
        ka = self.keepalive * 1000
        while True:
            await asyncio.sleep_ms(_TICK_MS)
            now = time.ticks_ms()
            if time.ticks_diff(now, self._last_rx) > ka * 3 // 2:
                raise MQTTError("keepalive timeout")
            if time.ticks_diff(now, self._last_ping) >= ka // 2:
                self._last_ping = now
                await self._write(_PINGREQ)
            if not self._pending:  # idle ticks allocate nothing
                continue
            for pid in list(self._pending):
                m = self._pending.get(pid)
                if m and time.ticks_diff(now, m[3]) > self.retry_ms:
                    m[3] = now
                    await self._write(publish_packet(m[0], m[1], 1, m[2], pid, True))
