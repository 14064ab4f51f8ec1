# The ESP32 hardware abstraction: the only module that touches machine, network, bluetooth,
# neopixel and I2S. hal_sim.py implements the same methods for the unix port. Wiring and pin
# numbers come from config.json "pins" (docs/firmware.md has the reference board).
import asyncio
import time

import bluetooth
import machine
import neopixel
import network
from micropython import const

_RATE = const(16000)
_LED_COLOURS = {
    "off": (0, 0, 0),
    "idle": (0, 0, 8),
    "listening": (0, 40, 0),
    "thinking": (30, 20, 0),
    "speaking": (0, 20, 40),
    "error": (40, 0, 0),
    "identify": (40, 40, 40),
    "updating": (30, 0, 30),
}
_F_WRITE_NR = const(0x0004)
_F_WRITE = const(0x0008)
_BATT_DIVIDER = const(2)  # 100k/100k divider on the battery sense pin


class Hal:
    def __init__(self, cfg):
        pins = cfg["pins"]
        self._pins = pins
        self._wlan = network.WLAN(network.STA_IF)
        self._button = machine.Pin(pins.get("button", 4), machine.Pin.IN, machine.Pin.PULL_UP)
        self._leds = neopixel.NeoPixel(machine.Pin(pins.get("led", 13)), pins.get("led_count", 12))
        self._adc = machine.ADC(machine.Pin(pins.get("battery_adc", 35)))
        self._adc.atten(machine.ADC.ATTN_11DB)
        self._charge = machine.Pin(pins.get("charge", 34), machine.Pin.IN)
        self._mic = None
        self._mic_stream = None
        self._spk = None
        self._spk_stream = None
        self._wdt = None
        self.volume = cfg["audio"]["volume"]

    # -- network -------------------------------------------------------------------------
    async def wifi_connect(self, ssid, password, timeout_ms):
        self._wlan.active(True)
        if self._wlan.isconnected():
            return True
        self._wlan.connect(ssid, password)
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < timeout_ms:
            if self._wlan.isconnected():
                return True
            await asyncio.sleep_ms(200)
        self._wlan.disconnect()
        return False

    def wifi_connected(self):
        return self._wlan.isconnected()

    def rssi(self):
        try:
            return int(self._wlan.status("rssi"))
        except OSError:
            return -127

    def resolve(self, host):
        # ESP-IDF resolves "*.local" names over mDNS in getaddrinfo
        import socket

        return socket.getaddrinfo(host, 1883)[0][-1][0]

    # -- audio ---------------------------------------------------------------------------
    def mic_start(self):
        self._mic = _i2s(self._pins["i2s_mic"], machine.I2S.RX)
        self._mic_stream = asyncio.StreamReader(self._mic)

    def mic_read(self, buf):
        # awaitable that fills buf (PCM16LE) completely; the I2S DMA paces the caller in real
        # time. Returned, not awaited here, so no extra coroutine is allocated per frame.
        s = self._mic_stream
        if s is None:
            raise OSError("mic not started")
        return s.readinto(buf)

    def mic_stop(self):
        if self._mic is not None:
            self._mic.deinit()
        self._mic = self._mic_stream = None

    def speaker_start(self, session):
        self._spk = _i2s(self._pins["i2s_spk"], machine.I2S.TX)
        self._spk_stream = asyncio.StreamWriter(self._spk, {})

    async def speaker_write(self, pcm):
        s = self._spk_stream
        if s is None:
            raise OSError("speaker not started")
        shift = -((100 - self.volume) // 12)  # about 6 dB per step
        if shift:
            machine.I2S.shift(buf=pcm, bits=16, shift=shift)
        s.write(pcm)
        await s.drain()

    def speaker_stop(self):
        if self._spk is not None:
            self._spk.deinit()
        self._spk = self._spk_stream = None

    # -- button, LED ring, battery ---------------------------------------------------------
    def button(self):
        return self._button.value() == 0

    def led(self, state):
        self._leds.fill(_LED_COLOURS.get(state, (0, 0, 0)))
        self._leds.write()

    def battery_mv(self):
        return self._adc.read_uv() * _BATT_DIVIDER // 1000

    def charging(self):
        # TP4056 CHRG is open-drain, low while charging (10k pull-up: GPIO34 has none inside)
        return self._charge.value() == 0

    # -- system --------------------------------------------------------------------------
    def wdt_start(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def wdt_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset(self):
        machine.reset()

    def ble_radio(self, name):
        return BleRadio(name)


def _i2s(p, mode):
    # 16 kHz mono 16-bit on the pins named in config.json
    return machine.I2S(
        p["id"],
        sck=machine.Pin(p["sck"]),
        ws=machine.Pin(p["ws"]),
        sd=machine.Pin(p["sd"]),
        mode=mode,
        bits=16,
        format=machine.I2S.MONO,
        rate=_RATE,
        ibuf=8192,
    )


class BleRadio:
    # Thin wrapper over the ESP32 `bluetooth` module with the interface arma.ble expects.
    def __init__(self, name):
        self._ble = bluetooth.BLE()
        self._ble.active(True)
        self._ble.config(gap_name=name, mtu=247)
        self._ble.irq(self._irq)
        self._name = name
        self._on_write = None
        self._on_conn = None
        self._mtu = {}

    def register(self, services, on_write, on_conn):
        # services: ((uuid_str, ((uuid_str, flags), ...)), ...) -> handles in the same shape
        self._on_write = on_write
        self._on_conn = on_conn
        spec = []
        for uuid, chars in services:
            spec.append((bluetooth.UUID(uuid), tuple((bluetooth.UUID(c), f) for c, f in chars)))
        handles = self._ble.gatts_register_services(tuple(spec))  # type: ignore[arg-type]
        # writable characteristics default to a 20-byte value buffer: room for a whole ATT
        # payload at the MTU we ask for (247 - 3), or longer writes arrive truncated
        for (_uuid, chars), hs in zip(services, handles):
            for (_c, flags), h in zip(chars, hs):
                if flags & (_F_WRITE | _F_WRITE_NR):
                    self._ble.gatts_set_buffer(h, 244)
        return handles

    def advertise(self, service_uuid):
        name = self._name.encode()
        adv = bytes((2, 0x01, 0x06, len(name) + 1, 0x09)) + name
        u = bluetooth.UUID(service_uuid)
        raw = bytes(u)  # type: ignore[call-overload]  # UUID has the buffer protocol
        resp = bytes((len(raw) + 1, 0x07)) + raw
        self._ble.gap_advertise(100_000, adv, resp_data=resp)

    def set_value(self, handle, data):
        self._ble.gatts_write(handle, data)

    def notify(self, conn, handle, data):
        # the stub omits conn_handle; MicroPython: gatts_notify(conn_handle, value_handle, data)
        self._ble.gatts_notify(conn, handle, data)  # type: ignore[call-arg]

    def mtu(self, conn):
        return self._mtu.get(conn, 23)

    def _irq(self, event, data):
        if event == 1:  # _IRQ_CENTRAL_CONNECT
            self._mtu[data[0]] = 23
            if self._on_conn:
                self._on_conn(data[0], True)
        elif event == 2:  # _IRQ_CENTRAL_DISCONNECT
            self._mtu.pop(data[0], None)
            if self._on_conn:
                self._on_conn(data[0], False)
        elif event == 3:  # _IRQ_GATTS_WRITE
            conn, handle = data
            if self._on_write:
                self._on_write(conn, handle, self._ble.gatts_read(handle))
        elif event == 21:  # _IRQ_MTU_EXCHANGED
            self._mtu[data[0]] = data[1]
