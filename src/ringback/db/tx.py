"""The one transaction type: the only place that begins and commits (DESIGN.md, habit 2).

``Database`` hands out two things, both on the bounded asyncpg pool of ``engine.py``:

- ``async with db.transaction() as tx:`` — a ``Tx``: one connection, one transaction, begun at
  once; only ``await tx.commit()`` makes anything last, and a ``Tx`` left without it is rolled
  back before its connection goes back to the pool. The transaction is the driver's own (asyncpg's
  ``Connection.transaction``) on a connection SQLAlchemy holds in autocommit mode, so the hot
  statements can run on the driver itself (``driver.py``) and SQLAlchemy Core statements
  (``await tx.conn.execute(...)``) belong to the same transaction.
- ``async with db.connection() as conn:`` — a connection in autocommit: each statement is its own
  transaction. For reads and for one-statement writes, which then cost no BEGIN/COMMIT round trips.

A connection whose state is unknown after an error (lost, timed out, cancelled mid-protocol) is
invalidated, never handed out again. Driver and pool errors that escape either block are raised
as the exception tree's ``DatabaseUnavailable`` / ``UnstorableText`` (``errors.py``); any other
error (a constraint violation, a bug) is raised as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ringback.db.driver import driver_of, guarded
from ringback.db.errors import translate


class Tx:
    """One open transaction. Use cases take a ``Tx``; queries run their statements on ``conn``."""

    def __init__(self, conn: AsyncConnection, driver_tx: Any) -> None:
        self.conn = conn
        self._driver_tx: Any = driver_tx
        self._broken = False

    @property
    def open(self) -> bool:
        return self._driver_tx is not None

    async def commit(self) -> None:
        assert self._driver_tx is not None, "the transaction is already finished"
        driver_tx, self._driver_tx = self._driver_tx, None
        try:
            async with guarded(self.conn, "COMMIT"):
                await driver_tx.commit()
        except BaseException:
            self._broken = True
            raise

    async def _finish(self) -> None:
        """Roll back what was not committed; a connection in an unknown state is invalidated."""
        try:
            if self._driver_tx is not None:
                driver_tx, self._driver_tx = self._driver_tx, None
                await driver_tx.rollback()
        except BaseException:
            self._broken = True  # the first error (if any) is the one that matters
        if self._broken:
            await self.conn.invalidate()


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        translated = translate(error)
        if translated is None or translated is error:
            raise
        raise translated from error


class Database:
    """Transactions and autocommit connections on one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        if engine.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._autocommit = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        with _translated():
            conn = await self._autocommit.connect()
            try:
                driver = await driver_of(conn)
                # a pooled connection the server dropped fails here already ("connection is
                # closed"): that is the database being unavailable, as much as a failed BEGIN
                async with guarded(conn, "BEGIN"):
                    driver_tx = driver.transaction()
                    await driver_tx.start()
            except BaseException:
                await conn.invalidate()
                await conn.close()
                raise
            tx = Tx(conn, driver_tx)
            try:
                yield tx
            finally:
                try:
                    await tx._finish()
                finally:
                    await conn.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        with _translated():
            async with self._autocommit.connect() as conn:
                yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
