"""SqlUnitOfWork: one connection, one transaction; only ``commit`` makes anything last."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from ringback.adapters.outbound.db.relay_store import SqlRelayStore


class SqlUnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
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
            self._tx = await self._conn.begin()
        except BaseException:
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
        assert self._tx is not None
        try:
            if self._tx.is_active:
                await self._tx.rollback()
        finally:
            await self._conn.close()

    async def commit(self) -> None:
        assert self._tx is not None
        await self._tx.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine)
