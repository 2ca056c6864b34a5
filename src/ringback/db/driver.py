"""DriverStatement: a Core statement compiled once, run by asyncpg itself on the hot path; and
DriverPool, the pool of asyncpg connections those statements run on outside a ``Tx``.

SQLAlchemy's execution layer (parameter processing, greenlet switches, result proxies) costs
more CPU per statement than the round trip it makes: for the few statements every report runs
(the token lookup, the decision, the send's record) it was the largest cost left in a report
(docs/PERFORMANCE.md). These statements stay SQLAlchemy Core, compiled once by the asyncpg
dialect, and run on the driver connection *under* SQLAlchemy's connection: same pool, same
transaction, same timeouts. Driver errors are translated as ``errors.py`` translates SQLAlchemy's.

Outside a transaction they run on a ``DriverPool`` connection (``Database.driver()``): checking a
connection out of SQLAlchemy's async pool and back costs about 0.22 ms of CPU (two greenlet
switches, a shielded task on close), asyncpg's own pool with no reset round trip a fraction of
that, and a report takes two (issue 15, docs/PERFORMANCE.md). Connections come back to it outside
any transaction (every statement run on them is its own), so there is nothing to reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter

from ringback.db.errors import replacement, translate
from ringback.errors import DatabaseUnavailable

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]
Conn: TypeAlias = AsyncConnection | asyncpg.Connection
"""Where a DriverStatement runs: SQLAlchemy's connection (a ``Tx``'s) or a DriverPool one."""
_CLIENT_ERRORS = (asyncpg.InterfaceError, asyncpg.InternalClientError)


_PLACEHOLDER = re.compile(r"\$(\d+)(?!\d)")


def _constant(bind: BindParameter[Any], value: Any) -> str | None:
    """The SQL literal of a value the statement binds itself and no caller can name (an
    anonymous parameter: ``literal('queued')``, a column set to None), or None to keep it a
    parameter."""
    if bind.required or not bind.unique or bind.callable is not None:
        return None
    if value is None:
        return "NULL"
    if isinstance(bind.type, JSON) or not isinstance(value, str | int):
        return None
    render = bind.type.literal_processor(_DIALECT)
    return None if render is None else str(render(value))


def _inline_constants(compiled: SQLCompiler) -> tuple[str, tuple[str, ...]]:
    """The compiled SQL with its constants written in (each keeps its ``::TYPE`` cast, so the
    server reads it with the type it was bound with), and the names of the parameters left,
    renumbered. The same on every execution, a constant as a parameter costs its encoding and
    the server's binding on every run: the decision statement bound 19 of its 54."""
    names = tuple(compiled.positiontup or ())
    written = {
        name: literal
        for name in names
        if (literal := _constant(compiled.binds[name], compiled.params[name])) is not None
    }
    kept = tuple(name for name in names if name not in written)
    position = {name: index for index, name in enumerate(kept, start=1)}
    seen: set[int] = set()

    def rewrite(match: re.Match[str]) -> str:
        number = int(match.group(1))
        seen.add(number)
        name = names[number - 1]
        return written[name] if name in written else f"${position[name]}"

    sql = _PLACEHOLDER.sub(rewrite, compiled.string)
    assert seen == set(range(1, len(names) + 1)), "every placeholder rewritten, no other"
    return sql, kept


