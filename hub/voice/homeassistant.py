"""Home Assistant MQTT discovery: every ARMA device appears in Home Assistant with its
availability, battery, signal, firmware and the last intent the hub recognised from it.

Discovery configs are retained under `homeassistant/sensor/arma_<device>/<key>/config`; they
point at the device's own topics (status, telemetry) and at the retained per-device topic
`arma/v1/hub/<hub>/devices/<device>/last_intent` that the voice service keeps current.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

from hub import wire


class Publisher(Protocol):
    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None: ...


def last_intent_topic(hub_id: str, device_id: str) -> str:
    wire.check_id(hub_id, "hub id")
    wire.check_id(device_id)
    return f"arma/v1/hub/{hub_id}/devices/{device_id}/last_intent"


def discovery_messages(
    hub_id: str, device_id: str, prefix: str = "homeassistant"
) -> list[tuple[str, dict[str, Any]]]:
    """(topic, config) pairs for one device: one sensor per value."""
    status = wire.device_topic(device_id, "status")
    telemetry = wire.device_topic(device_id, "telemetry")
    device = {
        "identifiers": [f"arma_{device_id}"],
        "name": f"ARMA {device_id}",
        "manufacturer": "ARMA",
        "model": "ARMA voice speaker",
        "via_device": f"arma_hub_{hub_id}",
    }
    availability = {
        "availability_topic": status,
        "availability_template": "{{ 'offline' if value_json.state == 'offline' else 'online' }}",
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    sensors: dict[str, dict[str, Any]] = {
        "state": {
            "name": "State",
            "state_topic": status,
            "value_template": "{{ value_json.state }}",
        },
        "battery": {
            "name": "Battery",
            "state_topic": telemetry,
            "value_template": "{{ value_json.battery }}",
            "device_class": "battery",
            "unit_of_measurement": "%",
            "state_class": "measurement",
        },
        "rssi": {
            "name": "Wi-Fi signal",
            "state_topic": telemetry,
            "value_template": "{{ value_json.rssi }}",
            "device_class": "signal_strength",
            "unit_of_measurement": "dBm",
            "entity_category": "diagnostic",
        },
        "firmware": {
            "name": "Firmware",
            "state_topic": telemetry,
            "value_template": "{{ value_json.fw }}",
            "entity_category": "diagnostic",
        },
        "last_intent": {
            "name": "Last intent",
            "state_topic": last_intent_topic(hub_id, device_id),
            "value_template": "{{ value_json.intent or 'not recognised' }}",
            "json_attributes_topic": last_intent_topic(hub_id, device_id),
            "icon": "mdi:account-voice",
        },
    }
    out = []
    for key, sensor in sensors.items():
        config = {
            **sensor,
            "unique_id": f"arma_{device_id}_{key}",
            "object_id": f"arma_{device_id}_{key}",
            "device": device,
        }
        if key != "state":
            config.update(availability)
        out.append((f"{prefix}/sensor/arma_{device_id}/{key}/config", config))
    return out


class HomeAssistantDiscovery:
    """Announces each device once per hub run (retained, so Home Assistant restarts find them)."""

    def __init__(self, publisher: Publisher, hub_id: str, prefix: str = "homeassistant") -> None:
        self.publisher = publisher
        self.hub_id = hub_id
        self.prefix = prefix
        self.announced: set[str] = set()

    async def announce(self, device_ids: Iterable[str]) -> int:
        count = 0
        for device_id in device_ids:
            if device_id in self.announced:
                continue
            for topic, config in discovery_messages(self.hub_id, device_id, self.prefix):
                await self.publisher.publish(topic, json.dumps(config).encode(), qos=1, retain=True)
            self.announced.add(device_id)
            count += 1
        return count
