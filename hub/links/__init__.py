"""Device links: transports (MQTT, BLE) that turn devices into one typed message stream.

Links import the codec and `hub.messages` only; nothing from the registry or the web API.
"""
