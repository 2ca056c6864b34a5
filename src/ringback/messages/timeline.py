"""The message timeline: every move of a message writes one ``message_event`` row, and this
module is where those rows are written (``log_moves``, for ``queries.py``) and read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CTE, ColumnElement, Text, bindparam, insert, literal, null, select
from sqlalchemy.ext.asyncio import AsyncConnection
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


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One move of a message, as the ops API shows it (SPEC §8)."""

    status: str
    attempt: int
    detail: str | None
    at: dt.datetime


_TIMELINE = (
    select(
        message_event.c.status,
        message_event.c.attempt,
        message_event.c.detail,
        message_event.c.created_at,
    )
    .where(message_event.c.message_id == bindparam("message_id"))
    .order_by(message_event.c.id)
)


async def read_timeline(conn: AsyncConnection, message_id: int) -> tuple[TimelineEntry, ...]:
    """The moves of a message, oldest first."""
    events = await conn.execute(_TIMELINE, {"message_id": message_id})
    return tuple(TimelineEntry(e.status, e.attempt, e.detail, e.created_at) for e in events)
