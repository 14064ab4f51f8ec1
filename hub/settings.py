"""Hub settings: one frozen, validated object built from arguments and ARMA_HUB_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub import wire


class HubSettings(BaseSettings):
    """Everything the hub process needs; immutable once built."""

    model_config = SettingsConfigDict(env_prefix="ARMA_HUB_", frozen=True, extra="ignore")

    hub_id: str = "hub-1"
    data_dir: Path = Path(".arma-data")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_keepalive_s: int = Field(default=10, ge=2, le=600)
    reconnect_min_s: float = Field(default=0.2, gt=0)
    reconnect_max_s: float = Field(default=5.0, gt=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    command_timeout_s: float = Field(default=3.0, gt=0)
    command_attempts: int = Field(default=2, ge=1, le=10)
    command_queue_per_device: int = Field(default=8, ge=1, le=1000)
    registry_flush_s: float = Field(default=0.5, gt=0)
    incoming_queue: int = Field(default=10000, ge=10)

    @field_validator("hub_id")
    @classmethod
    def _valid_hub_id(cls, value: str) -> str:
        try:
            wire.check_id(value, "hub id")
        except wire.ProtocolError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.json"
