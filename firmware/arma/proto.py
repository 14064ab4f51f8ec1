# ARMA wire protocol v1: the one codec shared by the device firmware (MicroPython) and the hub
# (CPython). Written in the subset both interpreters run: no typing, no dataclasses, struct and
# json only. Every decoder raises ProtocolError (a ValueError) on anything it does not accept.
# Byte layouts and examples: docs/protocol.md.
import json
import struct

try:
    from micropython import const  # type: ignore
except ImportError:  # CPython

    def const(x):
        return x


VERSION = const(1)

# -- topics -------------------------------------------------------------------------------------
TOPIC_ROOT = "arma/v1"
DEVICE_KINDS = ("status", "telemetry", "event", "cmd", "ack", "audio", "play")
SESSION_KINDS = ("audio", "play")
HUB_KINDS = ("status", "intent", "reply", "event")

MAX_ID_LEN = const(32)
MAX_JSON_BYTES = const(2048)
MAX_AUDIO_PAYLOAD = const(4096)

CODEC_PCM16 = const(0)
CODEC_ADPCM = const(1)
CODECS = (CODEC_PCM16, CODEC_ADPCM)

FLAG_START = const(1)
FLAG_END = const(2)

FRAME_MAGIC = const(0xA5)
FRAME_HEADER = "<BBBBIHH"  # magic, version<<4|codec, flags, reserved, session, seq, length
FRAME_HEADER_SIZE = const(12)
ADPCM_STATE = "<hBB"  # predictor, step index, reserved
ADPCM_STATE_SIZE = const(4)

SAMPLE_RATE = const(16000)


class ProtocolError(ValueError):
    """Anything a peer sent that this codec does not accept."""


_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"


def check_id(value, what="device id"):
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LEN:
        raise ProtocolError("bad " + what)
    for ch in value:
        if ch not in _ID_CHARS:
            raise ProtocolError("bad " + what + ": character " + repr(ch))
    return value


def check_session(session):
    if not isinstance(session, int) or isinstance(session, bool) or not 0 <= session <= 0xFFFFFFFF:
        raise ProtocolError("bad session id")
    return session


def device_topic(device_id, kind, session=None):
    check_id(device_id)
    if kind not in DEVICE_KINDS:
        raise ProtocolError("unknown topic kind " + repr(kind))
    base = TOPIC_ROOT + "/d/" + device_id + "/" + kind
    if kind in SESSION_KINDS:
        if session is None:
            return base + "/+"
        return base + "/" + str(check_session(session))
    if session is not None:
        raise ProtocolError(kind + " takes no session")
    return base


def hub_topic(hub_id, kind):
    check_id(hub_id, "hub id")
    if kind not in HUB_KINDS:
        raise ProtocolError("unknown hub topic kind " + repr(kind))
    return TOPIC_ROOT + "/hub/" + hub_id + "/" + kind


def parse_device_topic(topic):
    """'arma/v1/d/<id>/<kind>[/<session>]' -> (device_id, kind, session or None)."""
    if not isinstance(topic, str):
        raise ProtocolError("topic must be text")
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "arma" or parts[1] != "v1" or parts[2] != "d":
        raise ProtocolError("not a device topic")
    device_id = check_id(parts[3])
    kind = parts[4]
    if kind not in DEVICE_KINDS:
        raise ProtocolError("unknown topic kind")
    if kind in SESSION_KINDS:
        if len(parts) != 6 or not parts[5].isdigit() or len(parts[5]) > 10:
            raise ProtocolError("bad session in topic")
        return device_id, kind, check_session(int(parts[5]))
    if len(parts) != 5:
        raise ProtocolError("extra topic levels")
    return device_id, kind, None


# -- JSON messages -------------------------------------------------------------------------------
# Each schema: field -> (types, required). Unknown fields are ignored (forward compatible);
# a message with a newer major version is refused.
_INT = (int,)
_NUM = (int, float)
_STR = (str,)
SCHEMAS = {
    "status": {"state": (_STR, True), "fw": (_STR, False), "ts": (_NUM, False)},
    "telemetry": {
        "battery": (_NUM, True),
        "rssi": (_INT, True),
        "uptime": (_NUM, True),
        "heap": (_INT, True),
        "fw": (_STR, True),
        "charging": ((bool,), False),
    },
    "event": {"type": (_STR, True), "action": (_STR, False), "detail": (_STR, False)},
    "cmd": {"id": (_STR, True), "op": (_STR, True), "args": ((dict,), False)},
    "ack": {
        "id": (_STR, True),
        "ok": ((bool,), True),
        "error": (_STR, False),
        "result": ((dict,), False),
    },
}
STATES = ("online", "offline", "listening", "thinking", "speaking", "updating")
EVENT_TYPES = ("button", "error", "boot", "session")


