"""SqlReceiptStore: WhatsApp receipts and opt-outs in PostgreSQL (SPEC §3, §7).

A receipt and the commit of its provider message id (``SqlOutbox.mark_sent``) serialize on a
transaction-scoped advisory lock per provider id: whichever comes second sees the other's work, so
a receipt is either applied at once or kept and applied when the id is committed — never lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import Text, bindparam, delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnClause

from ringback.db.locks import xact_lock
from ringback.db.tables import customer, message, pending_receipt, restaurant
from ringback.messages.states import (
    BusinessNumber,
    KnownMessage,
    MessageStatus,
    Move,
    Receipt,
    settle,
)
from ringback.messages.timeline import log_moves

_LOCK = select(xact_lock(bindparam("key", type_=Text)))
# Written as in the index of migration 0003, so the planner uses it.
_phone_number_id: ColumnClause[str] = literal_column("restaurant.whatsapp ->> 'phone_number_id'")
RECEIPT_DETAIL = "WhatsApp status webhook"


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


def receipt_lock_key(provider_message_id: str) -> str:
    """The advisory lock key a receipt and the commit of its message id share."""
    return f"wamid:{provider_message_id}"


class SqlReceiptTransaction:
    """The receipts' statements on one connection, inside the caller's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def restaurants_for(self, phone_number_id: str) -> list[BusinessNumber]:
        stmt = (
            select(restaurant.c.id, restaurant.c.country)
            .where(_phone_number_id == phone_number_id)
            .order_by(restaurant.c.id)
        )
        rows = (await self._conn.execute(stmt)).all()
        return [BusinessNumber(row.id, row.country) for row in rows]

    async def lock_provider_id(self, provider_message_id: str) -> None:
        await self._conn.execute(_LOCK, {"key": receipt_lock_key(provider_message_id)})

    async def find_message(
        self, provider_message_id: str, restaurant_ids: Sequence[int]
    ) -> KnownMessage | None:
        stmt = (
            select(message.c.id, message.c.status)
            .where(
                message.c.provider_message_id == provider_message_id,
                message.c.restaurant_id.in_(list(restaurant_ids)),
            )
            .with_for_update()
        )
        row = (await self._conn.execute(stmt)).first()
        return KnownMessage(row.id, MessageStatus(row.status)) if row else None

    async def move(self, known: KnownMessage, moves: Sequence[Move]) -> list[MessageStatus]:
        """Each move from the status the previous one left; every move writes its event."""
        moved: list[MessageStatus] = []
        current = known.status
        for step in moves:
            values: dict[str, object] = {"status": step.status.value, "updated_at": func.now()}
            if step.error is not None:
                values["last_error"] = step.error
            changed = (
                update(message)
                .where(message.c.id == known.id, message.c.status == current.value)
                .values(**values)
                .returning(message.c.id, message.c.attempts)
                .cte("changed")
            )
            logged = await self._conn.execute(
                log_moves(changed, step.status.value, detail=step.error or RECEIPT_DETAIL)
            )
            if not logged.rowcount:
                break
            moved.append(step.status)
            current = step.status
        return moved

    async def keep_pending(self, phone_number_id: str, receipt: Receipt) -> None:
        """Keep a receipt until its message id is committed; forget a few stale ones meanwhile.

        A receipt can only run ahead of its own send by the seconds between the provider's
        answer and our commit, so one kept for a day belongs to a send that never committed
        (the process died and the message was sent again under another id): it is dropped.
        """
        await self._conn.execute(_FORGET_STALE)
        await self._conn.execute(
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

    async def apply_pending(
        self, message_id: int, provider_message_id: str, phone_number_id: str
    ) -> list[MessageStatus]:
        """Receipts kept for this id move the just-sent message, then are forgotten."""
        kept = (
            delete(pending_receipt)
            .where(
                pending_receipt.c.provider_message_id == provider_message_id,
                pending_receipt.c.phone_number_id == phone_number_id,
            )
            .returning(
                pending_receipt.c.status, pending_receipt.c.error, pending_receipt.c.reported_at
            )
        )
        rows = (await self._conn.execute(kept)).all()
        receipts = [
            Receipt(provider_message_id, MessageStatus(row.status), row.reported_at, row.error)
            for row in rows
        ]
        moves = settle(MessageStatus.SENT, receipts)
        if not moves:
            return []
        return await self.move(KnownMessage(message_id, MessageStatus.SENT), moves)

    async def opt_out(self, restaurant_id: int, phone_number: str, at: dt.datetime) -> None:
        """Suppress the customer, creating them when unknown; an earlier opt-out is kept."""
        new = pg_insert(customer).values(
            restaurant_id=restaurant_id, phone_number=phone_number, opted_out_at=at
        )
        await self._conn.execute(
            new.on_conflict_do_update(
                index_elements=[customer.c.restaurant_id, customer.c.phone_number],
                set_={
                    "opted_out_at": func.coalesce(
                        customer.c.opted_out_at, new.excluded.opted_out_at
                    ),
                    "updated_at": func.now(),
                },
            )
        )

    async def opt_in(self, restaurant_id: int, phone_number: str) -> None:
        await self._conn.execute(
            update(customer)
            .where(
                customer.c.restaurant_id == restaurant_id,
                customer.c.phone_number == phone_number,
                customer.c.opted_out_at.is_not(None),
            )
            .values(opted_out_at=None, updated_at=func.now())
        )

    async def commit(self) -> None:
        await self._conn.commit()


class SqlReceiptStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlReceiptTransaction]:
        """One transaction; leaving without ``commit`` rolls it back."""
        async with self._engine.connect() as conn:
            await conn.begin()
            yield SqlReceiptTransaction(conn)
