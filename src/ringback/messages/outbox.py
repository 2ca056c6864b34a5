"""SqlOutbox: the dispatcher's moves of a message, each the statement ``queries.py`` builds.

A move that is one statement runs on an autocommit connection, which is as atomic as a
transaction around it and saves the BEGIN and COMMIT round trips.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import DateTime, Text, bindparam

from ringback.db.driver import Conn, DriverStatement
from ringback.db.tx import Database
from ringback.errors import DatabaseUnavailable
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages import receipt_queries
from ringback.messages.ports import ClaimedMessage
from ringback.messages.queries import (
    apply_receipts,
    claim_due_statement,
    held_move_statement,
    record_sends_statement,
    requeue_expired_statement,
)
from ringback.messages.states import (
    CLAIM,
    MARK_FAILED,
    MARK_RETRY,
    SUPPRESS,
    KnownMessage,
    MessageStatus,
)
from ringback.relay.model import Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallReply:
    """The outcome a request replies for its call, stored with the move that decides it."""

    call_id: int
    outcome: Outcome


_REQUEUE_EXPIRED = requeue_expired_statement()
_CLAIM_DUE = claim_due_statement()
# A send's record takes the per-id receipts lock a receipt takes before it is kept, and commits
# with its group: a receipt that takes the lock later sees the committed message id; one that held
# it first has committed its kept row when the record gets the lock, and the record's look for kept
# receipts, on a snapshot taken after the lock, sees it. The look is in the same statement: one
# round trip records a group of sends, a second one runs only when receipts were kept (rarely).
_RECORD_SENDS = DriverStatement(record_sends_statement())
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
        self._sent = _SentRecords(self._record_sends)

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
        ``reply``, the call's outcome is written with the move (an inline send). False: the
        lease was lost (another holder took the message over), nothing was written.

        The move takes the per-id lock a receipt takes before it is kept and, in the same
        statement, looks for kept receipts on a snapshot taken after the lock: whichever of the
        two comes second sees the other's committed work, so no receipt is lost between them.
        Sends recorded at the same time share one statement and one commit (``_SentRecords``).
        """
        moved, then = await self._sent.record(SentRecord(held, provider_message_id, reply))
        if moved and then:
            await self._apply_kept(held, provider_message_id)
        return moved

    async def _record_sends(self, batch: list[SentRecord]) -> list[tuple[bool, bool]]:
        """The records of ``batch`` (distinct messages, in provider-id order) in one statement:
        (moved, receipts kept) for each."""
        async with self._db.driver() as conn:
            rows = await _RECORD_SENDS.fetch(conn, record_params(batch))
        found = {row["id"]: (bool(row["moved"]), bool(row["kept"])) for row in rows}
        return [found[s.held.id] for s in batch]

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


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A send to record: the message held under its lease, the provider's id, and the reply of
    the request that waits for it (None when none does)."""

    held: ClaimedMessage
    provider_message_id: str
    reply: CallReply | None


def record_params(batch: Sequence[SentRecord]) -> dict[str, list[Any]]:
    """``record_sends_statement``'s parameters for ``batch``: one element per send in each
    array."""
    return {
        "p_ids": [s.held.id for s in batch],
        "p_tokens": [s.held.lease_token for s in batch],
        "p_provider_ids": [s.provider_message_id for s in batch],
        "p_phone_number_ids": [s.held.phone_number_id for s in batch],
        "p_call_ids": [s.reply.call_id if s.reply else None for s in batch],
        "p_outcomes": [s.reply.outcome.value if s.reply else None for s in batch],
        "p_lock_keys": [receipt_queries.lock_key(s.provider_message_id) for s in batch],
    }


@dataclass(slots=True)
class _Waiter:
    sent: SentRecord
    done: asyncio.Future[tuple[bool, bool]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _SentRecords:
    """Group commit of sends' records: the sends recorded while a record is being written wait
    for it, then share the next statement and its commit (issue 15: a record's statement and
    commit cost the server and PostgreSQL more than its row; ``docs/PERFORMANCE.md``).

    A record alone is written at once, a group of one (no added wait: a group forms only while
    one is being written), and each waiter gets exactly what a statement of its own would have
    said: moved or not, receipts kept or not. A group the server refuses (a row it cannot store,
    a provider id another message carries) is written again one send at a time, so one send's
    error is that send's alone; a database that is gone fails the whole group, as it would fail
    each record. The writer is a task of its own: a waiter that stops waiting (its request's
    deadline, a shutdown) never interrupts a statement that carries others' records.
    """

    LIMIT = 100  # sends per statement: the arrays stay small, a batch never waits on a huge one

    def __init__(
        self, write: Callable[[list[SentRecord]], Awaitable[list[tuple[bool, bool]]]]
    ) -> None:
        self._write_sends = write
        self._waiting: list[_Waiter] = []
        self._writer: asyncio.Task[None] | None = None
        self.statements = 0  # statements written, one or many sends each (tests read it)

    async def record(self, sent: SentRecord) -> tuple[bool, bool]:
        waiter = _Waiter(sent)
        self._waiting.append(waiter)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        # a waiter cancelled here cancels only its own future: the writer goes on for the others
        return await waiter.done

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch = self._take()
                try:
                    await self._write_batch(batch)
                except Exception as exc:  # not raised in the writer: each waiter gets it
                    for waiter in batch:
                        _settle(waiter, error=exc)
                except BaseException:  # the writer itself is cancelled (the loop is closing)
                    for waiter in batch + self._waiting:
                        waiter.done.cancel()
                    raise
        finally:
            self._writer = None

    def _take(self) -> list[_Waiter]:
        """Up to ``LIMIT`` waiters of distinct messages, in provider-id order (the lock order)."""
        batch: list[_Waiter] = []
        later: list[_Waiter] = []
        ids: set[int] = set()
        for waiter in self._waiting:
            if len(batch) < self.LIMIT and waiter.sent.held.id not in ids:
                ids.add(waiter.sent.held.id)
                batch.append(waiter)
            else:
                later.append(waiter)
        self._waiting = later
        batch.sort(key=lambda w: w.sent.provider_message_id)
        return batch

    async def _write_batch(self, batch: list[_Waiter]) -> None:
        try:
            self.statements += 1
            results = await self._write_sends([w.sent for w in batch])
        except DatabaseUnavailable:
            raise  # the database is gone: every record fails, as it would alone
        except Exception as exc:
            if len(batch) == 1:
                raise
            log.warning("a group of %d send records was refused (%s); recording each alone",
                        len(batch), type(exc).__name__)  # fmt: skip
            for waiter in batch:
                try:
                    self.statements += 1
                    (result,) = await self._write_sends([waiter.sent])
                    _settle(waiter, result=result)
                except Exception as alone:
                    _settle(waiter, error=alone)
            return
        for waiter, result in zip(batch, results, strict=True):
            _settle(waiter, result=result)


def _settle(
    waiter: _Waiter,
    result: tuple[bool, bool] | None = None,
    error: BaseException | None = None,
) -> None:
    if waiter.done.done():
        return
    if error is not None:
        waiter.done.set_exception(error)
    else:
        assert result is not None
        waiter.done.set_result(result)
