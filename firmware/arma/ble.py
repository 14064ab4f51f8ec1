# BLE link, hardware-free part: the ARMA protocol service (device -> hub notifications, hub ->
# device writes, proto's fragmentation to the ATT MTU) and the Improv Wi-Fi service, both spoken
# through a radio object with the small interface of hal.BleRadio (register, advertise,
# set_value, notify, mtu). Tests drive it with a recording radio.
from arma import improv, proto

SERVICE = "6e4a0001-7a3b-4c1d-9e2f-41524d410001"
CHAR_UP = "6e4a0002-7a3b-4c1d-9e2f-41524d410001"  # notify: device -> hub
CHAR_DOWN = "6e4a0003-7a3b-4c1d-9e2f-41524d410001"  # write: hub -> device

F_READ = 0x0002
F_WRITE_NR = 0x0004
F_WRITE = 0x0008
F_NOTIFY = 0x0010

SERVICES = (
    (SERVICE, ((CHAR_UP, F_READ | F_NOTIFY), (CHAR_DOWN, F_WRITE | F_WRITE_NR))),
    (
        improv.SERVICE,
        (
            (improv.CHAR_STATE, F_READ | F_NOTIFY),
            (improv.CHAR_ERROR, F_READ | F_NOTIFY),
            (improv.CHAR_RPC, F_WRITE),
            (improv.CHAR_RESULT, F_READ | F_NOTIFY),
            (improv.CHAR_CAPS, F_READ),
        ),
    ),
)


class BleLink:
    # on_message(kind, body) gets every reassembled hub message; send(kind, body) notifies.
    def __init__(self, radio, on_message, improv_server=None):
        self.radio = radio
        self.on_message = on_message
        self.improv = improv_server
        (up, down), (st, err, rpc, res, caps) = radio.register(
            SERVICES, self._on_write, self._on_conn
        )
        self.h_up = up
        self.h_down = down
        self.h_rpc = rpc
        self._improv_handles = {
            improv.CHAR_STATE: st,
            improv.CHAR_ERROR: err,
            improv.CHAR_RESULT: res,
        }
        self.conns = []
        self.reasm = proto.Reassembler()
        self.msg_no = 0
        self.rejected = 0
        self.pending_rpc = []
        if improv_server is not None:
            radio.set_value(caps, improv_server.capabilities())
            radio.set_value(st, bytes((improv_server.state,)))
            improv_server.notify = self._improv_notify
        radio.advertise(SERVICE)

    def _on_conn(self, conn, up):
        if up:
            self.conns.append(conn)
        elif conn in self.conns:
            self.conns.remove(conn)
            self.reasm.reset()
            if not self.conns:
                self.radio.advertise(SERVICE)

    def _on_write(self, conn, handle, data):
        if handle == self.h_down:
            try:
                message = self.reasm.feed(data)
                if message is not None:
                    kind, body = proto.parse_ble_message(message)
                    self.on_message(kind, body)
            except proto.ProtocolError:
                self.rejected += 1
        elif handle == self.h_rpc:
            # the Improv handler awaits a Wi-Fi join: queue for the app's BLE task
            self.pending_rpc.append(bytes(data))

    async def service_rpc(self):
        # called by the app's BLE task; runs queued Improv writes in order
        while self.pending_rpc and self.improv is not None:
            await self.improv.write(self.pending_rpc.pop(0))

    def _improv_notify(self, char, value):
        h = self._improv_handles[char]
        self.radio.set_value(h, value)
        for c in self.conns:
            self.radio.notify(c, h, value)

    def send(self, kind, body):
        # -> number of fragments sent to each connected central
        if not self.conns:
            return 0
        message = proto.ble_message(kind, body)
        self.msg_no = (self.msg_no + 1) & 0xFF
        count = 0
        for c in self.conns:
            frags = proto.fragment(message, self.msg_no, self.radio.mtu(c))
            for f in frags:
                self.radio.notify(c, self.h_up, f)
            count = len(frags)
        return count
