"""Databases of the tests' own on the suite's PostgreSQL server: created with a unique name and
dropped afterwards, whatever the test did (``WITH (FORCE)`` ends connections it left open)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

from ringback.db.migrate import upgrade_to_head


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (any driver) as a DSN asyncpg takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(
    pg_server_url: str, prefix: str, *, migrate: bool = True
) -> AsyncIterator[str]:
    """A new database named ``<prefix>_<random>``, migrated to head unless ``migrate`` is False;
    yields its URL and drops it on the way out."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_dsn(pg_server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            await asyncio.to_thread(upgrade_to_head, url)
        yield url
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(pg_server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
