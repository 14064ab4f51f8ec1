# The device's audio frame path. Uplink owns one preallocated buffer holding a complete MQTT
# PUBLISH packet (fixed header, topic, protocol frame header, payload); per frame the microphone
# fills the sample buffer, the encoder writes the payload in place and only seq/flags change,
# so steady-state streaming allocates nothing. Downlink frames go to a bounded play queue.
import asyncio
from array import array

from arma import adpcm_fast, log, proto
from micropython import const

_TOPIC_MAX = const(96)
_LEAD = const(5)  # room for the PUBLISH type byte and up to 4 remaining-length bytes


class Uplink:
    def __init__(self, codec, frame_ms):
        self.codec = proto.CODEC_ADPCM if codec == "adpcm" else proto.CODEC_PCM16
        self.samples_per_frame = 16 * frame_ms
        n = self.samples_per_frame
        self.payload_len = 4 + n // 2 if self.codec == proto.CODEC_ADPCM else 2 * n
        self.samples = array("h", bytes(2 * n))
        self.pkt = bytearray(_LEAD + 2 + _TOPIC_MAX + proto.FRAME_HEADER_SIZE + self.payload_len)
        self.state = proto.AdpcmState()
        self.packet = memoryview(self.pkt)  # the current session's packet view
        self.frame_view = self.packet
        self.mic_buf = self.samples  # type: array | memoryview  # where the microphone writes
        self._fh = 0
        self.last_peak = 0

    def begin(self, topic, session):
        t = topic.encode()
        if len(t) > _TOPIC_MAX:
            raise proto.ProtocolError("topic too long")
        pkt = self.pkt
        pkt[_LEAD] = len(t) >> 8
        pkt[_LEAD + 1] = len(t) & 0xFF
        pkt[_LEAD + 2 : _LEAD + 2 + len(t)] = t
        fh = _LEAD + 2 + len(t)
        self._fh = fh
        pkt[fh] = proto.FRAME_MAGIC
        pkt[fh + 1] = (proto.VERSION << 4) | self.codec
        pkt[fh + 2] = 0
        pkt[fh + 3] = 0
        for i in range(4):
            pkt[fh + 4 + i] = (session >> (8 * i)) & 0xFF
        pkt[fh + 10] = self.payload_len & 0xFF
        pkt[fh + 11] = self.payload_len >> 8
        rem = 2 + len(t) + proto.FRAME_HEADER_SIZE + self.payload_len
        lenbuf = bytearray(4)
        k = _varint(rem, lenbuf)
        start = _LEAD - 1 - k
        pkt[start] = 0x30  # PUBLISH, QoS 0: audio is real-time, a late frame is useless
        pkt[start + 1 : start + 1 + k] = lenbuf[:k]
        end = fh + proto.FRAME_HEADER_SIZE + self.payload_len
        self.packet = memoryview(pkt)[start:end]
        self.frame_view = memoryview(pkt)[fh:end]  # the protocol frame alone (BLE)
        if self.codec == proto.CODEC_PCM16:
            self.mic_buf = memoryview(pkt)[fh + proto.FRAME_HEADER_SIZE : end]
        else:
            self.mic_buf = self.samples
        self.state.predictor = 0
        self.state.index = 0

    def frame(self, seq, flags):
        # Encodes the samples the microphone just wrote; returns the packet to send.
        pkt = self.pkt
        fh = self._fh
        pkt[fh + 2] = flags
        pkt[fh + 8] = seq & 0xFF
        pkt[fh + 9] = (seq >> 8) & 0xFF
        n = self.samples_per_frame
        if self.codec == proto.CODEC_ADPCM:
            adpcm_fast.encode_into(self.samples, n, pkt, fh + proto.FRAME_HEADER_SIZE, self.state)
            self.last_peak = adpcm_fast.peak(self.samples, n)
        else:
            self.last_peak = adpcm_fast.peak_le16(pkt, fh + proto.FRAME_HEADER_SIZE, n)
        return self.packet


def _varint(n, out):
    k = 0
    while True:
        d = n & 0x7F
        n >>= 7
        out[k] = d | (0x80 if n else 0)
        k += 1
        if not n:
            return k


class PlayQueue:
    # Reply frames for the current session, kept as the received bytes (about 180 B per 20 ms
    # ADPCM frame) and parsed again when played. Bounded: on overflow the oldest frame is dropped,
    # counted and logged once per session. The hub is expected to send at about real time.
    def __init__(self, maxlen=150):
        self.maxlen = maxlen
        self.items = []
        self.dropped = 0
        self.session = -1
        self.event = asyncio.Event()

    def reset(self, session):
        self.session = session
        self.dropped = 0
        self.items = []
        self.event.clear()

    def put(self, session, raw):
        if session != self.session:
            return False
        if len(self.items) >= self.maxlen:
            self.items.pop(0)
            if not self.dropped:
                log.warn("play", "reply arrives faster than it plays: dropping oldest frames")
            self.dropped += 1
        self.items.append(raw)
        self.event.set()
        return True

    async def get(self, timeout_ms):
        # the next frame (parsed), or None when nothing came within timeout_ms
        while not self.items:
            self.event.clear()
            try:
                await asyncio.wait_for_ms(self.event.wait(), timeout_ms)
            except asyncio.TimeoutError:
                return None
        return proto.decode_frame(self.items.pop(0))


class Speaker:
    # Plays reply frames through hal.speaker_write in chunks of one preallocated buffer: ADPCM is
    # decoded in place (adpcm_fast.decode_into), PCM16 is copied so the HAL may scale the volume
    # in place. No per-frame PCM allocation.
    def __init__(self, chunk=1280):
        self.buf = bytearray(chunk)
        self.mv = memoryview(self.buf)
        self.state = proto.AdpcmState()

    async def play(self, hal, frame):
        p = frame.payload
        n = len(p)
        if frame.codec == proto.CODEC_PCM16:
            src = memoryview(p)
            pos = 0
            while pos < n:
                k = min(len(self.buf), n - pos)
                self.mv[:k] = src[pos : pos + k]
                await hal.speaker_write(self.mv if k == len(self.buf) else self.mv[:k])
                pos += k
            return
        pred = p[0] | (p[1] << 8)
        self.state.predictor = pred - 0x10000 if pred >= 0x8000 else pred
        self.state.index = p[2]
        pos = proto.ADPCM_STATE_SIZE
        while pos < n:
            start = pos
            pos = adpcm_fast.decode_into(p, pos, n, self.buf, self.state)
            k = (pos - start) * 4
            await hal.speaker_write(self.mv if k == len(self.buf) else self.mv[:k])
