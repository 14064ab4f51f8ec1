"""Cloud API settings (environment `ARMA_CLOUD_*`, or arguments of `arma-cloud serve`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARMA_CLOUD_", frozen=True)

    database_url: str = "sqlite:///arma-cloud.db"
    rate_limit_per_minute: int = 1200  # per API key; 0 disables
    rate_limit_burst: int = 600
    max_body_bytes: int = 32 * 1024 * 1024  # after gzip decompression
