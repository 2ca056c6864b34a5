"""DriverStatement: a Core statement compiled once for asyncpg, its parameters in order."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, Text, bindparam, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from ringback.db.driver import DriverStatement

STATEMENT = select(
    bindparam("p_name", type_=Text),
    literal(7, Integer),
    bindparam("p_doc", type_=JSONB),
).limit(1)


def test_parameters_go_in_the_compiled_order_with_the_statements_own_values() -> None:
    statement = DriverStatement(STATEMENT)
    assert statement.sql.count("$") == 4  # name, 7, doc, limit
    args = statement._args({"p_name": "x", "p_doc": {"a": [1]}})
    assert args == ["x", 7, '{"a": [1]}', 1]


def test_json_parameters_are_sent_as_json_text_and_none_stays_null() -> None:
    args = DriverStatement(STATEMENT)._args({"p_name": None, "p_doc": None})
    assert args == [None, 7, None, 1]


def test_a_parameter_the_caller_forgot_is_an_error_not_a_null() -> None:
    with pytest.raises(KeyError, match="p_doc"):
        DriverStatement(STATEMENT)._args({"p_name": "x"})
