"""The receipts' reads and their own tables: kept receipts and opt-outs (SPEC §3, §7).

A receipt and the record of its provider message id (``SqlOutbox.mark_sent``) serialize on a
transaction-scoped advisory lock per provider id: whichever comes second sees the other's work, so
a receipt is either applied at once or kept and applied when the id is recorded — never lost. The
record (``ringback_record_sends``, migration 0011) looks for kept receipts on a snapshot taken
after the lock (``ringback_receipt_kept``, migration 0007).
The moves a receipt makes are ``queries.apply_receipts``. Every function runs in the caller's
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    Text,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnClause

from ringback.db.locks import xact_lock
from ringback.db.tables import customer, message, pending_receipt, restaurant
from ringback.messages.states import BusinessNumber, KnownMessage, MessageStatus, Receipt
from ringback.tenancy.model import WHATSAPP_PHONE_NUMBER_ID

_LOCK = select(xact_lock(bindparam("key", type_=Text)))
# Written as in the index of migration 0003, so the planner uses it.
_phone_number_id: ColumnClause[str] = literal_column(
    f"restaurant.whatsapp ->> '{WHATSAPP_PHONE_NUMBER_ID}'"
)
PENDING_RECEIPT_TTL = dt.timedelta(days=1)
_FORGET_STALE = delete(pending_receipt).where(
    pending_receipt.c.id.in_(
        select(pending_receipt.c.id)
        .where(pending_receipt.c.created_at < func.now() - PENDING_RECEIPT_TTL)
        .limit(100)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
)


def lock_key(provider_message_id: str) -> str:
    """The advisory lock key a receipt and the record of its message id share."""
    return f"wamid:{provider_message_id}"


async def lock_provider_id(conn: AsyncConnection, provider_message_id: str) -> None:
    await conn.execute(_LOCK, {"key": lock_key(provider_message_id)})


async def restaurants_for(conn: AsyncConnection, phone_number_id: str) -> list[BusinessNumber]:
    stmt = (
        select(restaurant.c.id, restaurant.c.country)
        .where(_phone_number_id == phone_number_id)
        .order_by(restaurant.c.id)
    )
    rows = (await conn.execute(stmt)).all()
    return [BusinessNumber(row.id, row.country) for row in rows]


async def find_message(
    conn: AsyncConnection, provider_message_id: str, restaurant_ids: Sequence[int]
) -> KnownMessage | None:
    """The message of a provider id, locked until the receipts' moves commit."""
    stmt = (
        select(message.c.id, message.c.status)
        .where(
            message.c.provider_message_id == provider_message_id,
            message.c.restaurant_id.in_(list(restaurant_ids)),
        )
        .with_for_update()
    )
    row = (await conn.execute(stmt)).first()
    return KnownMessage(row.id, MessageStatus(row.status)) if row else None


async def keep_pending(conn: AsyncConnection, phone_number_id: str, receipt: Receipt) -> None:
    """Keep a receipt until its message id is recorded; forget a few stale ones meanwhile.

    A receipt can only run ahead of its own send by the seconds between the provider's
    answer and our commit, so one kept for a day belongs to a send that never committed
    (the process died and the message was sent again under another id): it is dropped.
    """
    await conn.execute(_FORGET_STALE)
    await conn.execute(
        pg_insert(pending_receipt)
        .values(
            provider_message_id=receipt.provider_message_id,
            phone_number_id=phone_number_id,
            status=receipt.status.value,
            error=receipt.error,
            reported_at=receipt.reported_at,
        )
        .on_conflict_do_nothing(
            index_elements=[pending_receipt.c.provider_message_id, pending_receipt.c.status]
        )
    )


async def take_kept(
    conn: AsyncConnection, provider_message_id: str, phone_number_id: str
) -> list[Receipt]:
    """The receipts kept for this id, forgotten as they are read."""
    kept = (
        delete(pending_receipt)
        .where(
            pending_receipt.c.provider_message_id == provider_message_id,
            pending_receipt.c.phone_number_id == phone_number_id,
        )
        .returning(pending_receipt.c.status, pending_receipt.c.error, pending_receipt.c.reported_at)
    )
    rows = (await conn.execute(kept)).all()
    return [
        Receipt(provider_message_id, MessageStatus(row.status), row.reported_at, row.error)
        for row in rows
    ]


async def opt_out(
    conn: AsyncConnection, restaurant_id: int, phone_number: str, at: dt.datetime
) -> None:
    """Suppress the customer, creating them when unknown; an earlier opt-out is kept."""
    new = pg_insert(customer).values(
        restaurant_id=restaurant_id, phone_number=phone_number, opted_out_at=at
    )
    await conn.execute(
        new.on_conflict_do_update(
            index_elements=[customer.c.restaurant_id, customer.c.phone_number],
            set_={
                "opted_out_at": func.coalesce(customer.c.opted_out_at, new.excluded.opted_out_at),
                "updated_at": func.now(),
            },
        )
    )


async def opt_in(conn: AsyncConnection, restaurant_id: int, phone_number: str) -> None:
    await conn.execute(
        update(customer)
        .where(
            customer.c.restaurant_id == restaurant_id,
            customer.c.phone_number == phone_number,
            customer.c.opted_out_at.is_not(None),
        )
        .values(opted_out_at=None, updated_at=func.now())
    )
