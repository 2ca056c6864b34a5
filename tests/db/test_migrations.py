"""The migrations build exactly what the code declares, and every one of them can be undone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ringback.db.migrate import alembic_config, upgrade_to_head
from ringback.db.tables import Base
from ringback.settings import to_asyncpg_url
from tests.databases import asyncpg_dsn, fresh_database

pytestmark = pytest.mark.sql


@pytest.fixture
async def empty_database(pg_server_url: str) -> AsyncIterator[str]:
    async with fresh_database(pg_server_url, "ringback_migrations", migrate=False) as url:
        yield url


async def differences(url: str) -> list[Any]:
    """What alembic's autogenerate would change to make the database match the declared tables."""
    engine = create_async_engine(to_asyncpg_url(url))

    def compare(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def test_the_migrations_at_head_build_exactly_the_declared_tables_and_indexes(
    empty_database: str,
) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_database)
    assert await differences(empty_database) == []


async def test_every_migration_undoes_and_redoes_cleanly(empty_database: str) -> None:
    config = alembic_config(empty_database)
    await asyncio.to_thread(upgrade_to_head, empty_database)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(upgrade_to_head, empty_database)
    assert await differences(empty_database) == []


async def test_one_message_per_call_survives_the_index_merge_of_0005(empty_database: str) -> None:
    config = alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0004")
    conn = await asyncpg.connect(asyncpg_dsn(empty_database))
    try:
        call_id = await conn.fetchval(
            """
            WITH r AS (
                INSERT INTO restaurant (slug, name, country, timezone)
                VALUES ('m', 'M', 'FR', 'Europe/Paris') RETURNING id
            ), c AS (
                INSERT INTO customer (restaurant_id, phone_number) SELECT id, '+33612345678' FROM r
                RETURNING id, restaurant_id
            ), k AS (
                INSERT INTO call (restaurant_id, source, external_id, direction, disposition,
                                  caller_raw, caller_phone_number, customer_id, occurred_at)
                SELECT restaurant_id, 'partner', 'x', 'inbound', 'missed', '0612345678',
                       '+33612345678', id, now() FROM c
                RETURNING id, restaurant_id, customer_id
            )
            INSERT INTO message (restaurant_id, call_id, customer_id, to_phone_number,
                                 template_type, template_name, template_language, parameters,
                                 status, next_attempt_at)
            SELECT restaurant_id, id, customer_id, '+33612345678', 'MISSED_CALL', 't', 'fr',
                   '[]', 'queued', now() FROM k
            RETURNING call_id
            """
        )
        await asyncio.to_thread(upgrade_to_head, empty_database)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                """
                INSERT INTO message (restaurant_id, call_id, customer_id, to_phone_number,
                                     template_type, template_name, template_language, parameters,
                                     status, next_attempt_at)
                SELECT restaurant_id, call_id, customer_id, to_phone_number, template_type,
                       template_name, template_language, parameters, 'queued', now()
                FROM message WHERE call_id = $1
                """,
                call_id,
            )
        indexes = {
            r["indexname"]
            for r in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename IN ('call', 'message')"
            )
        }
    finally:
        await conn.close()
    assert {"ix_call_ops_time", "ux_message_call_id"} <= indexes
    assert (
        not {
            "ix_call_ops_stats",
            "ix_call_restaurant_id_occurred_at_id",
            "ix_message_ops_call_status",
            "uq_message_call_id",
        }
        & indexes
    )


async def test_0005_run_again_after_dying_half_way_ends_at_the_same_schema(
    empty_database: str,
) -> None:
    """As if 0005 died after its last step, before alembic stamped it, with one index left
    invalid (a CREATE INDEX CONCURRENTLY that failed): running it again repairs that index,
    rebuilds no valid one and ends at the declared schema."""
    await asyncio.to_thread(upgrade_to_head, empty_database)
    conn = await asyncpg.connect(asyncpg_dsn(empty_database))
    oid = "SELECT indexrelid FROM pg_index WHERE indexrelid = $1::regclass"
    validity = "SELECT indisvalid FROM pg_index WHERE indexrelid = $1::regclass"
    try:
        keyset_index = await conn.fetchval(oid, "ix_call_ops_time")
        await conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass",
            "ux_message_call_id",
        )
        await conn.execute("UPDATE alembic_version SET version_num = '0004'")
        await asyncio.to_thread(upgrade_to_head, empty_database)
        assert await conn.fetchval(validity, "ux_message_call_id") is True
        assert await conn.fetchval(oid, "ix_call_ops_time") == keyset_index
        head = ScriptDirectory.from_config(alembic_config(empty_database)).get_current_head()
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == head
    finally:
        await conn.close()
    assert await differences(empty_database) == []
