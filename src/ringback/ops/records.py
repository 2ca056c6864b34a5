"""The call records of one restaurant (SPEC §8): a page, the CSV stream, one call with its
message's timeline.

Every read is scoped by restaurant and walks ``(occurred_at DESC, id DESC)`` by keyset, so a page
10,000 rows deep costs what the first one does, and the CSV export reads bounded chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.db.tables import call, customer, message, reservation
from ringback.db.tx import Database
from ringback.messages.states import MessageStatus
from ringback.messages.timeline import read_timeline
from ringback.ops.model import (
    CallFilters,
    CallRecord,
    CsvRow,
    CustomerInfo,
    MessageInfo,
    Position,
    ReservationInfo,
    TimelineEntry,
)
from ringback.relay.model import Direction, Disposition, Outcome, Source, TemplateType

CSV_CHUNK = 2000

_CALL_COLUMNS = [
    call.c.id,
    call.c.source,
    call.c.external_id,
    call.c.direction,
    call.c.disposition,
    call.c.caller_phone_number,
    call.c.occurred_at,
    call.c.created_at,
    call.c.outcome,
    call.c.template_type,
    call.c.customer_id,
    call.c.reservation_id,
    call.c.recovered_at,
    call.c.replied_at,
]
MESSAGE_COLUMNS = [
    message.c.id.label("m_id"),
    message.c.status.label("m_status"),
    message.c.attempts.label("m_attempts"),
    message.c.next_attempt_at.label("m_next_attempt_at"),
    message.c.provider_message_id.label("m_provider_message_id"),
    message.c.last_error.label("m_last_error"),
    message.c.updated_at.label("m_updated_at"),
    message.c.template_name.label("m_template_name"),
]
"""A message as ops shows it, each column labelled as ``message_info`` reads it."""
_RELATED_COLUMNS = [
    customer.c.phone_number.label("cu_phone_number"),
    customer.c.name.label("cu_name"),
    customer.c.opted_out_at.label("cu_opted_out_at"),
    customer.c.bad_actor.label("cu_bad_actor"),
    reservation.c.external_id.label("re_external_id"),
    reservation.c.start_at.label("re_start_at"),
    reservation.c.party_size.label("re_party_size"),
    reservation.c.status.label("re_status"),
]


def _where(restaurant_id: int, filters: CallFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [call.c.restaurant_id == restaurant_id]
    pairs: list[tuple[Any, tuple[Any, ...]]] = [
        (call.c.source, filters.sources),
        (call.c.direction, filters.directions),
        (call.c.disposition, filters.dispositions),
        (call.c.outcome, filters.outcomes),
        (message.c.status, filters.message_statuses),
    ]
    for column, values in pairs:
        if len(values) == 1:
            conditions.append(column == values[0].value)
        elif values:
            conditions.append(column.in_([v.value for v in values]))
    if filters.phone is not None:
        conditions.append(call.c.caller_phone_number == filters.phone)
    if filters.occurred_from is not None:
        conditions.append(call.c.occurred_at >= filters.occurred_from)
    if filters.occurred_to is not None:
        conditions.append(call.c.occurred_at < filters.occurred_to)
    if filters.recovered is True:
        conditions.append(call.c.recovered_at.isnot(None))
    elif filters.recovered is False:
        conditions.append(call.c.recovered_at.is_(None))
    if filters.replied is True:
        conditions.append(call.c.replied_at.isnot(None))
    elif filters.replied is False:
        conditions.append(call.c.replied_at.is_(None))
    return conditions


def _page(
    query: Select[Any],
    restaurant_id: int,
    filters: CallFilters,
    after: Position | None,
    limit: int,
) -> Select[Any]:
    conditions = _where(restaurant_id, filters)
    if after is not None:
        conditions.append(
            tuple_(call.c.occurred_at, call.c.id) < tuple_(after.occurred_at, after.call_id)
        )
    return (
        query.where(and_(*conditions))
        .order_by(call.c.occurred_at.desc(), call.c.id.desc())
        .limit(limit)
    )


def message_info(
    row: RowMapping, timeline: tuple[TimelineEntry, ...] | None = None
) -> MessageInfo | None:
    """The message of a row selected with ``MESSAGE_COLUMNS``; None when the call has none."""
    if row["m_id"] is None:
        return None
    return MessageInfo(
        id=row["m_id"],
        status=MessageStatus(row["m_status"]),
        attempts=row["m_attempts"],
        next_attempt_at=(
            row["m_next_attempt_at"] if row["m_status"] == MessageStatus.QUEUED.value else None
        ),
        provider_message_id=row["m_provider_message_id"],
        last_error=row["m_last_error"],
        updated_at=row["m_updated_at"],
        template_name=row["m_template_name"],
        timeline=timeline,
    )


def _customer(row: RowMapping) -> CustomerInfo | None:
    if row["customer_id"] is None or row["cu_phone_number"] is None:
        return None
    return CustomerInfo(
        id=row["customer_id"],
        phone_number=row["cu_phone_number"],
        name=row["cu_name"],
        opted_out_at=row["cu_opted_out_at"],
        bad_actor=row["cu_bad_actor"],
    )


def _reservation(row: RowMapping) -> ReservationInfo | None:
    if row["reservation_id"] is None or row["re_external_id"] is None:
        return None
    return ReservationInfo(
        id=row["reservation_id"],
        external_id=row["re_external_id"],
        start_at=row["re_start_at"],
        party_size=row["re_party_size"],
        status=row["re_status"],
    )


def _record(row: RowMapping, timeline: tuple[TimelineEntry, ...] | None = None) -> CallRecord:
    return CallRecord(
        id=row["id"],
        source=Source(row["source"]),
        external_id=row["external_id"],
        direction=Direction(row["direction"]),
        disposition=Disposition(row["disposition"]),
        caller_phone_number=row["caller_phone_number"],
        occurred_at=row["occurred_at"],
        created_at=row["created_at"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        template_type=TemplateType(row["template_type"]) if row["template_type"] else None,
        customer_id=row["customer_id"],
        reservation_id=row["reservation_id"],
        recovered_at=row["recovered_at"],
        replied_at=row["replied_at"],
        message=message_info(row, timeline),
        customer=_customer(row),
        reservation=_reservation(row),
    )


def _full_select() -> Select[Any]:
    return select(*_CALL_COLUMNS, *MESSAGE_COLUMNS, *_RELATED_COLUMNS).select_from(
        call.outerjoin(message, message.c.call_id == call.c.id)
        .outerjoin(customer, customer.c.id == call.c.customer_id)
        .outerjoin(reservation, reservation.c.id == call.c.reservation_id)
    )


async def list_calls(
    conn: AsyncConnection,
    restaurant_id: int,
    filters: CallFilters,
    after: Position | None,
    limit: int,
) -> list[CallRecord]:
    stmt = _page(_full_select(), restaurant_id, filters, after, limit)
    rows = (await conn.execute(stmt)).mappings().all()
    return [_record(row) for row in rows]


async def get_call(conn: AsyncConnection, restaurant_id: int, call_id: int) -> CallRecord | None:
    stmt = _full_select().where(call.c.id == call_id, call.c.restaurant_id == restaurant_id)
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        return None
    timeline = None if row["m_id"] is None else await read_timeline(conn, row["m_id"])
    return _record(row, timeline)


async def stream_calls(
    db: Database, restaurant_id: int, filters: CallFilters
) -> AsyncIterator[CsvRow]:
    """Every matching call, newest first, read by keyset in chunks of ``CSV_CHUNK``: memory
    stays flat however many rows there are, and no connection is held between chunks."""
    base = select(
        *_CALL_COLUMNS, message.c.status.label("m_status"), message.c.attempts.label("m_att")
    ).select_from(call.outerjoin(message, message.c.call_id == call.c.id))
    after: Position | None = None
    while True:
        stmt = _page(base, restaurant_id, filters, after, CSV_CHUNK)
        async with db.connection() as conn:
            rows = (await conn.execute(stmt)).all()
        for row in rows:
            yield CsvRow(
                id=row.id,
                source=row.source,
                external_id=row.external_id,
                direction=row.direction,
                disposition=row.disposition,
                caller_phone_number=row.caller_phone_number,
                occurred_at=row.occurred_at,
                created_at=row.created_at,
                outcome=row.outcome,
                template_type=row.template_type,
                customer_id=row.customer_id,
                reservation_id=row.reservation_id,
                message_status=row.m_status,
                message_attempts=row.m_att,
                recovered_at=row.recovered_at,
            )
        if len(rows) < CSV_CHUNK:
            return
        after = Position(rows[-1].occurred_at, rows[-1].id)
        del rows
