"""Prometheus metrics of one hub instance (own CollectorRegistry, so several hubs can share a
process in tests). Label children are bound once: the hot path only calls `.inc()`."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from hub.messages import RejectReason

MESSAGE_KINDS = ("status", "telemetry", "event", "ack", "audio")


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        messages = Counter(
            "arma_hub_messages",
            "Device messages accepted, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.messages = {kind: messages.labels(kind=kind) for kind in MESSAGE_KINDS}
        rejected = Counter(
            "arma_hub_rejected_messages",
            "Device input refused (malformed, oversized, bad topic, unknown device)",
            ["reason"],
            registry=self.registry,
        )
        self.rejected = {reason: rejected.labels(reason=reason.value) for reason in RejectReason}
        commands = Counter(
            "arma_hub_commands", "Commands sent, by outcome", ["outcome"], registry=self.registry
        )
        self.commands = {
            o: commands.labels(outcome=o)
            for o in ("acked", "failed", "timeout", "retried", "queue_full", "unreachable")
        }
        self.audio_frames_dropped = Counter(
            "arma_hub_audio_frames_dropped",
            "Audio frames no voice pipeline took",
            registry=self.registry,
        )
        self.forward_errors = Counter(
            "arma_hub_forward_errors",
            "Device messages a forwarder (e.g. the outbox) failed to take",
            registry=self.registry,
        )
        self.handle_errors = Counter(
            "arma_hub_handle_errors",
            "Device messages whose handling raised (counted as handled, never re-sent)",
            registry=self.registry,
        )
        self.registry_flushes = Counter(
            "arma_hub_registry_flushes", "Registry snapshots written", registry=self.registry
        )
        self.devices_online = Gauge(
            "arma_hub_devices_online", "Devices currently online", registry=self.registry
        )
        self.devices_known = Gauge(
            "arma_hub_devices_provisioned", "Devices with credentials", registry=self.registry
        )
        self.mqtt_connected = Gauge(
            "arma_hub_mqtt_connected", "1 while the MQTT link is up", registry=self.registry
        )
        self.mqtt_connects = Counter(
            "arma_hub_mqtt_connects", "MQTT link (re)connections", registry=self.registry
        )

    def bind_live(
        self, online: Callable[[], float], known: Callable[[], float], up: Callable[[], float]
    ) -> None:
        """Gauges read at scrape time from the hub's live state."""
        self.devices_online.set_function(online)
        self.devices_known.set_function(known)
        self.mqtt_connected.set_function(up)

    def render(self) -> bytes:
        return generate_latest(self.registry)
