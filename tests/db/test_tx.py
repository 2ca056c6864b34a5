"""The one transaction type: only ``commit`` makes anything last, and driver errors leave
``Database`` as the exception tree's ``DatabaseUnavailable`` / ``UnstorableText``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Integer, Text, bindparam, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from ringback.db.driver import DriverPoolOptions, DriverStatement
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


# --- db.driver(): a connection of asyncpg's own pool (driver.DriverPool) --------------------

_NAME = DriverStatement(select(bindparam("p_name", type_=Text)))
_RATIO = DriverStatement(select(literal_column("1") / bindparam("p_by", type_=Integer)))


def _options(url: str, *, acquire_timeout: float = 30.0) -> DriverPoolOptions:
    # one connection; 30 s to acquire it: only the test that exhausts the pool waits for it
    return DriverPoolOptions(
        dsn=url.replace("postgresql+asyncpg://", "postgresql://"),
        size=1,
        acquire_timeout=acquire_timeout,
        connect_timeout=10.0,
        command_timeout=30.0,
    )


@pytest.fixture
async def pooled(database_url: str) -> AsyncIterator[Database]:
    db = Database(build_engine(make_settings(database_url), pool_size=1), _options(database_url))
    yield db
    await db.dispose()


async def test_a_driver_connection_goes_back_to_the_pool_after_every_kind_of_block(
    pooled: Database,
) -> None:
    """One connection in the pool: each block below gets it only if the one before gave it back."""
    async with pooled.driver() as conn:
        assert (await _NAME.fetch_one(conn, {"p_name": "first"}))[0] == "first"
    with pytest.raises(DBAPIError, match="division by zero"):
        async with pooled.driver() as conn:
            await _RATIO.fetch(conn, {"p_by": 0})
    with pytest.raises(UnstorableText):
        async with pooled.driver() as conn:
            await _NAME.fetch(conn, {"p_name": "a\x00b"})
    with pytest.raises(LookupError):
        async with pooled.driver():
            raise LookupError("a bug in the block is raised as it is")
    async with pooled.driver() as conn:
        assert (await _RATIO.fetch_one(conn, {"p_by": 1}))[0] == 1


async def test_a_driver_pool_nobody_serves_is_unavailable() -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    db = Database(create_async_engine(url), _options(url))
    with pytest.raises(DatabaseUnavailable):
        async with db.driver():
            pass
    await db.dispose()


async def test_an_exhausted_driver_pool_is_unavailable_once_its_acquire_timeout_passes(
    database_url: str,
) -> None:
    # the second block waits for the one connection the first holds: 0.2 s, then it gives up
    engine = build_engine(make_settings(database_url), pool_size=1)
    db = Database(engine, _options(database_url, acquire_timeout=0.2))
    try:
        async with db.driver() as held:
            with pytest.raises(DatabaseUnavailable):
                async with db.driver():
                    pass
            assert (await _NAME.fetch_one(held, {"p_name": "still mine"}))[0] == "still mine"
        async with db.driver() as conn:  # and it is handed out again once given back
            assert (await _NAME.fetch_one(conn, {"p_name": "again"}))[0] == "again"
    finally:
        await db.dispose()
