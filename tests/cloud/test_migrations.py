"""The Alembic migrations build exactly the schema the models describe (SQLite and
PostgreSQL), so a model change without a migration fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from cloud_sync.cloud.db import Base


def test_migrated_schema_matches_models(db_url: str) -> None:  # db_url is migrated to head
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert {"tenants", "events", "offerings", "orders", "appointments", "devices"} <= tables
