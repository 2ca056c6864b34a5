"""The outbox in PostgreSQL: the only writer of ``message`` and ``message_event`` (DESIGN.md).

Every statement moves a message by one of the allowed moves of ``states.py`` — its WHERE clause
is the move's sources — and writes the move's timeline event in the same statement. The
statements are built once (SQLAlchemy reuses their compiled form). Other slices compose the
builders below into their own statements (the relay's decision, the answered call, the ops
retry) so that each of those stays one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Boolean,
    Case,
    ColumnElement,
    DateTime,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    column,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, Update

from ringback.db.tables import (
    call,
    customer,
    customer_suppressed,
    message,
    message_event,
    restaurant,
)
from ringback.messages.ports import NewMessage, NewText
from ringback.messages.states import (
    CANCEL,
    CLAIM,
    ENQUEUE,
    EXPIRE_LEASE,
    MARK_SENT,
    OPS_RETRY,
    RECEIPT_MOVES,
    SUPPRESS,
    KnownMessage,
    MessageStatus,
    Receipt,
    Transition,
    settle,
)
from ringback.messages.timeline import log_moves
from ringback.relay.model import Outcome
from ringback.tenancy.model import WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID

LEASE_EXPIRED = "lease expired: the previous holder stopped before recording a result"
SUPPRESSED = "suppressed"
"""``last_error`` of a message cancelled at claim time: its customer opted out or is a bad actor."""
ANSWERED = "the customer's call was answered"
OPS_RETRY_DETAIL = "requeued by ops"
RECEIPT_DETAIL = "WhatsApp status webhook"
_TS = DateTime(timezone=True)
_LIMIT = bindparam("p_limit", type_=Integer)


def leaving(move: Transition, status: ColumnElement[str] = message.c.status) -> ColumnElement[bool]:
    """The message is in one of ``move``'s sources. The statuses are written into the SQL, not
    bound, so the planner can use the partial indexes of ``tables.py`` in any plan."""
    sources: list[ColumnElement[str]] = [
        literal_column(f"'{source.value}'") for source in sorted(move.sources)
    ]
    if len(sources) == 1:
        return status == sources[0]
    return status.in_(sources)


def _target(move: Transition) -> ColumnElement[str]:
    return literal(move.target.value, Text)


# --- the worker's claim ----------------------------------------------------------------------


def requeue_expired_statement() -> Insert:
    """Hand back what a dead holder kept: its lease expired (SPEC §3, the moves back)."""
    now = func.now()
    expired = (
        update(message)
        .where(
            message.c.id.in_(
                select(message.c.id)
                .where(leaving(EXPIRE_LEASE), message.c.lease_expires_at <= now)
                .limit(_LIMIT)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
        )
        .values(
            status=EXPIRE_LEASE.target.value,
            lease_token=None,
            lease_expires_at=None,
            next_attempt_at=now,
            last_error=LEASE_EXPIRED,
            updated_at=now,
        )
        .returning(message.c.id, message.c.attempts, message.c.call_id)
        .cte("expired")
    )
    # an inline send whose holder died before it replied: its call says QUEUED, what the worker
    # now does with it. A call whose request replied SENT has its message sent already, never
    # requeued here.
    unreplied = unreplied_calls(call.c.id.in_(select(expired.c.call_id).scalar_subquery()))
    return log_moves(expired, EXPIRE_LEASE.target.value, detail=LEASE_EXPIRED).add_cte(
        unreplied.cte("unreplied")
    )


def unreplied_calls(which: ColumnElement[bool]) -> Update:
    """``SENT`` → ``QUEUED`` for the calls ``which`` names whose inline send was not replied
    ``SENT``: the decision stores such a call ``SENT`` (the reply of a send that succeeds, so
    that the record of that send need not write the call row). Only from ``SENT``: a reply a
    move already stored (``FAILED``, ``QUEUED``) is left as it is. The requeue of an expired
    inline lease runs it, and the relay for a request that replies ``QUEUED`` with no move
    carrying it."""
    return (
        update(call)
        .where(which, call.c.outcome == literal(Outcome.SENT.value, Text))
        .values(outcome=literal(Outcome.QUEUED.value, Text), updated_at=func.now())
    )


def claim_due_statement() -> Select[Any]:
    """Take the lease on what is due, or cancel it when its customer is suppressed now (SPEC §3,
    suppression at send time): read with the customer row in the same statement, whatever
    queued the message (send delay, quiet hours, a retry, an ops retry)."""
    assert CLAIM.sources == SUPPRESS.sources
    due = (
        select(message.c.id)
        .where(leaving(CLAIM), message.c.next_attempt_at <= func.now())
        .order_by(message.c.next_attempt_at)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    lease = func.make_interval(0, 0, 0, 0, 0, 0, bindparam("p_lease_seconds", type_=Float))
    sends = ~customer_suppressed()

    def unless_suppressed(value: ColumnElement[Any], suppressed: ColumnElement[Any]) -> Case[Any]:
        return case((sends, value), else_=suppressed)

    moved = (
        update(message)
        .where(
            message.c.id.in_(due),
            restaurant.c.id == message.c.restaurant_id,
            customer.c.id == message.c.customer_id,
        )
        .values(
            status=unless_suppressed(_target(CLAIM), _target(SUPPRESS)),
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
            message.c.body,
            # the sender's credentials with the claim, in the same statement
            restaurant.c.whatsapp[WHATSAPP_PHONE_NUMBER_ID].astext.label("phone_number_id"),
            restaurant.c.whatsapp[WHATSAPP_ACCESS_TOKEN].astext.label("access_token"),
        )
        .cte("moved")
    )
    suppressed = moved.c.status == SUPPRESS.target.value
    detail = case((suppressed, literal(SUPPRESSED, Text)), else_=null())
    return select(moved).add_cte(log_moves(moved, moved.c.status, detail=detail).cte("logged"))


# --- the holder's record of a send ------------------------------------------------------------


def held_move_statement(move: Transition, *also: ColumnElement[bool], **values: Any) -> Insert:
    """Move a held message (matched by id, ``move``'s sources and its lease token) and log it.

    With ``p_call_id`` set, the move also writes the call's outcome (``p_outcome``): the outcome
    the request that sent the message inline replies. A move that matches nothing (a lost
    lease) writes no outcome either.
    """
    moved, replied = _held_move(move, also, values)
    detail = bindparam("p_detail", type_=Text)
    return log_moves(moved, move.target.value, detail=detail).add_cte(replied)


def _held_move(
    move: Transition, also: Sequence[ColumnElement[bool]], values: dict[str, Any]
) -> tuple[CTE, CTE]:
    moved = (
        update(message)
        .where(
            message.c.id == bindparam("p_id"),
            # the row is named by its id: the status is only a guard. Written through coalesce
            # (status is NOT NULL: same meaning) so no partial index's predicate can be proven
            # from it: with statistics, "status = 'sending'" let the planner scan every message
            # being sent through ix_message_lease instead of reading one row by primary key
            leaving(move, func.coalesce(message.c.status, literal_column("''"))),
            message.c.lease_token == bindparam("p_token", type_=UUID(as_uuid=True)),
            *also,
        )
        .values(
            status=move.target.value,
            lease_token=None,
            lease_expires_at=None,
            updated_at=func.now(),
            **values,
        )
        .returning(message.c.id, message.c.attempts)
        .cte("moved")
    )
    # the request replies p_outcome when its move is written, else QUEUED (a lost lease); the
    # call was stored SENT by the decision, so a SENT reply writes nothing to the call row
    replied_outcome = case(
        (select(moved.c.id).exists(), bindparam("p_outcome", type_=Text)),
        else_=literal(Outcome.QUEUED.value, Text),
    )
    replied = (
        update(call)
        .where(
            call.c.id == bindparam("p_call_id", type_=BigInteger),
            call.c.outcome.is_distinct_from(replied_outcome),
        )
        .values(outcome=replied_outcome, updated_at=func.now())
        .cte("replied")
    )
    return moved, replied


def record_sends_statement() -> Select[Any]:
    """The holders' record of their sends (``SqlOutbox.mark_sent``), any number in one statement:
    ``ringback_record_sends`` (migrations 0011, 0012) takes every send's receipt lock in the
    arrays' order, then moves each message by ``MARK_SENT`` under its lease, writes the outcome a
    waiting request replies when it is not the ``SENT`` its call's decision stored, writes the
    move's event, and looks for receipts kept for its provider id after the lock. The parameters
    are arrays, one element per send: ``p_ids``, ``p_tokens`` (the leases), ``p_provider_ids``,
    ``p_phone_number_ids``, ``p_call_ids`` and ``p_outcomes`` (NULL for a send no request waits
    for), ``p_lock_keys``. One row per send: ``id``, ``moved`` (false: the lease was lost,
    nothing was written but a waiting call's ``QUEUED``), ``kept`` (receipts are kept for its
    id)."""
    (source,) = MARK_SENT.sources
    sends = func.ringback_record_sends(
        bindparam("p_ids", type_=ARRAY(BigInteger)),
        bindparam("p_tokens", type_=ARRAY(UUID(as_uuid=True))),
        bindparam("p_provider_ids", type_=ARRAY(Text)),
        bindparam("p_phone_number_ids", type_=ARRAY(Text)),
        bindparam("p_call_ids", type_=ARRAY(BigInteger)),
        bindparam("p_outcomes", type_=ARRAY(Text)),
        bindparam("p_lock_keys", type_=ARRAY(Text)),
        literal(source.value, Text),
        _target(MARK_SENT),
        literal(Outcome.QUEUED.value, Text),
        # what the decision stored for the call of an inline send (RelayService._with_lease): a
        # reply that is that outcome leaves the call row alone, without a statement (0012)
        literal(Outcome.SENT.value, Text),
    ).table_valued(column("id", BigInteger), column("moved", Boolean), column("kept", Boolean))
    return select(sends.c.id, sends.c.moved, sends.c.kept)


# --- the moves other slices make inside their own statements --------------------------------


def enqueue(
    call_id: ColumnElement[int],
    origin: FromClause,
    *where: ColumnElement[bool],
    customer_id: ColumnElement[int] | None = None,
) -> tuple[CTE, CTE]:
    """The message of a decided call with its first timeline events, for the relay's decision
    statement: returns the CTE of the new message (``id``) and that of its events, which the
    decision statement must add (``add_cte``) for them to be written.

    Each row of ``origin`` that ``where`` keeps writes one message; its values are the
    parameters of ``enqueue_params``, but for ``customer_id`` when the statement gives it (a
    customer it creates itself). A message the request sends inline is written already
    leased (the claim at birth): its timeline shows ``queued`` then ``sending``.
    """
    values = (
        select(
            bindparam("m_restaurant_id", type_=BigInteger),
            call_id,
            customer_id
            if customer_id is not None
            else bindparam("m_customer_id", type_=BigInteger),
            bindparam("m_to", type_=Text),
            bindparam("m_template_type", type_=Text),
            bindparam("m_template_name", type_=Text),
            bindparam("m_template_language", type_=Text),
            bindparam("m_parameters", type_=JSONB),
            bindparam("m_status", type_=Text),
            bindparam("m_attempts", type_=Integer),
            bindparam("m_due_at", type_=_TS),
            bindparam("m_lease_token", type_=UUID(as_uuid=True)),
            bindparam("m_lease_expires_at", type_=_TS),
        )
        .select_from(origin)
        .where(*where)
    )
    created = (
        insert(message)
        .from_select(
            [
                "restaurant_id", "call_id", "customer_id", "to_phone_number", "template_type",
                "template_name", "template_language", "parameters", "status", "attempts",
                "next_attempt_at", "lease_token", "lease_expires_at",
            ],
            values,
        )
        .returning(message.c.id, message.c.status, message.c.attempts)
        .cte("created")
    )  # fmt: skip
    return created, _first_events(created)


def _first_events(created: CTE) -> CTE:
    """A new message's timeline: ``queued``, then ``sending`` when it was written leased."""
    return (
        insert(message_event)
        .from_select(
            ["message_id", "status", "attempt"],
            union_all(
                select(created.c.id, _target(ENQUEUE), literal(0)),
                select(created.c.id, created.c.status, created.c.attempts).where(
                    created.c.status == CLAIM.target.value
                ),
            ),
        )
        .cte("logged")
    )


def enqueue_params(new: NewMessage) -> dict[str, Any]:
    """The parameters of ``enqueue`` for ``new``."""
    lease = new.inline_lease
    return {
        "m_restaurant_id": new.restaurant_id,
        "m_customer_id": new.customer_id,
        "m_to": new.to_phone_number,
        "m_template_type": new.template_type.value,
        "m_template_name": new.template.name,
        "m_template_language": new.template.language,
        "m_parameters": list(new.parameters),
        "m_status": (CLAIM.target if lease else ENQUEUE.target).value,
        "m_attempts": 1 if lease else 0,
        "m_due_at": new.due_at,
        "m_lease_token": lease.token if lease else None,
        "m_lease_expires_at": lease.expires_at if lease else None,
    }


def enqueue_text() -> tuple[CTE, CTE]:
    """A free-form text with its first timeline events (SPEC §10, a staff reply), for the
    conversations slice's reply statement: returns the CTE of the new message (``id``,
    ``status``, ``attempts``, ``created_at``) and that of its events, which the statement must
    add (``add_cte``). Its values are the parameters of ``enqueue_text_params``; a text the
    request sends inline is written already leased, as a template is (``enqueue``)."""
    created = (
        insert(message)
        .values(
            restaurant_id=bindparam("t_restaurant_id", type_=BigInteger),
            customer_id=bindparam("t_customer_id", type_=BigInteger),
            to_phone_number=bindparam("t_to", type_=Text),
            body=bindparam("t_body", type_=Text),
            status=bindparam("t_status", type_=Text),
            attempts=bindparam("t_attempts", type_=Integer),
            next_attempt_at=bindparam("t_due_at", type_=_TS),
            lease_token=bindparam("t_lease_token", type_=UUID(as_uuid=True)),
            lease_expires_at=bindparam("t_lease_expires_at", type_=_TS),
        )
        .returning(message.c.id, message.c.status, message.c.attempts, message.c.created_at)
        .cte("created")
    )
    return created, _first_events(created)


def enqueue_text_params(new: NewText) -> dict[str, Any]:
    """The parameters of ``enqueue_text`` for ``new``."""
    lease = new.inline_lease
    return {
        "t_restaurant_id": new.restaurant_id,
        "t_customer_id": new.customer_id,
        "t_to": new.to_phone_number,
        "t_body": new.body,
        "t_status": (CLAIM.target if lease else ENQUEUE.target).value,
        "t_attempts": 1 if lease else 0,
        "t_due_at": new.due_at,
        "t_lease_token": lease.token if lease else None,
        "t_lease_expires_at": lease.expires_at if lease else None,
    }


def cancel_queued(restaurant_id: ColumnElement[int], customer_id: ColumnElement[int]) -> Insert:
    """Cancel the customer's queued templates, logging each move (SPEC §3, answered calls); the
    row count of the statement is the messages cancelled. A staff reply waiting for a retry is
    not a missed-call text: the answered call leaves it to go."""
    cancelled = (
        update(message)
        .where(
            message.c.restaurant_id == restaurant_id,
            message.c.customer_id == customer_id,
            leaving(CANCEL),
            message.c.body.is_(None),  # a template: a text has a body
        )
        .values(status=CANCEL.target.value, updated_at=func.now())
        .returning(message.c.id, message.c.attempts)
        .cte("cancelled")
    )
    return log_moves(cancelled, CANCEL.target.value, detail=ANSWERED)


def requeue_failed(
    restaurant_id: int, message_id: int, *returning: ColumnElement[Any]
) -> Select[Any]:
    """The ops retry: ``failed`` → ``queued``, due now, attempts from zero, with its timeline
    event; never for a customer suppressed now (SPEC §3). Selects ``returning`` of the message
    moved, nothing when it did not move."""
    now = func.now()
    moved = (
        update(message)
        .where(
            message.c.id == message_id,
            message.c.restaurant_id == restaurant_id,
            leaving(OPS_RETRY),
            customer.c.id == message.c.customer_id,
            ~customer_suppressed(),
        )
        .values(
            status=OPS_RETRY.target.value,
            attempts=0,
            next_attempt_at=now,
            lease_token=None,
            lease_expires_at=None,
            updated_at=now,
        )
        .returning(message.c.id, message.c.attempts, *returning)
        .cte("moved")
    )
    target = OPS_RETRY.target.value
    logged = log_moves(moved, target, attempt=0, detail=OPS_RETRY_DETAIL).cte("logged")
    return select(moved).add_cte(logged)


# --- receipts ---------------------------------------------------------------------------------


async def apply_receipts(
    conn: AsyncConnection, known: KnownMessage, receipts: Sequence[Receipt]
) -> list[MessageStatus]:
    """Move ``known`` by the forward ones of ``receipts`` (``settle``), each move from the status
    the previous one left and with its event; returns the statuses it moved into."""
    moved: list[MessageStatus] = []
    current = known.status
    for step in settle(known.status, receipts):
        values: dict[str, object] = {"status": step.status.value, "updated_at": func.now()}
        if step.error is not None:
            values["last_error"] = step.error
        changed = (
            update(message)
            .where(
                message.c.id == known.id,
                message.c.status == current.value,
                leaving(RECEIPT_MOVES[step.status]),
            )
            .values(**values)
            .returning(message.c.id, message.c.attempts)
            .cte("changed")
        )
        detail = step.error or RECEIPT_DETAIL
        logged = await conn.execute(log_moves(changed, step.status.value, detail=detail))
        if not logged.rowcount:
            break
        moved.append(step.status)
        current = step.status
    return moved
