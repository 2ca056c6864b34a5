"""Driver errors translated by exception type into the exception tree of ``ringback.errors``.

The asyncpg dialect wraps the driver's exception in its own generic ``Error`` and SQLAlchemy wraps
that in a ``DBAPIError``: the telling exception (``CannotConnectNowError``, …) is found down the
chain of causes. ``tx.py`` and ``driver.py`` translate what escapes them; the HTTP edge translates
what escaped any other use of the engine, so every door answers 503 for a database that is gone.
"""

from __future__ import annotations

import asyncpg
from asyncpg import exceptions as pg
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from ringback.errors import DatabaseUnavailable, UnstorableText

_UNREACHABLE = (OSError, TimeoutError, sa_exc.TimeoutError)
"""Raised as is: the network, a statement timeout, no pooled connection free in time."""

_LOST = (
    OSError,
    sa_exc.InterfaceError,
    AsyncAdapt_asyncpg_dbapi.InterfaceError,
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    pg.ConnectionDoesNotExistError,
    pg.ConnectionFailureError,
    pg.CannotConnectNowError,  # starting up or shutting down
    pg.AdminShutdownError,
    pg.CrashShutdownError,
)
"""Found anywhere down an error's causes: the connection is gone or the server is not serving."""

_UNSTORABLE = (
    UnicodeEncodeError,  # an unpaired surrogate, refused before it is sent
    pg.CharacterNotInRepertoireError,  # 22021: a NUL byte
    pg.UntranslatableCharacterError,  # 22P05: a character the encoding lacks
)


def _causes(error: BaseException | None) -> list[BaseException]:
    chain: list[BaseException] = []
    while error is not None and len(chain) < 5:
        chain.append(error)
        error = error.__cause__
    return chain


def _is_unavailable(error: BaseException) -> bool:
    if isinstance(error, _UNREACHABLE):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        chain = _causes(error.orig)
        return error.connection_invalidated or any(isinstance(e, _LOST) for e in chain)
    return any(isinstance(e, _LOST) for e in _causes(error))


def _is_unstorable(error: BaseException) -> bool:
    chain = _causes(error)
    if isinstance(error, sa_exc.DBAPIError):
        chain += _causes(error.orig)
    return any(isinstance(e, _UNSTORABLE) for e in chain)


def translate(error: BaseException) -> DatabaseUnavailable | UnstorableText | None:
    """The tree's exception for a driver or pool error; None for any other error (a constraint
    violation, a bug), which is raised as it is."""
    if isinstance(error, DatabaseUnavailable | UnstorableText):
        return error
    if _is_unavailable(error):
        return DatabaseUnavailable(type(error).__name__)  # its text may quote a parameter
    if _is_unstorable(error):
        return UnstorableText(type(error).__name__)
    return None


def replacement(error: BaseException) -> DatabaseUnavailable | UnstorableText | None:
    """The tree's exception to raise instead of ``error`` (``translate``); None to raise
    ``error`` as it is: one of the tree's already, or no driver or pool error."""
    translated = translate(error)
    return None if translated is error else translated
