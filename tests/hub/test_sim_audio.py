"""Simulated audio sessions: a WAV file streamed in real time as 20 ms ADPCM frames reaches the
hub's audio hook intact; bad WAV files get a typed error.

How we tried to break it: the frames are decoded back and compared with the WAV's samples (a
codec or framing slip shows as a low SNR or a wrong length), the pacing is timed, and WAVs with
the wrong rate and channel count are offered."""

from __future__ import annotations

import asyncio
import math
import struct
import time
import wave
from pathlib import Path

import pytest

from hub.messages import AudioFrame
from hub.sim.audio import AudioFormatError, load_wav
from tests.hub.conftest import ManagedBroker, hub_settings, running_hub, wait_until


def _write_wav(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> bytes:
    n = int(seconds * rate)
    samples = [
        int(9000 * math.sin(2 * math.pi * 440 * i / rate) * math.sin(math.pi * i / n))
        for i in range(n)
    ]
    pcm = struct.pack(f"<{n * channels}h", *[s for s in samples for _ in range(channels)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return pcm


class Collect:
    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []

    async def on_frame(self, frame: AudioFrame) -> None:
        self.frames.append(frame)


async def test_wav_streamed_in_real_time_reaches_the_audio_hook(
    broker: ManagedBroker, tmp_path: Path
) -> None:
    original = _write_wav(tmp_path / "speech.wav", 0.5)
    pcm = load_wav(tmp_path / "speech.wav")
    assert pcm == original
    (creds,) = broker.add_devices(["talker-1"])
    sink = Collect()
    settings = hub_settings(broker.data_dir, broker.port)
    async with running_hub(settings) as hub:
        hub.audio_sink = sink
        sim = broker.sim(creds)
        sim.start()
        try:
            await asyncio.to_thread(sim.wait_connected)
            started = time.monotonic()
            session = await asyncio.to_thread(sim.stream_audio, pcm)
            took = time.monotonic() - started
            await wait_until(lambda: any(f.frame.end for f in sink.frames), timeout=5)
        finally:
            await asyncio.to_thread(sim.stop)
    frames = sink.frames
    assert len(frames) == 25  # 0.5 s / 20 ms
    assert {f.session for f in frames} == {session} and {f.device_id for f in frames} == {
        "talker-1"
    }
    assert [f.frame.seq for f in frames] == list(range(25))
    assert frames[0].frame.start and frames[-1].frame.end
    assert not any(f.frame.start or f.frame.end for f in frames[1:-1])
    assert 0.45 <= took <= 1.5  # paced like a microphone, not blasted
    decoded = b"".join(f.frame.pcm16() for f in frames)
    assert len(decoded) == len(pcm)
    a = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    b = struct.unpack(f"<{len(decoded) // 2}h", decoded)
    noise = sum((x - y) ** 2 for x, y in zip(a, b, strict=True))
    snr = 10 * math.log10(sum(x * x for x in a) / max(noise, 1))
    assert snr > 20, snr


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (16000, 2)])
def test_wrong_wav_format_is_a_typed_error(tmp_path: Path, rate: int, channels: int) -> None:
    _write_wav(tmp_path / "bad.wav", 0.1, rate, channels)
    with pytest.raises(AudioFormatError, match="16 kHz mono"):
        load_wav(tmp_path / "bad.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF....not a wav")
    with pytest.raises(AudioFormatError):
        load_wav(tmp_path / "junk.wav")
