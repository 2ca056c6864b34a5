"""SqlOutbox: the dispatcher's moves of a message, each the statement ``queries.py`` builds.

A move that is one statement runs on an autocommit connection, which is as atomic as a
transaction around it and saves the BEGIN and COMMIT round trips.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Text, bindparam

from ringback.db.driver import Conn, DriverStatement
from ringback.db.locks import xact_lock
from ringback.db.tx import Database
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages import receipt_queries
from ringback.messages.ports import ClaimedMessage
from ringback.messages.queries import (
    apply_receipts,
    claim_due_statement,
    held_move_selecting,
    held_move_statement,
    requeue_expired_statement,
)
from ringback.messages.states import (
    CLAIM,
    MARK_FAILED,
    MARK_RETRY,
    MARK_SENT,
    SUPPRESS,
    KnownMessage,
    MessageStatus,
)
from ringback.relay.model import Outcome


@dataclass(frozen=True, slots=True)
class CallReply:
    """The outcome a request replies for its call, stored with the move that decides it."""

    call_id: int
    outcome: Outcome


_REQUEUE_EXPIRED = requeue_expired_statement()
_CLAIM_DUE = claim_due_statement()
# The move takes the per-id receipts lock a receipt takes before it is kept, and commits alone:
# a receipt that takes the lock later sees the committed message id; one that held it first has
# committed its kept row when the move gets the lock, and the move's look for kept receipts, on a
# snapshot taken after the lock (``kept_since_lock``), sees it. The look is in the same statement:
# one round trip records a send, a second one runs only when receipts were kept (rarely).
# Every send records itself with one of these: run by the driver itself (driver.py).
_MARK_SENT = DriverStatement(
    held_move_selecting(
        MARK_SENT,
        receipt_queries.kept_since_lock(),
        xact_lock(bindparam("p_lock_key", type_=Text)),
        provider_message_id=bindparam("p_provider_id", type_=Text),
        last_error=None,
    )
)
_MARK_RETRY = DriverStatement(
    held_move_statement(
        MARK_RETRY,
        last_error=bindparam("p_error", type_=Text),
        next_attempt_at=bindparam("p_due", type_=DateTime(timezone=True)),
    )
)
_MARK_FAILED = DriverStatement(
    held_move_statement(MARK_FAILED, last_error=bindparam("p_error", type_=Text))
)


class SqlOutbox:
    def __init__(self, db: Database, metrics: Metrics | None = None) -> None:
        self._db = db
        self._metrics = metrics or NoMetrics()

    async def claim_due(self, limit: int, lease_seconds: float) -> list[ClaimedMessage]:
        """Requeue messages whose holder's lease expired, then lease what is due; a message
        whose customer is suppressed now is cancelled instead and not returned."""
        token = uuid.uuid4()
        async with self._db.connection() as conn:
            await conn.execute(_REQUEUE_EXPIRED, {"p_limit": limit})
            params = {"p_limit": limit, "p_token": token, "p_lease_seconds": lease_seconds}
            rows = (await conn.execute(_CLAIM_DUE, params)).all()
        held = [_claimed(row, token) for row in rows if row.status == CLAIM.target.value]
        if len(held) < len(rows):
            self._metrics.message_moved(SUPPRESS.target.value, len(rows) - len(held))
        return held

    async def mark_sent(
        self, held: ClaimedMessage, provider_message_id: str, reply: CallReply | None = None
    ) -> bool:
        """Record the provider's id, then apply the receipts kept for it (rarely any). With
        ``reply``, the call's outcome is written with the move (an inline send).

        The move takes the per-id lock a receipt takes before it is kept and, in the same
        statement, looks for kept receipts on a snapshot taken after the lock: whichever of the
        two comes second sees the other's committed work, so no receipt is lost between them.
        """
        async with self._db.driver() as conn:
            row = await _MARK_SENT.fetchrow(
                conn,
                _params(
                    held,
                    reply,
                    p_provider_id=provider_message_id,
                    p_phone_number_id=held.phone_number_id,
                    p_detail=provider_message_id,
                    p_lock_key=receipt_queries.lock_key(provider_message_id),
                ),
            )
        if row is None:  # a lost lease: another holder took the message over
            return False
        if row["then"]:
            await self._apply_kept(held, provider_message_id)
        return True

    async def _apply_kept(self, held: ClaimedMessage, provider_message_id: str) -> None:
        async with self._db.transaction() as tx:
            await receipt_queries.lock_provider_id(tx.conn, provider_message_id)
            receipts = await receipt_queries.take_kept(
                tx.conn, provider_message_id, held.phone_number_id
            )
            known = KnownMessage(held.id, MessageStatus.SENT)
            moved = await apply_receipts(tx.conn, known, receipts)
            await tx.commit()
        for status in moved:
            self._metrics.message_moved(status.value)

    async def mark_retry(
        self,
        held: ClaimedMessage,
        error: str,
        next_attempt_at: dt.datetime,
        reply: CallReply | None = None,
    ) -> bool:
        async with self._db.driver() as conn:
            return await _move(
                conn, _MARK_RETRY, held, reply, p_error=error, p_due=next_attempt_at, p_detail=error
            )

    async def mark_failed(
        self, held: ClaimedMessage, error: str, reply: CallReply | None = None
    ) -> bool:
        async with self._db.driver() as conn:
            return await _move(conn, _MARK_FAILED, held, reply, p_error=error, p_detail=error)


async def _move(
    conn: Conn,
    statement: DriverStatement,
    held: ClaimedMessage,
    reply: CallReply | None,
    **params: Any,
) -> bool:
    """A lost lease (another worker took the message over) moves nothing."""
    logged = await statement.execute(conn, _params(held, reply, **params))
    return logged > 0


def _params(held: ClaimedMessage, reply: CallReply | None, **params: Any) -> dict[str, Any]:
    return {
        "p_id": held.id,
        "p_token": held.lease_token,
        "p_call_id": reply.call_id if reply else None,
        "p_outcome": reply.outcome.value if reply else None,
        **params,
    }


def _claimed(row: Any, token: uuid.UUID) -> ClaimedMessage:
    return ClaimedMessage(
        id=row.id,
        lease_token=token,
        attempts=row.attempts,
        phone_number_id=row.phone_number_id or "",
        access_token=row.access_token or "",
        to_phone_number=row.to_phone_number,
        template_name=row.template_name or "",
        template_language=row.template_language or "",
        parameters=list(row.parameters or ()),
        text=row.body,
    )
