"""DriverStatement: a Core statement compiled once for asyncpg, its parameters in order and its
own constants written into its SQL."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import Integer, Text, bindparam, literal, null, select
from sqlalchemy.dialects.postgresql import JSONB

from ringback.db.driver import DriverStatement
from tests.databases import asyncpg_dsn

STATEMENT = select(
    bindparam("p_name", type_=Text),
    literal(7, Integer),
    bindparam("p_doc", type_=JSONB),
).limit(1)


def test_the_statements_own_values_are_written_in_and_parameters_go_in_order() -> None:
    statement = DriverStatement(STATEMENT)
    assert statement.sql.count("$") == 2  # name, doc; 7 and the limit are constants
    assert "$1::" in statement.sql
    assert "$2::" in statement.sql
    assert "7::INTEGER" in statement.sql
    assert "LIMIT 1::INTEGER" in statement.sql
    args = statement._args({"p_name": "x", "p_doc": {"a": [1]}})
    assert args == ["x", '{"a": [1]}']


def test_json_parameters_are_sent_as_json_text_and_none_stays_null() -> None:
    args = DriverStatement(STATEMENT)._args({"p_name": None, "p_doc": None})
    assert args == [None, None]


@pytest.mark.sql
async def test_written_constants_reach_the_server_as_the_values_they_were(
    database_url: str,
) -> None:
    statement = DriverStatement(
        select(
            literal("it's $1 and a \\ backslash", Text),
            bindparam("p_first", type_=Integer),
            literal(-3, Integer),
            null(),
            bindparam("p_second", type_=Text),
            literal({"a": "b"}, JSONB),  # JSON stays a parameter
        )
    )
    assert statement.sql.count("$") == 4  # the two parameters, the JSON, the $1 in the text
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await statement.fetch_one(conn, {"p_first": 5, "p_second": "two"})
    finally:
        await conn.close()
    assert list(row.values()) == ["it's $1 and a \\ backslash", 5, -3, None, "two", '{"a": "b"}']


def test_a_parameter_the_caller_forgot_is_an_error_not_a_null() -> None:
    with pytest.raises(KeyError, match="p_doc"):
        DriverStatement(STATEMENT)._args({"p_name": "x"})
