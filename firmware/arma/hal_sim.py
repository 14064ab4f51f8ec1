# Simulated HAL for the MicroPython unix port, same methods as hal.Hal. Config "sim" section:
#   mic_wav      16 kHz mono PCM16 WAV the microphone plays (then silence)
#   ctl_dir      the button is held while the file <ctl_dir>/button exists
#   out_dir      the speaker records each reply to <out_dir>/play-<session>.raw (PCM16LE),
#                taking real time to play it
#   battery_mv   fake ADC reading (drains 1 mV per minute of uptime); wifi_fail_first: N
# Every LED change and reset is logged so a test can follow the device from its console.
import asyncio
import os
import sys
import time
from array import array

from arma import log

_TAG = "hal"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Hal:
    def __init__(self, cfg):
        sim = cfg["sim"]
        self._wav = sim.get("mic_wav")
        self._button = sim.get("ctl_dir", "sim") + "/button"
        self._out = sim.get("out_dir", "sim")
        self._batt = sim.get("battery_mv", 3900)
        self._wifi_fail = sim.get("wifi_fail_first", 0)
        self._wifi_up = False
        self._t0 = time.ticks_ms()
        self._mic = None
        self._next_ms = self._t0
        self._spk = None
        self._play_ms = self._t0
        self.volume = cfg["audio"]["volume"]
        self.led_state = "off"
        self.fed = 0

    async def wifi_connect(self, ssid, password, timeout_ms):
        await asyncio.sleep_ms(20)
        if self._wifi_fail > 0:
            self._wifi_fail -= 1
            log.info(_TAG, "wifi join failed (simulated)")
            return False
        self._wifi_up = True
        log.info(_TAG, "wifi joined " + ssid)
        return True

    def wifi_connected(self):
        return self._wifi_up

    def rssi(self):
        return -58

    def resolve(self, host):
        return host

    def mic_start(self):
        self._mic = None
        if self._wav:
            f = open(self._wav, "rb")
            hdr = f.read(12)
            if hdr[:4] != b"RIFF" or hdr[8:12] != b"WAVE":
                raise OSError("mic_wav is not a WAV file")
            while True:  # walk chunks to "data"
                ch = f.read(8)
                if len(ch) < 8:
                    raise OSError("WAV has no data chunk")
                size = ch[4] | ch[5] << 8 | ch[6] << 16 | ch[7] << 24
                if ch[:4] == b"data":
                    break
                f.read(size)
            self._mic = f
        self._next_ms = time.ticks_ms()

    def mic_read(self, buf):
        # Awaitable like hal.Hal.mic_read, paced like the I2S DMA (one buffer per buffer-duration
        # of wall time). Fills buf now and returns asyncio's reusable sleep object, so a read
        # allocates nothing (an `async def` would allocate a coroutine per call).
        size = 2 if isinstance(buf, array) else 1
        n = len(buf)
        self._next_ms = time.ticks_add(self._next_ms, (n * size // 2) * 1000 // 16000)
        got = self._mic.readinto(buf) if self._mic else 0
        i = (got or 0) // size
        while i < n:  # past the end of the WAV: silence
            buf[i] = 0
            i += 1
        wait = time.ticks_diff(self._next_ms, time.ticks_ms())
        return asyncio.sleep_ms(wait if wait > 0 else 0)

    def mic_stop(self):
        if self._mic:
            self._mic.close()
        self._mic = None

    def speaker_start(self, session):
        self._spk = open("%s/play-%d.raw" % (self._out, session), "wb")
        self._play_ms = time.ticks_ms()
        log.info(_TAG, "speaker on session=%d volume=%d" % (session, self.volume))

    def speaker_write(self, pcm):
        # awaitable, paced like the I2S DMA: 16 kHz x 2 bytes = 32 bytes per millisecond
        if self._spk is None:
            raise OSError("speaker not started")
        self._spk.write(pcm)
        self._play_ms = time.ticks_add(self._play_ms, len(pcm) // 32)
        wait = time.ticks_diff(self._play_ms, time.ticks_ms())
        return asyncio.sleep_ms(wait if wait > 0 else 0)

    def speaker_stop(self):
        if self._spk:
            self._spk.close()
            log.info(_TAG, "speaker off")
        self._spk = None

    def button(self):
        return _exists(self._button)

    def led(self, state):
        if state != self.led_state:
            self.led_state = state
            log.info("led", state)

    def battery_mv(self):
        return self._batt - time.ticks_diff(time.ticks_ms(), self._t0) // 60000

    def charging(self):
        return False

    def wdt_start(self, timeout_ms):
        log.info(_TAG, "watchdog %d ms" % timeout_ms)

    def wdt_feed(self):
        self.fed += 1

    def reset(self):
        log.info(_TAG, "reset")
        sys.exit(3)

    def ble_radio(self, name):
        return None
