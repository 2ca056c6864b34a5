"""SqlOutbox: the message state machine in PostgreSQL. Every move writes its timeline event."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Executable, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Update

from ringback.adapters.outbound.db.receipts_store import SqlReceiptTransaction
from ringback.adapters.outbound.db.tables import call, message, message_event, restaurant
from ringback.domain.model import MessageStatus, Outcome
from ringback.domain.ports import ClaimedMessage, Metrics, NoMetrics

_SENDING = MessageStatus.SENDING.value
LEASE_EXPIRED = "lease expired: the previous holder stopped before recording a result"


class SqlOutbox:
    def __init__(self, engine: AsyncEngine, metrics: Metrics | None = None) -> None:
        self._engine = engine
        self._metrics = metrics or NoMetrics()

    async def claim_due(self, limit: int, lease_seconds: float) -> list[ClaimedMessage]:
        """Requeue messages whose holder's lease expired, then claim what is due."""
        now = func.now()
        expired = (
            update(message)
            .where(
                message.c.id.in_(
                    select(message.c.id)
                    .where(message.c.status == _SENDING, message.c.lease_expires_at <= now)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                    .scalar_subquery()
                )
            )
            .values(
                status=MessageStatus.QUEUED.value,
                lease_token=None,
                lease_expires_at=None,
                next_attempt_at=now,
                last_error=LEASE_EXPIRED,
                updated_at=now,
            )
            .returning(message.c.id, message.c.attempts)
            .cte("expired")
        )
        requeue = insert(message_event).from_select(
            ["message_id", "status", "attempt", "detail"],
            select(
                expired.c.id,
                literal(MessageStatus.QUEUED.value),
                expired.c.attempts,
                literal(LEASE_EXPIRED),
            ),
        )
        due = (
            select(message.c.id)
            .where(message.c.status == MessageStatus.QUEUED.value, message.c.next_attempt_at <= now)
            .order_by(message.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        return await self._claim(message.c.id.in_(due), lease_seconds, before=requeue)

    async def claim(self, message_id: int, lease_seconds: float) -> ClaimedMessage | None:
        """Claim one queued message now (the inline attempt; it is due, though reserved for it)."""
        claimed = await self._claim(
            (message.c.id == message_id) & (message.c.status == MessageStatus.QUEUED.value),
            lease_seconds,
        )
        return claimed[0] if claimed else None

    async def _claim(
        self, condition: Any, lease_seconds: float, before: Executable | None = None
    ) -> list[ClaimedMessage]:
        token = uuid.uuid4()
        moved = (
            update(message)
            .where(condition, restaurant.c.id == message.c.restaurant_id)
            .values(
                status=_SENDING,
                attempts=message.c.attempts + 1,
                lease_token=token,
                lease_expires_at=func.now() + dt.timedelta(seconds=lease_seconds),
                updated_at=func.now(),
            )
            .returning(
                message.c.id,
                message.c.attempts,
                message.c.to_phone_number,
                message.c.template_name,
                message.c.template_language,
                message.c.parameters,
                restaurant.c.whatsapp["phone_number_id"].astext.label("phone_number_id"),
                restaurant.c.whatsapp["access_token"].astext.label("access_token"),
            )
            .cte("moved")
        )
        stmt = select(moved).add_cte(
            insert(message_event)
            .from_select(
                ["message_id", "status", "attempt"],
                select(moved.c.id, literal(_SENDING), moved.c.attempts),
            )
            .cte("logged")
        )
        async with self._engine.begin() as conn:
            if before is not None:
                await conn.execute(before)
            rows = (await conn.execute(stmt)).all()
        return [
            ClaimedMessage(
                id=row.id,
                lease_token=token,
                attempts=row.attempts,
                phone_number_id=row.phone_number_id or "",
                access_token=row.access_token or "",
                to_phone_number=row.to_phone_number,
                template_name=row.template_name,
                template_language=row.template_language,
                parameters=list(row.parameters),
            )
            for row in rows
        ]

    async def _move(
        self,
        held: ClaimedMessage,
        status: MessageStatus,
        detail: str | None,
        *,
        first: Callable[[AsyncConnection], Awaitable[None]] | None = None,
        then: Callable[[AsyncConnection], Awaitable[None]] | None = None,
        **values: Any,
    ) -> bool:
        """Move a message we hold; a lost lease (another worker took it over) moves nothing."""
        moved: Update = (
            update(message)
            .where(
                message.c.id == held.id,
                message.c.status == _SENDING,
                message.c.lease_token == held.lease_token,
            )
            .values(
                status=status.value,
                lease_token=None,
                lease_expires_at=None,
                updated_at=func.now(),
                **values,
            )
            .returning(message.c.id, message.c.attempts)
        )
        cte = moved.cte("moved")
        stmt = insert(message_event).from_select(
            ["message_id", "status", "attempt", "detail"],
            select(cte.c.id, literal(status.value), cte.c.attempts, literal(detail)),
        )
        async with self._engine.begin() as conn:
            if first is not None:
                await first(conn)
            result = await conn.execute(stmt)
            if result.rowcount and then is not None:
                await then(conn)
        return bool(result.rowcount)

    async def mark_sent(self, held: ClaimedMessage, provider_message_id: str) -> bool:
        """Record the provider's id and, in the same transaction, the receipts kept for it."""
        receipts: list[MessageStatus] = []

        async def lock(conn: AsyncConnection) -> None:
            await SqlReceiptTransaction(conn).lock_provider_id(provider_message_id)

        async def apply_kept(conn: AsyncConnection) -> None:
            receipts.extend(
                await SqlReceiptTransaction(conn).apply_pending(
                    held.id, provider_message_id, held.phone_number_id
                )
            )

        sent = await self._move(
            held,
            MessageStatus.SENT,
            provider_message_id,
            first=lock,
            then=apply_kept,
            provider_message_id=provider_message_id,
            last_error=None,
        )
        for status in receipts:
            self._metrics.message_moved(status.value)
        return sent

    async def mark_retry(
        self, held: ClaimedMessage, error: str, next_attempt_at: dt.datetime
    ) -> bool:
        return await self._move(
            held, MessageStatus.QUEUED, error, last_error=error, next_attempt_at=next_attempt_at
        )

    async def mark_failed(self, held: ClaimedMessage, error: str) -> bool:
        return await self._move(held, MessageStatus.FAILED, error, last_error=error)

    async def set_call_outcome(self, call_id: int, outcome: Outcome) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(call).where(call.c.id == call_id).values(outcome=outcome.value)
            )
