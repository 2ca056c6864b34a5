"""What ops counts and changes beside the call records: the statistics counts, a customer's
opt-out, a failed message's requeue, and the outbox gauges of ``/metrics``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, bindparam, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.db.tables import TZ, call, customer, customer_suppressed, message, message_status_is
from ringback.messages.queries import requeue_failed
from ringback.messages.states import MessageStatus
from ringback.ops.model import CustomerState, MessageInfo, RetryResult
from ringback.ops.records import MESSAGE_COLUMNS, message_info
from ringback.ops.stats import BucketCounts
from ringback.relay.model import Disposition


async def bucket_counts(
    conn: AsyncConnection,
    restaurant_id: int,
    boundaries: Sequence[dt.datetime],
    occurred_from: dt.datetime,
    occurred_to: dt.datetime,
) -> dict[int, BucketCounts]:
    """Counts per bucket index (0-based) of the calls in [from, to); ``boundaries`` are the
    bucket starts (UTC instants, already aligned to the restaurant's local time)."""
    bounds = bindparam("bounds", list(boundaries), type_=ARRAY(TZ))
    index = func.width_bucket(call.c.occurred_at, bounds).label("b")
    recovered = call.c.recovered_at.isnot(None).label("rec")
    stmt = (
        select(
            index,
            call.c.disposition,
            call.c.outcome,
            message.c.status,
            recovered,
            func.count().label("n"),
        )
        .select_from(call.outerjoin(message, message.c.call_id == call.c.id))
        .where(
            call.c.restaurant_id == restaurant_id,
            call.c.occurred_at >= occurred_from,
            call.c.occurred_at < occurred_to,
        )
        .group_by(index, call.c.disposition, call.c.outcome, message.c.status, recovered)
    )
    rows = (await conn.execute(stmt)).all()
    # replied calls apart, through ix_call_ops_replied, which holds them only: the statement
    # above stays index-only on ix_call_ops_time, whose INCLUDE has no replied_at
    replied_stmt = (
        select(index, func.count().label("n"))
        .where(
            call.c.restaurant_id == restaurant_id,
            call.c.occurred_at >= occurred_from,
            call.c.occurred_at < occurred_to,
            call.c.replied_at.isnot(None),
        )
        .group_by(index)
    )
    replied = {row.b - 1: int(row.n) for row in await conn.execute(replied_stmt)}
    acc: dict[int, dict[str, Any]] = {}
    for row in rows:
        slot = acc.setdefault(
            row.b - 1, {"calls": 0, "missed": 0, "recovered": 0, "o": {}, "m": {}}
        )
        n = int(row.n)
        slot["calls"] += n
        if row.disposition == Disposition.MISSED.value:
            slot["missed"] += n
        if row.rec:
            slot["recovered"] += n
        if row.outcome:
            slot["o"][row.outcome] = slot["o"].get(row.outcome, 0) + n
        if row.status:
            slot["m"][row.status] = slot["m"].get(row.status, 0) + n
    return {
        key: BucketCounts(
            v["calls"], v["missed"], v["recovered"], v["o"], v["m"], replied.get(key, 0)
        )
        for key, v in acc.items()
    }


async def set_opt_out(
    conn: AsyncConnection, restaurant_id: int, customer_id: int, opted_out: bool
) -> CustomerState | None:
    value: Any = func.coalesce(customer.c.opted_out_at, func.now()) if opted_out else null()
    stmt = (
        update(customer)
        .where(customer.c.id == customer_id, customer.c.restaurant_id == restaurant_id)
        .values(opted_out_at=value, updated_at=func.now())
        .returning(*customer.c)
    )
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        return None
    return CustomerState(
        id=row["id"],
        phone_number=row["phone_number"],
        name=row["name"],
        opted_out_at=row["opted_out_at"],
        bad_actor=row["bad_actor"],
        updated_at=row["updated_at"],
    )


async def retry_message(
    conn: AsyncConnection, restaurant_id: int, message_id: int
) -> tuple[RetryResult, MessageInfo | None]:
    """Requeue a failed message (the move is the messages slice's); when it did not move, say
    why: not found, not failed, or failed but its customer is suppressed now (SPEC §3)."""
    moved = requeue_failed(restaurant_id, message_id, *MESSAGE_COLUMNS)
    row = (await conn.execute(moved)).mappings().first()
    if row is not None:
        return RetryResult.REQUEUED, message_info(row)
    known = (
        await conn.execute(
            select(message.c.status, customer_suppressed().label("suppressed"))
            .select_from(message.join(customer, customer.c.id == message.c.customer_id))
            .where(message.c.id == message_id, message.c.restaurant_id == restaurant_id)
        )
    ).first()
    if known is None:
        return RetryResult.NOT_FOUND, None
    if known.status == MessageStatus.FAILED.value and known.suppressed:
        return RetryResult.SUPPRESSED, None
    return RetryResult.NOT_FAILED, None


async def outbox_gauges(conn: AsyncConnection) -> tuple[int, float]:
    """(messages queued or being sent, seconds the oldest due queued message has waited)."""
    oldest = (
        select(func.min(message.c.next_attempt_at))
        .where(
            message_status_is(MessageStatus.QUEUED.value),
            message.c.next_attempt_at <= func.now(),
        )
        .scalar_subquery()
    )
    # counted status by status, each through its partial index (no scan of every message)
    waiting = [
        select(func.count()).select_from(message).where(message_status_is(status.value))
        for status in (MessageStatus.QUEUED, MessageStatus.SENDING)
    ]
    stmt = select(
        waiting[0].scalar_subquery() + waiting[1].scalar_subquery(),
        func.coalesce(func.extract("epoch", func.now() - oldest), 0),
    )
    row = (await conn.execute(stmt)).one()
    return int(row[0]), max(0.0, float(row[1]))
