"""SqlOutbox: the message state machine in PostgreSQL. Every move writes its timeline event.

The statements are built once (SQLAlchemy reuses their compiled form). A move that is one
statement runs in autocommit, which is as atomic as a transaction around it and saves the BEGIN
and COMMIT round trips.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Case,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    exists,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from ringback.db.driver import DriverStatement
from ringback.db.engine import autocommit
from ringback.db.locks import xact_lock
from ringback.db.tables import (
    call,
    customer,
    customer_suppressed,
    message,
    message_status_is,
    pending_receipt,
    restaurant,
)
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.ports import CallReply, ClaimedMessage
from ringback.messages.receipt_queries import SqlReceiptTransaction, receipt_lock_key
from ringback.messages.states import MessageStatus
from ringback.messages.timeline import log_moves

_SENDING = MessageStatus.SENDING.value
_QUEUED = MessageStatus.QUEUED.value
_CANCELLED = MessageStatus.CANCELLED.value
LEASE_EXPIRED = "lease expired: the previous holder stopped before recording a result"
SUPPRESSED = "suppressed"
"""``last_error`` of a message cancelled at claim time: its customer opted out or is a bad actor."""
_TS = DateTime(timezone=True)
_LIMIT = bindparam("p_limit", type_=Integer)


def _requeue_expired_statement() -> Insert:
    now = func.now()
    expired = (
        update(message)
        .where(
            message.c.id.in_(
                select(message.c.id)
                .where(message_status_is(_SENDING), message.c.lease_expires_at <= now)
                .limit(_LIMIT)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
        )
        .values(
            status=_QUEUED,
            lease_token=None,
            lease_expires_at=None,
            next_attempt_at=now,
            last_error=LEASE_EXPIRED,
            updated_at=now,
        )
        .returning(message.c.id, message.c.attempts)
        .cte("expired")
    )
    return log_moves(expired, _QUEUED, detail=LEASE_EXPIRED)


def _claim_statement(condition: ColumnElement[bool]) -> Select[Any]:
    """Take the lease on what ``condition`` picks, or cancel it when its customer is suppressed
    now (SPEC §3, suppression at send time): read with the customer row in the same statement,
    whatever queued the message (send delay, quiet hours, a retry, an ops retry)."""
    lease = func.make_interval(0, 0, 0, 0, 0, 0, bindparam("p_lease_seconds", type_=Float))
    sends = ~customer_suppressed()

    def unless_suppressed(value: ColumnElement[Any], suppressed: ColumnElement[Any]) -> Case[Any]:
        return case((sends, value), else_=suppressed)

    moved = (
        update(message)
        .where(
            condition,
            restaurant.c.id == message.c.restaurant_id,
            customer.c.id == message.c.customer_id,
        )
        .values(
            status=unless_suppressed(literal(_SENDING, Text), literal(_CANCELLED, Text)),
            attempts=unless_suppressed(message.c.attempts + 1, message.c.attempts),
            lease_token=unless_suppressed(bindparam("p_token", type_=UUID(as_uuid=True)), null()),
            lease_expires_at=unless_suppressed(func.now() + lease, null()),
            last_error=unless_suppressed(message.c.last_error, literal(SUPPRESSED, Text)),
            updated_at=func.now(),
        )
        .returning(
            message.c.id,
            message.c.status,
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
    detail = case((moved.c.status == _CANCELLED, literal(SUPPRESSED, Text)), else_=null())
    return select(moved).add_cte(log_moves(moved, moved.c.status, detail=detail).cte("logged"))


def _move_statement(status: MessageStatus, *also: ColumnElement[bool], **values: Any) -> Insert:
    """Move a held message (matched by id, ``sending`` and its lease token) and log the move.

    With ``p_call_id`` set, the move also writes the call's outcome (``p_outcome``): the outcome
    the request that sent the message inline replies. A move that matches nothing (a lost
    lease) writes no outcome either.
    """
    moved = (
        update(message)
        .where(
            message.c.id == bindparam("p_id"),
            message.c.status == _SENDING,
            message.c.lease_token == bindparam("p_token", type_=UUID(as_uuid=True)),
            *also,
        )
        .values(
            status=status.value,
            lease_token=None,
            lease_expires_at=None,
            updated_at=func.now(),
            **values,
        )
        .returning(message.c.id, message.c.attempts)
        .cte("moved")
    )
    replied = (
        update(call)
        .where(
            call.c.id == bindparam("p_call_id", type_=BigInteger),
            exists(select(moved.c.id)),
        )
        .values(outcome=bindparam("p_outcome", type_=Text), updated_at=func.now())
        .cte("replied")
    )
    return log_moves(moved, status.value, detail=bindparam("p_detail", type_=Text)).add_cte(replied)


_REQUEUE_EXPIRED = _requeue_expired_statement()
_CLAIM_DUE = _claim_statement(
    message.c.id.in_(
        select(message.c.id)
        .where(message_status_is(_QUEUED), message.c.next_attempt_at <= func.now())
        .order_by(message.c.next_attempt_at)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
)
# The per-id receipts lock is taken by the move itself, which commits alone: a receipt that
# held the lock first has committed its kept row when the move commits, and the next statement
# (a new snapshot) sees it; a receipt that takes the lock later sees the committed message id.
_RECEIPTS_LOCK = xact_lock(bindparam("p_lock_key", type_=Text))
_RECEIPTS_KEPT = DriverStatement(
    select(literal(1))
    .where(
        pending_receipt.c.provider_message_id == bindparam("p_provider_id", type_=Text),
        pending_receipt.c.phone_number_id == bindparam("p_phone_number_id", type_=Text),
    )
    .limit(1)
)
# Every send records itself with one of these: run by the driver itself (driver.py).
_MARK_SENT = DriverStatement(
    _move_statement(
        MessageStatus.SENT,
        _RECEIPTS_LOCK,
        provider_message_id=bindparam("p_provider_id", type_=Text),
        last_error=None,
    )
)
_MARK_RETRY = DriverStatement(
    _move_statement(
        MessageStatus.QUEUED,
        last_error=bindparam("p_error", type_=Text),
        next_attempt_at=bindparam("p_due", type_=_TS),
    )
)
_MARK_FAILED = DriverStatement(
    _move_statement(MessageStatus.FAILED, last_error=bindparam("p_error", type_=Text))
)


class SqlOutbox:
    def __init__(self, engine: AsyncEngine, metrics: Metrics | None = None) -> None:
        self._engine = engine
        self._autocommit = autocommit(engine)
        self._metrics = metrics or NoMetrics()

    async def claim_due(self, limit: int, lease_seconds: float) -> list[ClaimedMessage]:
        """Requeue messages whose holder's lease expired, then claim what is due."""
        token = uuid.uuid4()
        async with self._autocommit.connect() as conn:
            await conn.execute(_REQUEUE_EXPIRED, {"p_limit": limit})
            params = {"p_limit": limit, "p_token": token, "p_lease_seconds": lease_seconds}
            rows = (await conn.execute(_CLAIM_DUE, params)).all()
        held = [_claimed(row, token) for row in rows if row.status == _SENDING]
        if len(held) < len(rows):
            self._metrics.message_moved(_CANCELLED, len(rows) - len(held))
        return held

    async def _move(
        self,
        conn: AsyncConnection,
        statement: DriverStatement,
        held: ClaimedMessage,
        reply: CallReply | None,
        **params: Any,
    ) -> bool:
        """A lost lease (another worker took the message over) moves nothing."""
        logged = await statement.execute(
            conn,
            {
                "p_id": held.id,
                "p_token": held.lease_token,
                "p_call_id": reply.call_id if reply else None,
                "p_outcome": reply.outcome.value if reply else None,
                **params,
            },
        )
        return logged > 0

    async def mark_sent(
        self, held: ClaimedMessage, provider_message_id: str, reply: CallReply | None = None
    ) -> bool:
        """Record the provider's id, then apply the receipts kept for it (rarely any).

        The move takes the per-id lock a receipt takes before it is kept: whichever of the two
        comes second sees the other's committed work, so no receipt is lost between them.
        """
        async with self._autocommit.connect() as conn:
            sent = await self._move(
                conn,
                _MARK_SENT,
                held,
                reply,
                p_provider_id=provider_message_id,
                p_detail=provider_message_id,
                p_lock_key=receipt_lock_key(provider_message_id),
            )
            params = {
                "p_provider_id": provider_message_id,
                "p_phone_number_id": held.phone_number_id,
            }
            kept = sent and await _RECEIPTS_KEPT.fetchrow(conn, params) is not None
        if kept:
            async with self._engine.begin() as conn:
                receipts_tx = SqlReceiptTransaction(conn)
                await receipts_tx.lock_provider_id(provider_message_id)
                receipts = await receipts_tx.apply_pending(
                    held.id, provider_message_id, held.phone_number_id
                )
            for status in receipts:
                self._metrics.message_moved(status.value)
        return sent

    async def mark_retry(
        self, held: ClaimedMessage, error: str, next_attempt_at: dt.datetime
    ) -> bool:
        async with self._autocommit.connect() as conn:
            return await self._move(
                conn, _MARK_RETRY, held, None, p_error=error, p_due=next_attempt_at, p_detail=error
            )

    async def mark_failed(
        self, held: ClaimedMessage, error: str, reply: CallReply | None = None
    ) -> bool:
        async with self._autocommit.connect() as conn:
            return await self._move(conn, _MARK_FAILED, held, reply, p_error=error, p_detail=error)


def _claimed(row: Any, token: uuid.UUID) -> ClaimedMessage:
    return ClaimedMessage(
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
