"""Schema migrations (Alembic, scripts in `cloud_sync/cloud/migrations`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "cloud_sync.cloud:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (creates the schema on an empty one)."""
    command.upgrade(alembic_config(url), revision)
