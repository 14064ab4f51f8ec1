# Improv Wi-Fi over BLE, hardware-free part: RPC frame parsing/building and the provisioning
# state machine (https://www.improv-wifi.com/ble/). A frame is command, length, data, checksum
# (low byte of the sum of all previous bytes). Runs on MicroPython and CPython alike.
SERVICE = "00467768-6228-2272-4663-277478268000"
CHAR_STATE = "00467768-6228-2272-4663-277478268001"
CHAR_ERROR = "00467768-6228-2272-4663-277478268002"
CHAR_RPC = "00467768-6228-2272-4663-277478268003"
CHAR_RESULT = "00467768-6228-2272-4663-277478268004"
CHAR_CAPS = "00467768-6228-2272-4663-277478268005"

STATE_AUTH_REQUIRED = 0x01
STATE_AUTHORIZED = 0x02
STATE_PROVISIONING = 0x03
STATE_PROVISIONED = 0x04

ERROR_NONE = 0x00
ERROR_INVALID_RPC = 0x01
ERROR_UNKNOWN_RPC = 0x02
ERROR_UNABLE_TO_CONNECT = 0x03
ERROR_NOT_AUTHORIZED = 0x04
ERROR_UNKNOWN = 0xFF

CMD_WIFI_SETTINGS = 0x01
CMD_IDENTIFY = 0x02

CAPABILITY_IDENTIFY = 0x01
MAX_FRAME = 3 + 255


class ImprovError(ValueError):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def checksum(data):
    return sum(data) & 0xFF


def parse_rpc(frame):
    # -> (command, data bytes); ImprovError(ERROR_INVALID_RPC) for anything malformed
    if len(frame) < 3:
        raise ImprovError(ERROR_INVALID_RPC, "frame truncated")
    length = frame[1]
    if len(frame) != 3 + length:
        raise ImprovError(ERROR_INVALID_RPC, "length mismatch")
    if checksum(frame[:-1]) != frame[-1]:
        raise ImprovError(ERROR_INVALID_RPC, "bad checksum")
    return frame[0], bytes(frame[2 : 2 + length])


def build_rpc(command, data):
    if len(data) > 255:
        raise ImprovError(ERROR_INVALID_RPC, "data too long")
    body = bytes((command, len(data))) + bytes(data)
    return body + bytes((checksum(body),))


def pack_strings(strings):
    out = b""
    for s in strings:
        b = s.encode() if isinstance(s, str) else bytes(s)
        if len(b) > 255:
            raise ImprovError(ERROR_INVALID_RPC, "string too long")
        out += bytes((len(b),)) + b
    return out


def unpack_strings(data):
    out = []
    pos = 0
    while pos < len(data):
        n = data[pos]
        if pos + 1 + n > len(data):
            raise ImprovError(ERROR_INVALID_RPC, "string overruns data")
        try:
            out.append(bytes(data[pos + 1 : pos + 1 + n]).decode())
        except UnicodeError:
            raise ImprovError(ERROR_INVALID_RPC, "string not UTF-8")
        pos += 1 + n
    return out


def parse_wifi_settings(data):
    strings = unpack_strings(data)
    if len(strings) != 2 or not 1 <= len(strings[0]) <= 32 or len(strings[1]) > 64:
        raise ImprovError(ERROR_INVALID_RPC, "expected SSID and password")
    return strings[0], strings[1]


class ImprovServer:
    # Feeds on writes to the RPC characteristic (which may arrive split); answers through
    # `notify(char_uuid, value)`. `connect(ssid, password)` is awaited and returns a redirect
    # URL (str) or None when the network could not be joined.
    def __init__(self, notify, connect, identify=None, authorized=True):
        self.notify = notify
        self.connect = connect
        self.identify = identify
        self.state = STATE_AUTHORIZED if authorized else STATE_AUTH_REQUIRED
        self.error = ERROR_NONE
        self._buf = b""

    def capabilities(self):
        return bytes((CAPABILITY_IDENTIFY if self.identify else 0,))

    def authorize(self):
        if self.state == STATE_AUTH_REQUIRED:
            self._set_state(STATE_AUTHORIZED)

    def _set_state(self, state):
        self.state = state
        self.notify(CHAR_STATE, bytes((state,)))

    def _set_error(self, code):
        self.error = code
        self.notify(CHAR_ERROR, bytes((code,)))

    def take(self, data):
        # buffer RPC bytes; returns a complete frame or None (also None after a bad prefix)
        self._buf += bytes(data)
        if len(self._buf) >= 2 and len(self._buf) >= 3 + self._buf[1]:
            frame = self._buf[: 3 + self._buf[1]]
            self._buf = b""
            return frame
        if len(self._buf) > MAX_FRAME:
            self._buf = b""
        return None

    async def write(self, data):
        frame = self.take(data)
        if frame is None:
            return
        try:
            command, body = parse_rpc(frame)
            if command == CMD_IDENTIFY:
                if self.identify:
                    self.identify()
                self._set_error(ERROR_NONE)
                return
            if command != CMD_WIFI_SETTINGS:
                raise ImprovError(ERROR_UNKNOWN_RPC, "unknown command")
            if self.state == STATE_AUTH_REQUIRED:
                raise ImprovError(ERROR_NOT_AUTHORIZED, "press the button first")
            ssid, password = parse_wifi_settings(body)
        except ImprovError as e:
            self._set_error(e.code)
            return
        self._set_error(ERROR_NONE)
        self._set_state(STATE_PROVISIONING)
        url = await self.connect(ssid, password)
        if url is None:
            self._set_state(STATE_AUTHORIZED)
            self._set_error(ERROR_UNABLE_TO_CONNECT)
            return
        self._set_state(STATE_PROVISIONED)
        self.notify(CHAR_RESULT, build_rpc(CMD_WIFI_SETTINGS, pack_strings([url] if url else [])))
