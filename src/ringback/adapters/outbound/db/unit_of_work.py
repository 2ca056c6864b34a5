"""SqlUnitOfWork: one connection, one transaction; only ``commit`` makes anything last.

The transaction is the driver's own (asyncpg's ``Connection.transaction``), begun at once, on a
connection SQLAlchemy holds in autocommit mode: the relay's hot statements run on the driver
itself (driver.py), and SQLAlchemy would only begin its transaction lazily, at its own first
statement. Every statement on the connection, SQLAlchemy's or the driver's, belongs to this one
transaction, and a unit of work left without ``commit`` rolls it back before the connection goes
back to the pool.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ringback.adapters.outbound.db.driver import driver_of, guarded
from ringback.adapters.outbound.db.engine import autocommit
from ringback.adapters.outbound.db.relay_store import SqlRelayStore


class SqlUnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = autocommit(engine)
        self._conn: AsyncConnection | None = None
        self._tx: Any = None
        self._broken = False
        self._relay: SqlRelayStore | None = None

    @property
    def relay(self) -> SqlRelayStore:
        assert self._relay is not None, "use the unit of work with 'async with'"
        return self._relay

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None, "use the unit of work with 'async with'"
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        self._conn = await self._engine.connect()
        try:
            driver = await driver_of(self._conn)
            async with guarded(self._conn, "BEGIN"):
                # a pooled connection the server dropped fails here already ("connection is
                # closed"): that is the database being unavailable, as much as a failed BEGIN
                tx = driver.transaction()
                await tx.start()
            self._tx = tx
        except BaseException:
            await self._conn.invalidate()
            await self._conn.close()
            raise
        self._relay = SqlRelayStore(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._tx is not None:
                tx, self._tx = self._tx, None
                await tx.rollback()
        except BaseException:
            self._broken = True  # the first error (if any) is the one that matters
        try:
            if self._broken:
                # the connection's state is unknown: it must never serve another transaction
                await self._conn.invalidate()
        finally:
            await self._conn.close()

    async def commit(self) -> None:
        assert self._tx is not None, "the unit of work is already finished"
        assert self._conn is not None
        tx, self._tx = self._tx, None
        try:
            async with guarded(self._conn, "COMMIT"):
                await tx.commit()
        except BaseException:
            self._broken = True
            raise


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = autocommit(engine)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine)
