# The ARMA device application (MicroPython): app, MQTT client, HAL, BLE/Improv, OTA. The wire
# codec proto.py is shared with the hub. Flashing and layout: docs/firmware.md.
