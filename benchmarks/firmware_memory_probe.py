# MicroPython side of benchmarks/firmware_memory.py (also run by tests/firmware/test_memory.py).
# usage: micropython firmware_memory_probe.py FIRMWARE_DIR WAV PORT FRAMES
# Prints JSON: heap figures and bytes allocated per 20 ms audio frame for each stage of the
# frame path (GC disabled while counting, so mem_alloc deltas are exact).
import sys

sys.path.insert(0, sys.argv[1])
import asyncio
import gc
import json

gc.collect()
heap_start = gc.mem_alloc()
from arma import app, audio, hal_sim, mqtt, proto  # noqa: E402, F401

gc.collect()
heap_modules = gc.mem_alloc() - heap_start

WAV = sys.argv[2]
PORT = int(sys.argv[3])
FRAMES = int(sys.argv[4])


def per_frame(fn, n):
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    fn(n)
    a1 = gc.mem_alloc()
    gc.enable()
    return (a1 - a0) / n


async def main():
    cfg = {"sim": {"mic_wav": WAV, "out_dir": WAV.rsplit("/", 1)[0]}, "audio": {"volume": 70}}
    hal = hal_sim.Hal(cfg)
    up = audio.Uplink("adpcm", 20)
    up.begin(proto.device_topic("arma-bench-1", "audio", 123456), 123456)
    client = mqtt.MQTTClient("arma-bench-1", "127.0.0.1", PORT, keepalive=30)
    runner = asyncio.create_task(client.run())
    await client.wait_connected(5000)
    hal.mic_start()
    await hal.mic_read(up.mic_buf)
    out = {}

    def encode_only(n):
        for i in range(n):
            up.frame(i, 0)

    out["encode_and_packet_bytes_per_frame"] = per_frame(encode_only, FRAMES)

    async def mic_encode_send(n):
        for i in range(n):
            await hal.mic_read(up.mic_buf)
            if not client.send_nowait(up.frame(i, 0)):
                await client.flush()

    async def measure(coro_fn, n):
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        await coro_fn(n)
        a1 = gc.mem_alloc()
        gc.enable()
        return (a1 - a0) / n

    async def mic_only(n):
        for _ in range(n):
            await hal.mic_read(up.mic_buf)

    out["mic_read_bytes_per_frame"] = await measure(mic_only, FRAMES)
    out["full_path_bytes_per_frame"] = await measure(mic_encode_send, FRAMES)

    # downlink: validate a received frame (proto.decode_frame) and play it (decode in place)
    block = proto.adpcm_encode_block(bytes(640), proto.AdpcmState())
    wire = proto.encode_frame(123456, 1, proto.CODEC_ADPCM, block, 0)
    speaker = audio.Speaker()
    hal.speaker_start(123456)

    async def play(n):
        for _ in range(n):
            await speaker.play(hal, proto.decode_frame(wire))

    out["play_bytes_per_frame"] = await measure(play, 10)  # GC is off while counting
    hal.speaker_stop()
    hal.mic_stop()
    gc.collect()
    out["heap_modules_bytes"] = heap_modules
    out["heap_steady_bytes"] = gc.mem_alloc() - heap_start
    out["uplink_buffers_bytes"] = len(up.pkt) + 2 * len(up.samples)
    out["heap_total_bytes"] = gc.mem_alloc() + gc.mem_free()
    await client.disconnect()
    runner.cancel()
    print("RESULT " + json.dumps(out))


asyncio.run(main())