class DriverStatement:
    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql, self._names = _inline_constants(compiled)
        # values bound in the statement itself and not written in (a named bindparam with a
        # value, a JSON or other value with no SQL literal), used unless a parameter is given;
        # any other name is a parameter the caller must give
        self._fixed = {
            name: compiled.params[name] for name in self._names if not compiled.binds[name].required
        }
        self._json = frozenset(
            name for name, bind in compiled.binds.items() if isinstance(bind.type, JSON)
        )

    def _args(self, params: Mapping[str, Any]) -> list[Any]:
        args = []
        for name in self._names:
            # a parameter the statement needs and the caller forgot is an error, never a NULL
            value = (
                self._fixed[name] if name in self._fixed and name not in params else params[name]
            )
            if name in self._json and value is not None:
                value = json.dumps(value)  # the dialect's jsonb codec takes JSON text
            args.append(value)
        return args

    async def fetch(self, conn: Conn, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        if not isinstance(conn, AsyncConnection):
            try:
                found: list[asyncpg.Record] = await conn.fetch(self.sql, *self._args(params))
            except Exception as exc:
                if (error := _driver_error(exc)) is None:
                    raise
                raise error from exc
            return found
        driver = await driver_of(conn)
        async with guarded(conn, self.sql):
            rows: list[asyncpg.Record] = await driver.fetch(self.sql, *self._args(params))
        return rows

    async def fetchrow(self, conn: Conn, params: Mapping[str, Any]) -> asyncpg.Record | None:
        rows = await self.fetch(conn, params)
        return rows[0] if rows else None

    async def fetch_one(self, conn: Conn, params: Mapping[str, Any]) -> asyncpg.Record:
        """Run a statement that returns exactly one row (an upsert's RETURNING, a select of
        aggregates)."""
        row = await self.fetchrow(conn, params)
        assert row is not None, "the statement returns one row"
        return row

    async def execute(self, conn: Conn, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; the number of rows it wrote."""
        if not isinstance(conn, AsyncConnection):
            try:
                status: str = await conn.execute(self.sql, *self._args(params))
            except Exception as exc:
                if (error := _driver_error(exc)) is None:
                    raise
                raise error from exc
        else:
            driver = await driver_of(conn)
            async with guarded(conn, self.sql):
                status = await driver.execute(self.sql, *self._args(params))
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0


@contextlib.asynccontextmanager
async def guarded(conn: AsyncConnection, sql: str) -> AsyncIterator[None]:
    """Driver errors become the exception tree's (``errors.py``), or SQLAlchemy's for any other
    error the server reported, as SQLAlchemy's own statements raise them.

    An error the server reported (a ``PostgresError``) leaves the connection usable. Any other
    (lost connection, timeout, cancellation) may leave the driver mid-protocol: the connection is
    invalidated so the pool never hands it out again, as SQLAlchemy does for its own statements.
    """
    try:
        yield
    except asyncpg.PostgresError as exc:
        raise (translate(exc) or DBAPIError(sql, None, exc)) from exc
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await conn.invalidate()
        if isinstance(exc, _CLIENT_ERRORS):
            raise DatabaseUnavailable(type(exc).__name__) from exc
        translated = replacement(exc) if isinstance(exc, Exception) else None
        if translated is not None:
            raise translated from exc
        raise


def _driver_error(exc: Exception) -> Exception | None:
    """What a statement on a DriverPool connection raises instead of ``exc``, by ``guarded``'s
    rules: the tree's exception, or SQLAlchemy's for any other error the server reported; None
    to raise ``exc`` as it is. A connection left mid-protocol needs no invalidating: asyncpg's
    pool closes or waits out a broken or cancelled one on release. (A function the statement's
    ``except`` calls, not a context manager around it: a report runs two statements.)"""
    if isinstance(exc, asyncpg.PostgresError):
        return translate(exc) or DBAPIError("", None, exc)
    if isinstance(exc, _CLIENT_ERRORS):
        return DatabaseUnavailable(type(exc).__name__)
    return replacement(exc)


async def _no_reset(_: asyncpg.Connection) -> None:
    """Connections come back outside any transaction (asyncpg rolls back one left open)."""


@dataclass(frozen=True, slots=True)
class DriverPoolOptions:
    dsn: str
    size: int
    acquire_timeout: float
    connect_timeout: float
    command_timeout: float


class DriverPool:
    """asyncpg's pool, opened on first use (on the event loop that uses it), closed by
    ``close``. Acquiring waits ``acquire_timeout`` for a free connection, like SQLAlchemy's."""

    def __init__(self, options: DriverPoolOptions) -> None:
        self._options = options
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self.query_loggers: list[Callable[[Any], None]] = []

    async def _init(self, conn: asyncpg.Connection) -> None:
        for log in self.query_loggers:
            conn.add_query_logger(log)

    async def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    o = self._options
                    self._pool = await asyncpg.create_pool(
                        o.dsn,
                        min_size=0,
                        max_size=o.size,
                        timeout=o.connect_timeout,
                        command_timeout=o.command_timeout,
                        server_settings={"application_name": "ringback"},
                        reset=_no_reset,
                        init=self._init,
                    )
        return self._pool

    def acquire(self) -> _Lent:
        """``async with pool.acquire() as conn``: a connection, back in the pool at the end."""
        return _Lent(self)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


class _Lent:
    """A DriverPool connection for one ``async with``. A class rather than a generator-based
    context manager, as every report enters two (issue 15: ``contextlib`` was 3 % of the
    server's CPU under load). Whatever the pool or the block raises leaves as the tree's
    exception (``errors.translate``) when it has one, else as it is."""

    __slots__ = ("_conn", "_owner", "_pool")

    def __init__(self, owner: DriverPool) -> None:
        self._owner = owner

    async def __aenter__(self) -> asyncpg.Connection:
        owner = self._owner
        try:
            self._pool = pool = owner._pool or await owner._opened()
            self._conn = await pool.acquire(timeout=owner._options.acquire_timeout)
        except Exception as exc:  # refused, timed out, starting up
            if (error := replacement(exc)) is None:
                raise
            raise error from exc
        return self._conn

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _: object
    ) -> None:
        try:
            await self._pool.release(self._conn)
        except Exception as error:
            if (translated := replacement(error)) is None:
                raise
            raise translated from error
        if isinstance(exc, Exception) and (translated := replacement(exc)) is not None:
            raise translated from exc


async def driver_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn``. A connection that is open and valid holds it
    already: reading it there costs nothing, where ``get_raw_connection`` spawns a greenlet (about
    0.1 ms of CPU, as much as asyncpg's own work for a small statement)."""
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        return sync.connection.driver_connection
    raw = await conn.get_raw_connection()  # reconnects an invalidated connection (does I/O)
    return raw.driver_connection
