# Runs under MicroPython (test_mqtt_client.py): the firmware's MQTT client alone against a real
# Mosquitto. usage: micropython mqtt_case.py FIRMWARE_DIR PORT
import sys

sys.path.insert(0, sys.argv[1])
import asyncio

from arma import mqtt

PORT = int(sys.argv[2])


async def main():
    got = []
    c = mqtt.MQTTClient(
        "mqtt-case",
        "127.0.0.1",
        PORT,
        keepalive=5,
        queue_max=3,
        on_message=lambda t, p, r: got.append((t, bytes(p), r)),
        backoff_min_ms=100,
        backoff_max_ms=300,
    )
    c.subscribe("case/in/#", 1)
    # bounded queue while offline: 5 messages into 3 places, the 2 oldest dropped
    for i in range(5):
        c.publish("case/out", b"m%d" % i, 1)
    assert c.dropped == 2 and c.pending() == 3, (c.dropped, c.pending())
    task = asyncio.create_task(c.run())
    assert await c.wait_connected(5000)
    for _ in range(50):  # all three acknowledged by the broker
        if not c.pending():
            break
        await asyncio.sleep_ms(50)
    assert c.pending() == 0, c.pending()
    print("READY")  # MicroPython writes stdout unbuffered
    # the test publishes retained + QoS 1 to case/in/x; wait for them
    for _ in range(100):
        if len(got) >= 2:
            break
        await asyncio.sleep_ms(50)
    print("GOT", got)
    assert ("case/in/a", b"hello", False) in got
    big = [g for g in got if g[0] == "case/in/big"]
    assert big and len(big[0][1]) == 5000, "multi-byte remaining length"
    await c.disconnect()
    await asyncio.wait_for_ms(task, 2000)  # run() returns after a clean disconnect
    print("MQTT CASE OK")


asyncio.run(main())
