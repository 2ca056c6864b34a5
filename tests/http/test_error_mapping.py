"""The one table from exceptions to replies, for what the database and the body parser raise.

PostgreSQL going away or coming back is 503, text it cannot store is 422, a body that cannot be
decoded is 400 — never a 500.
"""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from ringback.http.errors import to_api_error


class Error(Exception):
    """Stands for the asyncpg dialect's generic ``AsyncAdapt_asyncpg_dbapi.Error``."""


def dialect_error(cause: BaseException) -> sa_exc.DBAPIError:
    """A DBAPIError as SQLAlchemy raises it: the dialect's wrapper, raised from the driver's."""
    try:
        try:
            raise cause
        except BaseException as driver_error:
            raise Error(str(driver_error)) from driver_error
    except Error as wrapped:
        return sa_exc.DBAPIError("SELECT 1", None, wrapped)


@pytest.mark.parametrize(
    "cause",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_a_database_starting_or_stopping_answers_503_unavailable(cause: BaseException) -> None:
    error = to_api_error(dialect_error(cause))
    assert (error.status, error.code, error.headers) == (503, "UNAVAILABLE", {"Retry-After": "1"})


@pytest.mark.parametrize(
    "raised",
    [
        asyncpg.exceptions.InterfaceError("connection is closed"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
    ],
)
def test_a_lost_connection_the_driver_raises_unwrapped_answers_503(raised: Exception) -> None:
    error = to_api_error(raised)
    assert (error.status, error.code) == (503, "UNAVAILABLE")


def test_a_driver_error_wrapped_by_the_hot_path_answers_503() -> None:
    driver_error = asyncpg.exceptions.InternalClientError("another operation is in progress")
    wrapped = sa_exc.DBAPIError("SELECT 1", None, driver_error, connection_invalidated=True)
    error = to_api_error(wrapped)
    assert (error.status, error.code) == (503, "UNAVAILABLE")


def test_a_query_error_of_a_live_database_is_still_an_internal_error() -> None:
    error = to_api_error(dialect_error(asyncpg.exceptions.DivisionByZeroError("division by zero")))
    assert (error.status, error.code) == (500, "INTERNAL")


@pytest.mark.parametrize(
    "cause",
    [
        asyncpg.exceptions.CharacterNotInRepertoireError('invalid byte sequence for "UTF8": 0x00'),
        asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"),
    ],
)
def test_text_postgresql_cannot_store_is_a_422_validation_error(cause: BaseException) -> None:
    error = to_api_error(dialect_error(cause))
    assert (error.status, error.code) == (422, "VALIDATION_ERROR")


def test_an_unpaired_surrogate_that_cannot_be_encoded_is_a_422_validation_error() -> None:
    try:
        "\ud800".encode()
    except UnicodeEncodeError as raised:
        error = to_api_error(raised)
    assert (error.status, error.code) == (422, "VALIDATION_ERROR")


def test_a_body_fastapi_cannot_decode_is_a_400_malformed_request() -> None:
    error = to_api_error(HTTPException(400, "There was an error parsing the body"))
    assert (error.status, error.code) == (400, "MALFORMED_REQUEST")


def test_a_405_keeps_the_allow_header() -> None:
    error = to_api_error(HTTPException(405, headers={"Allow": "GET, HEAD"}))
    assert (error.status, error.headers) == (405, {"Allow": "GET, HEAD"})
