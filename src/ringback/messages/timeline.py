"""The message timeline: every move of a message writes one ``message_event`` row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, ColumnElement, Text, insert, literal, null, select
from sqlalchemy.sql.dml import Insert

from ringback.db.tables import message_event

Value = str | int | ColumnElement[str] | ColumnElement[int] | None


def _column(value: Value) -> ColumnElement[Any]:
    if value is None:
        return null()
    if isinstance(value, ColumnElement):
        return value
    return literal(value, Text) if isinstance(value, str) else literal(value)


def log_moves(moved: CTE, status: Value, *, attempt: Value = None, detail: Value = None) -> Insert:
    """Log each message that ``moved`` (a data-modifying CTE returning ``id`` and ``attempts``)
    moved into ``status``; ``attempt`` defaults to the message's own count."""
    return insert(message_event).from_select(
        ["message_id", "status", "attempt", "detail"],
        select(
            moved.c.id,
            _column(status),
            moved.c.attempts if attempt is None else _column(attempt),
            _column(detail),
        ),
    )
