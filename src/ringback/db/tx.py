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
- ``async with db.driver() as conn:`` — an autocommit connection of asyncpg's own pool
  (``driver.DriverPool``), for ``DriverStatement``s only: the hot path's statements outside a
  transaction (a report's decision, a send's record), without SQLAlchemy's checkout cost. A
  ``Database`` made without pool options lends the driver connection under ``connection()``.

A connection whose state is unknown after an error (lost, timed out, cancelled mid-protocol) is
invalidated, never handed out again. Driver and pool errors that escape either block are raised
as the exception tree's ``DatabaseUnavailable`` / ``UnstorableText`` (``errors.py``); any other
error (a constraint violation, a bug) is raised as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ringback.db.driver import DriverPool, DriverPoolOptions, driver_of, guarded
from ringback.db.errors import replacement, translate


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
        if (translated := replacement(error)) is None:
            raise
        raise translated from error


class Database:
    """Transactions and autocommit connections on one engine."""

    def __init__(self, engine: AsyncEngine, driver_pool: DriverPoolOptions | None = None) -> None:
        self.engine = engine
        self._driver_pool = DriverPool(driver_pool) if driver_pool is not None else None
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

    def driver(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        if self._driver_pool is not None:
            return self._driver_pool.acquire()
        return self._lent_driver()

    @asynccontextmanager
    async def _lent_driver(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as lent:
            raw = await driver_of(lent)
            try:
                yield raw
            except BaseException as exc:
                if not isinstance(exc, Exception) or translate(exc) is not None:
                    await lent.invalidate()  # lost, cancelled mid-protocol: never reused
                raise

    def add_query_logger(self, log: Callable[[Any], None]) -> None:
        """asyncpg's query logger on every connection either pool opens from now on (benchmarks
        and tests count a report's statements with it)."""

        def on_connect(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.driver_connection.add_query_logger(log)

        event.listen(self.engine.sync_engine, "connect", on_connect)
        if self._driver_pool is not None:
            self._driver_pool.query_loggers.append(log)

    async def dispose(self) -> None:
        if self._driver_pool is not None:
            await self._driver_pool.close()
        await self.engine.dispose()
