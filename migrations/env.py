"""Alembic environment (async). The URL comes from the config's ``sqlalchemy.url`` set by the caller."""

from __future__ import annotations

import asyncio

from alembic import context

# every module that defines tables or indexes on Base.metadata, so autogenerate sees them all
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ringback.db.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "ringback migrate sets sqlalchemy.url"
    engine = create_async_engine(url, hide_parameters=True)  # as the app's engine (engine.py)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