def _check_fields(kind, msg):
    schema = SCHEMAS[kind]
    for name in schema:
        types, required = schema[name]
        if name not in msg:
            if required:
                raise ProtocolError(kind + ": missing " + name)
            continue
        value = msg[name]
        if value is None and not required:
            continue
        ok = False
        for t in types:
            if isinstance(value, t) and not (t is not bool and isinstance(value, bool)):
                ok = True
        if not ok:
            raise ProtocolError(kind + ": bad type for " + name)
    if kind == "status" and msg["state"] not in STATES:
        raise ProtocolError("status: unknown state")
    if kind == "event" and msg["type"] not in EVENT_TYPES:
        raise ProtocolError("event: unknown type")
    if kind == "telemetry" and not 0 <= msg["battery"] <= 100:
        raise ProtocolError("telemetry: battery out of range")
    if kind in ("cmd", "ack") and not 1 <= len(msg["id"]) <= 64:
        raise ProtocolError(kind + ": bad id")


def encode_json(kind, msg):
    if kind not in SCHEMAS:
        raise ProtocolError("no JSON schema for " + repr(kind))
    out = {"v": VERSION}
    for k in msg:
        out[k] = msg[k]
    _check_fields(kind, out)
    data = json.dumps(out).encode()
    if len(data) > MAX_JSON_BYTES:
        raise ProtocolError(kind + ": message too large")
    return data


def decode_json(kind, payload):
    if kind not in SCHEMAS:
        raise ProtocolError("no JSON schema for " + repr(kind))
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ProtocolError("payload must be bytes")
    if len(payload) > MAX_JSON_BYTES:
        raise ProtocolError(kind + ": payload too large")
    try:
        msg = json.loads(bytes(payload).decode())
    except Exception:  # UnicodeError, ValueError; MicroPython raises bare ValueError
        raise ProtocolError(kind + ": not JSON")
    if not isinstance(msg, dict):
        raise ProtocolError(kind + ": not an object")
    v = msg.get("v")
    if not isinstance(v, int) or isinstance(v, bool) or v != VERSION:
        raise ProtocolError(kind + ": unsupported version")
    _check_fields(kind, msg)
    return msg


# -- binary audio frames -------------------------------------------------------------------------
def encode_frame(session, seq, codec, payload, flags=0):
    check_session(session)
    if codec not in CODECS:
        raise ProtocolError("unknown codec")
    if not 0 <= seq <= 0xFFFF:
        raise ProtocolError("bad sequence number")
    if flags & ~(FLAG_START | FLAG_END):
        raise ProtocolError("unknown flags")
    if len(payload) > MAX_AUDIO_PAYLOAD:
        raise ProtocolError("audio payload too large")
    if codec == CODEC_PCM16 and len(payload) % 2:
        raise ProtocolError("PCM16 payload must be whole samples")
    if codec == CODEC_ADPCM and 0 < len(payload) < ADPCM_STATE_SIZE:
        raise ProtocolError("ADPCM payload shorter than its state")
    header = struct.pack(
        FRAME_HEADER, FRAME_MAGIC, (VERSION << 4) | codec, flags, 0, session, seq, len(payload)
    )
    return header + bytes(payload)


class Frame:
    __slots__ = ("codec", "flags", "payload", "seq", "session")

    def __init__(self, session, seq, codec, flags, payload):
        self.session = session
        self.seq = seq
        self.codec = codec
        self.flags = flags
        self.payload = payload

    @property
    def start(self):
        return bool(self.flags & FLAG_START)

    @property
    def end(self):
        return bool(self.flags & FLAG_END)

    def pcm16(self):
        """The frame's audio as little-endian PCM16 bytes."""
        if self.codec == CODEC_PCM16:
            return bytes(self.payload)
        return adpcm_decode_block(self.payload)

    def __repr__(self):
        return "Frame(session=%d, seq=%d, codec=%d, flags=%d, %d bytes)" % (
            self.session,
            self.seq,
            self.codec,
            self.flags,
            len(self.payload),
        )


