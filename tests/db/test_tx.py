"""The one transaction type: only ``commit`` makes anything last, and driver errors leave
``Database`` as the exception tree's ``DatabaseUnavailable`` / ``UnstorableText``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from ringback.db.engine import build_engine
from ringback.db.tx import Database
from ringback.errors import DatabaseUnavailable, UnstorableText
from tests.conftest import make_settings

pytestmark = pytest.mark.sql


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(build_engine(make_settings(database_url), pool_size=2))
    async with db.connection() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS tx_probe (name text PRIMARY KEY)"))
    yield db
    await db.dispose()


async def _stored(db: Database, name: str) -> bool:
    async with db.connection() as conn:
        found = await conn.execute(text("SELECT 1 FROM tx_probe WHERE name = :n"), {"n": name})
        return found.first() is not None


async def test_what_a_transaction_commits_lasts(database: Database) -> None:
    name = uuid.uuid4().hex
    async with database.transaction() as tx:
        await tx.conn.execute(text("INSERT INTO tx_probe VALUES (:n)"), {"n": name})
        await tx.commit()
    assert await _stored(database, name)


async def test_a_transaction_left_without_commit_is_rolled_back(database: Database) -> None:
    name = uuid.uuid4().hex
    async with database.transaction() as tx:
        await tx.conn.execute(text("INSERT INTO tx_probe VALUES (:n)"), {"n": name})
    assert not await _stored(database, name)


async def test_a_database_nobody_serves_is_unavailable() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    db = Database(engine)
    with pytest.raises(DatabaseUnavailable):
        async with db.transaction():
            pass
    with pytest.raises(DatabaseUnavailable):
        async with db.connection():
            pass
    await db.dispose()


async def test_a_nul_byte_is_unstorable_text(database: Database) -> None:
    with pytest.raises(UnstorableText):
        async with database.connection() as conn:
            await conn.execute(text("SELECT CAST(:n AS text)"), {"n": "a\x00b"})


async def test_any_other_database_error_is_raised_as_it_is(database: Database) -> None:
    with pytest.raises(DBAPIError, match="division by zero"):
        async with database.transaction() as tx:
            await tx.conn.execute(text("SELECT 1 / 0"))
