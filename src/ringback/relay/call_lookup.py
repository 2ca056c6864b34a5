"""SqlCallLookup: what a door needs to know about a call already stored under its key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ringback.db.tables import call
from ringback.db.tx import Database
from ringback.relay.model import Direction, Source


@dataclass(frozen=True, slots=True)
class KnownCall:
    id: int
    caller_phone_number: str
    direction: Direction
    occurred_at: dt.datetime
    answered: bool


class SqlCallLookup:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def find(self, restaurant_id: int, source: Source, external_id: str) -> KnownCall | None:
        stmt = select(
            call.c.id,
            call.c.caller_phone_number,
            call.c.direction,
            call.c.occurred_at,
            call.c.answered_at,
        ).where(
            call.c.restaurant_id == restaurant_id,
            call.c.source == source.value,
            call.c.external_id == external_id,
        )
        async with self._database.connection() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return KnownCall(
            id=row.id,
            caller_phone_number=row.caller_phone_number,
            direction=Direction(row.direction),
            occurred_at=row.occurred_at,
            answered=row.answered_at is not None,
        )