def decode_frame(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("frame must be bytes")
    if len(data) < FRAME_HEADER_SIZE:
        raise ProtocolError("frame truncated")
    magic, vc, flags, _reserved, session, seq, length = struct.unpack_from(FRAME_HEADER, data, 0)
    if magic != FRAME_MAGIC:
        raise ProtocolError("bad frame magic")
    if vc >> 4 != VERSION:
        raise ProtocolError("unsupported frame version")
    codec = vc & 0x0F
    if codec not in CODECS:
        raise ProtocolError("unknown codec")
    if flags & ~(FLAG_START | FLAG_END):
        raise ProtocolError("unknown flags")
    if length > MAX_AUDIO_PAYLOAD:
        raise ProtocolError("audio payload too large")
    if len(data) != FRAME_HEADER_SIZE + length:
        raise ProtocolError("frame length mismatch")
    payload = bytes(data[FRAME_HEADER_SIZE:])
    if codec == CODEC_PCM16 and length % 2:
        raise ProtocolError("PCM16 payload must be whole samples")
    if codec == CODEC_ADPCM and 0 < length < ADPCM_STATE_SIZE:
        raise ProtocolError("ADPCM payload shorter than its state")
    if codec == CODEC_ADPCM and length:
        _pred, index, _r = struct.unpack_from(ADPCM_STATE, payload, 0)
        if index > 88:
            raise ProtocolError("bad ADPCM step index")
    return Frame(session, seq, codec, flags, payload)


# -- IMA-ADPCM (4 bits per sample, 4:1 against PCM16) ----------------------------------------------
# Each frame is one independently decodable block: a 4-byte state (predictor, step index) and
# then two samples per byte, low nibble first. A lost frame therefore never corrupts the next.
_STEPS = (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66,
    73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449,
    494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272,
    2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493,
    10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
)  # fmt: skip
_INDEX_ADJUST = (-1, -1, -1, -1, 2, 4, 6, 8)


class AdpcmState:
    __slots__ = ("index", "predictor")

    def __init__(self, predictor=0, index=0):
        self.predictor = predictor
        self.index = index


def adpcm_encode_into(samples, n, out, offset, state):
    """Encode n int16 samples (any int sequence, n even) into `out` at `offset` as one block:
    4-byte state then 4-bit codes. Allocates nothing (the firmware's frame path relies on it);
    `state` is updated in place. Returns the number of bytes written (4 + n // 2)."""
    pred = state.predictor
    index = state.index
    out[offset] = pred & 0xFF
    out[offset + 1] = (pred >> 8) & 0xFF
    out[offset + 2] = index
    out[offset + 3] = 0
    pos = offset + 4
    i = 0
    while i < n:
        step = _STEPS[index]
        delta = samples[i] - pred
        code = 0
        if delta < 0:
            code = 8
            delta = -delta
        diff = step >> 3
        if delta >= step:
            code |= 4
            delta -= step
            diff += step
        half = step >> 1
        if delta >= half:
            code |= 2
            delta -= half
            diff += half
        if delta >= step >> 2:
            code |= 1
            diff += step >> 2
        if code & 8:
            pred -= diff
            if pred < -32768:
                pred = -32768
        else:
            pred += diff
            if pred > 32767:
                pred = 32767
        index += _INDEX_ADJUST[code & 7]
        if index < 0:
            index = 0
        elif index > 88:
            index = 88
        if i & 1:
            out[pos] |= code << 4
            pos += 1
        else:
            out[pos] = code
        i += 1
    state.predictor = pred
    state.index = index
    return pos - offset


def adpcm_decode_into(src, pos, end, out, state):
    """Decode ADPCM codes src[pos:end] (low nibble first) into `out` as PCM16LE, as many as
    fit; `state` carries predictor and index between calls. Returns the new pos (4 bytes of
    PCM per source byte). Allocates nothing."""
    pred = state.predictor
    index = state.index
    o = 0
    cap = len(out) - 3
    while pos < end and o < cap:
        byte = src[pos]
        k = 0
        while k < 2:
            code = byte & 0x0F if k == 0 else byte >> 4
            step = _STEPS[index]
            diff = step >> 3
            if code & 4:
                diff += step
            if code & 2:
                diff += step >> 1
            if code & 1:
                diff += step >> 2
            if code & 8:
                pred -= diff
                if pred < -32768:
                    pred = -32768
            else:
                pred += diff
                if pred > 32767:
                    pred = 32767
            index += _INDEX_ADJUST[code & 7]
            if index < 0:
                index = 0
            elif index > 88:
                index = 88
            out[o] = pred & 0xFF
            out[o + 1] = (pred >> 8) & 0xFF
            o += 2
            k += 1
        pos += 1
    state.predictor = pred
    state.index = index
    return pos


def adpcm_encode_block(pcm, state=None):
    """PCM16LE bytes (even sample count) -> one ADPCM block. `state` carries the encoder's
    predictor across blocks so consecutive blocks stay continuous; it is updated in place."""
    n = len(pcm) // 2
    if len(pcm) % 2 or n % 2:
        raise ProtocolError("ADPCM block needs an even number of whole samples")
    if state is None:
        state = AdpcmState()
    out = bytearray(ADPCM_STATE_SIZE + n // 2)
    adpcm_encode_into(struct.unpack("<%dh" % n, pcm), n, out, 0, state)
    return bytes(out)


def adpcm_decode_block(block):
    """One ADPCM block -> PCM16LE bytes."""
    if len(block) == 0:
        return b""
    if len(block) < ADPCM_STATE_SIZE:
        raise ProtocolError("ADPCM block shorter than its state")
    pred, index, _r = struct.unpack_from(ADPCM_STATE, block, 0)
    if index > 88:
        raise ProtocolError("bad ADPCM step index")
    out = bytearray((len(block) - ADPCM_STATE_SIZE) * 4)
    adpcm_decode_into(block, ADPCM_STATE_SIZE, len(block), out, AdpcmState(pred, index))
    return bytes(out)


# -- BLE transport -----------------------------------------------------------------------------
# Over BLE there is no topic, so each message starts with a one-byte kind; the body is exactly
# what the MQTT payload would be. Messages longer than one ATT payload are split into fragments
# with a two-byte header: message number (0-255, rolling) and FIRST/LAST flags + index (0-63).
BLE_KINDS = {"status": 1, "telemetry": 2, "event": 3, "ack": 4, "cmd": 5, "audio": 6, "play": 7}
_BLE_KIND_NAMES = {}
for _name in BLE_KINDS:
    _BLE_KIND_NAMES[BLE_KINDS[_name]] = _name

# GATT: one service, notify (device -> hub) and write-without-response (hub -> device)
BLE_SERVICE_UUID = "a2a70001-5a3e-4c8e-9d7b-41524d410001"
BLE_UP_UUID = "a2a70002-5a3e-4c8e-9d7b-41524d410001"
BLE_DOWN_UUID = "a2a70003-5a3e-4c8e-9d7b-41524d410001"

FRAG_FIRST = const(0x80)
FRAG_LAST = const(0x40)
FRAG_INDEX_MASK = const(0x3F)
MAX_BLE_MESSAGE = const(FRAME_HEADER_SIZE + MAX_AUDIO_PAYLOAD + 1)
ATT_OVERHEAD = const(3)


def ble_message(kind, body):
    if kind not in BLE_KINDS:
        raise ProtocolError("unknown BLE message kind")
    if len(body) + 1 > MAX_BLE_MESSAGE:
        raise ProtocolError("BLE message too large")
    return bytes((BLE_KINDS[kind],)) + bytes(body)


def parse_ble_message(data):
    if len(data) < 1:
        raise ProtocolError("empty BLE message")
    name = _BLE_KIND_NAMES.get(data[0])
    if name is None:
        raise ProtocolError("unknown BLE message kind")
    return name, bytes(data[1:])


def fragment(message, msg_no, mtu):
    """Split one BLE message into ATT payloads for a link with this MTU."""
    room = mtu - ATT_OVERHEAD - 2
    if room < 1:
        raise ProtocolError("MTU too small")
    if not 0 <= msg_no <= 255:
        raise ProtocolError("bad message number")
    count = (len(message) + room - 1) // room or 1
    if count > FRAG_INDEX_MASK + 1:
        raise ProtocolError("message needs too many fragments for this MTU")
    out = []
    for i in range(count):
        flags = i
        if i == 0:
            flags |= FRAG_FIRST
        if i == count - 1:
            flags |= FRAG_LAST
        out.append(bytes((msg_no, flags)) + message[i * room : (i + 1) * room])
    return out


class Reassembler:
    """Collects fragments back into messages. A fragment out of order or from a new message
    while one is open drops the open one (counted in `dropped`) and raises ProtocolError."""

    def __init__(self, max_message=MAX_BLE_MESSAGE):
        self.max_message = max_message
        self.dropped = 0
        self._buf = bytearray()
        self._msg_no = -1
        self._next = 0

    def reset(self):
        if self._msg_no >= 0:
            self.dropped += 1
        self._buf = bytearray()
        self._msg_no = -1
        self._next = 0

    def feed(self, fragment_bytes):
        """Returns the whole message when this fragment completes one, else None."""
        if len(fragment_bytes) < 2:
            raise ProtocolError("fragment truncated")
        msg_no = fragment_bytes[0]
        flags = fragment_bytes[1]
        index = flags & FRAG_INDEX_MASK
        body = fragment_bytes[2:]
        if flags & FRAG_FIRST:
            if self._msg_no >= 0:
                self.reset()
            if index != 0:
                raise ProtocolError("first fragment with nonzero index")
            self._msg_no = msg_no
            self._next = 0
        elif msg_no != self._msg_no or index != self._next:
            self.reset()
            raise ProtocolError("fragment out of order")
        if len(self._buf) + len(body) > self.max_message:
            self.reset()
            raise ProtocolError("reassembled message too large")
        self._buf.extend(body)
        self._next = index + 1
        if flags & FRAG_LAST:
            message = bytes(self._buf)
            self._buf = bytearray()
            self._msg_no = -1
            self._next = 0
            return message
        return None
