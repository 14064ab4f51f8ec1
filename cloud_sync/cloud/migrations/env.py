"""Alembic environment: the URL comes from the Config (`sqlalchemy.url`), set by `migrate()`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cloud_sync.cloud import models  # noqa: F401  (registers the tables)
from cloud_sync.cloud.db import Base, make_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
