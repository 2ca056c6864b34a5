"""The relay's statements, built once: SQLAlchemy reuses their compiled form (bench/).

A missed report is decided in at most two statements inside one transaction
(docs/PERFORMANCE.md):

1. ``MATCH_CALLER`` (a valid number only) matches or creates the customer, finds their
   reservation and takes the caller's decision lock;
2. ``DECIDE_CALL`` / ``DECIDE_CALL_AND_ENQUEUE`` checks the cooldown, then writes the call row
   with its decision (claimed once per key by the upsert) and the message with its first events:
   the call row is written once, not inserted and then updated (every write of it maintains
   eleven indexes).

The cooldown check must see every decision committed before the lock was granted; in READ
COMMITTED a statement sees what was committed when it *began*, so the check belongs to the second
statement, never to the one that takes the lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Select,
    SmallInteger,
    Text,
    bindparam,
    case,
    exists,
    func,
    literal,
    null,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.dml import Insert, ReturningInsert

from ringback.db.driver import DriverStatement
from ringback.db.locks import xact_lock
from ringback.db.tables import (
    call,
    customer,
    customer_suppressed,
    message,
    reservation,
)
from ringback.messages import queries as outbox
from ringback.messages.states import MessageStatus
from ringback.relay.model import ACTIVE_RESERVATION_STATUSES, Disposition, Outcome

_TS = DateTime(timezone=True)
# Literal lists, not an expanding IN: those are re-rendered on every execution.
_ACTIVE = [literal(status, Text) for status in sorted(ACTIVE_RESERVATION_STATUSES)]
_SPENT = [literal(s.value, Text) for s in (MessageStatus.FAILED, MessageStatus.CANCELLED)]
_CALL_COLUMNS = (
    call.c.id,
    call.c.caller_phone_number,
    call.c.decision_token,
    call.c.outcome,
    call.c.customer_id,
    call.c.reservation_id,
    call.c.template_type,
    call.c.created_at,
    call.c.answered_at,
)


def _on_conflict_keep_decision(
    new: PgInsert, *decision_columns: str, also: dict[str, Any] | None = None
) -> PgInsert:
    """Later notifications of a ``(restaurant, source, external_id)`` update its row; the decision
    and ``decision_columns`` only while the call is open — never decided and never answered (a
    late or out-of-order report of an answered call does not decide it).

    The call's time is replaced only by a surer one (``TimeRank``: a higher rank, or the same
    rank while the call is open), so it ends up the time SPEC §3 names whatever the order of the
    notifications (a Telnyx hangup's ``start_time`` over ``call.initiated``'s time, over an
    answer's); never once decided, so the row keeps the time the decision used."""
    open_call = call.c.decision_token.is_(None) & call.c.answered_at.is_(None)
    new_rank, rank = new.excluded.occurred_at_rank, call.c.occurred_at_rank
    surer_time = call.c.decision_token.is_(None) & (
        (new_rank > rank) | ((new_rank == rank) & call.c.answered_at.is_(None))
    )
    gated = ("disposition", "decision_token", "decided_at", *decision_columns)
    return new.on_conflict_do_update(
        index_elements=[call.c.restaurant_id, call.c.source, call.c.external_id],
        set_={
            "updated_at": func.now(),
            "direction": case(
                (call.c.decision_token.is_(None), new.excluded.direction), else_=call.c.direction
            ),
            "answered_at": func.coalesce(call.c.answered_at, new.excluded.answered_at),
            "details": call.c.details.op("||")(new.excluded.details),
            **{c: case((open_call, new.excluded[c]), else_=call.c[c]) for c in gated},
            **{
                c: case((surer_time, new.excluded[c]), else_=call.c[c])
                for c in ("occurred_at", "occurred_at_rank")
            },
            **(also or {}),
        },
    )


def _record_call_statement() -> ReturningInsert[Any]:
    new = pg_insert(call).values(
        restaurant_id=bindparam("p_restaurant_id", type_=BigInteger),
        source=bindparam("p_source"),
        external_id=bindparam("p_external_id"),
        direction=bindparam("p_direction"),
        disposition=bindparam("p_disposition"),
        caller_raw=bindparam("p_caller_raw"),
        caller_phone_number=bindparam("p_caller_phone_number"),
        occurred_at=bindparam("p_occurred_at", type_=_TS),
        occurred_at_rank=bindparam("p_occurred_at_rank", type_=SmallInteger),
        details=bindparam("p_details", type_=JSONB),
        answered_at=bindparam("p_answered_at", type_=_TS),
        customer_id=bindparam("p_customer_id", type_=BigInteger),
    )
    # the caller's customer, matched before the row is written: a call keeps the first it got
    linked = {"customer_id": func.coalesce(call.c.customer_id, new.excluded.customer_id)}
    return _on_conflict_keep_decision(new, also=linked).returning(*_CALL_COLUMNS)


def _customer_statement() -> ReturningInsert[Any]:
    new = pg_insert(customer).values(
        restaurant_id=bindparam("p_restaurant_id", type_=BigInteger),
        phone_number=bindparam("p_phone_number", type_=Text),
    )
    return new.on_conflict_do_update(
        index_elements=[customer.c.restaurant_id, customer.c.phone_number],
        set_={"phone_number": new.excluded.phone_number},
    ).returning(
        customer.c.id,
        customer.c.name,
        customer_suppressed().label("suppressed"),
    )


def _match_caller_statement() -> Select[Any]:
    """The caller's customer (matched or created), their reservation and decision lock."""
    matched = _customer_statement().cte("matched")
    booked = (
        select(reservation.c.id, reservation.c.start_at, reservation.c.party_size)
        .where(
            reservation.c.customer_id == matched.c.id,
            reservation.c.status.in_(_ACTIVE),
            reservation.c.start_at.between(
                bindparam("c_reservations_from", type_=_TS),
                bindparam("c_reservations_until", type_=_TS),
            ),
        )
        .order_by(reservation.c.start_at, reservation.c.id)
        .limit(1)
        .cte("booked")
    )
    locked = (
        select(xact_lock(bindparam("c_lock_key", type_=Text)).label("held"))
        .select_from(matched)
        .where(bindparam("c_lock", type_=Boolean))
        .cte("locked")
    )
    # The rest of the transaction (DECIDE_CALL) runs on a generic plan: its parameters only
    # pick rows by index, and planning it afresh on every execution, as PostgreSQL otherwise
    # does, cost more server CPU than executing it (bench/). Ops queries keep custom plans.
    tuned = select(
        func.set_config("plan_cache_mode", "force_generic_plan", true()).label("mode")
    ).cte("tuned")
    return (
        select(
            matched.c.id,
            matched.c.name,
            matched.c.suppressed,
            booked.c.id.label("reservation_id"),
            booked.c.start_at,
            booked.c.party_size,
            select(func.count()).select_from(locked).scalar_subquery().label("locks"),
            select(tuned.c.mode).scalar_subquery().label("plan_cache_mode"),
        )
        .select_from(matched)
        .outerjoin(booked, true())
    )


def _decide_call_statement(*, enqueue: bool) -> Select[Any]:
    """Check the cooldown, then write the call row with its decision and, with ``enqueue``, the
    message and its first timeline events: the call row is written once.

    The row of ``(restaurant, source, external_id)`` may exist (a replay, a CCAI call, a Zoho
    ``ringing``): the decision is written only if it is still open, as in ``RECORD_CALL``. The
    cooldown parameters are null when the verdict never reached rule 9: nothing matches then.
    The call itself has no message yet, so the window needs no self-exclusion.

    A message sent inline is written already leased: that is its claim (SPEC §3, suppression at
    send time). It needs no check of its own: ``MATCH_CALLER``'s upsert holds the customer's row
    lock until this transaction commits, so every opt-out or bad-actor flag (all of them write
    that row) either committed before rule 8 read it or waits until the lease is taken.
    """
    phone = bindparam("k_phone_number", type_=Text)
    # The window is written as row comparisons on (caller_phone_number, occurred_at), not as
    # plain bounds on occurred_at: only an index whose columns run restaurant_id,
    # caller_phone_number, occurred_at can take them as bounds. This statement runs on a generic
    # plan, made once per connection and kept; with bare bounds, a plan made while the table is
    # small or has no statistics costs ix_call_ops_time (restaurant_id, occurred_at, id) the same
    # and may pick it, and then reads every call of the restaurant in the window, filtering the
    # number row by row: O(calls) per report for the connection's lifetime (issue 15). Now
    # ix_call_ops_time can only use restaurant_id, so the phone index's bounds are a strict
    # superset of any other index's and it wins whatever the statistics say: the probe reads
    # the caller's own calls in the window and nothing else (tests/relay/test_plans.py).
    in_window = (
        tuple_(call.c.caller_phone_number, call.c.occurred_at)
        > tuple_(phone, bindparam("k_earliest", type_=_TS))
    ) & (
        tuple_(call.c.caller_phone_number, call.c.occurred_at)
        < tuple_(phone, bindparam("k_latest", type_=_TS))
    )
    window = (
        select(literal(1))
        .select_from(call.join(message, message.c.call_id == call.c.id))
        .where(
            call.c.restaurant_id == bindparam("k_restaurant_id", type_=BigInteger),
            call.c.caller_phone_number == phone,
            in_window,
            message.c.status.not_in(_SPENT),
        )
        .limit(1)
    )
    cooling = select(exists(window).label("hit")).cte("cooling")
    hit = cooling.c.hit
    token = bindparam("p_decision_token", type_=UUID(as_uuid=True))
    values = select(
        bindparam("p_restaurant_id", type_=BigInteger),
        bindparam("p_source", type_=Text),
        bindparam("p_external_id", type_=Text),
        bindparam("p_direction", type_=Text),
        bindparam("p_disposition", type_=Text),
        bindparam("p_caller_raw", type_=Text),
        bindparam("p_caller_phone_number", type_=Text),
        bindparam("p_occurred_at", type_=_TS),
        bindparam("p_occurred_at_rank", type_=SmallInteger),
        bindparam("p_details", type_=JSONB),
        token,
        bindparam("p_decided_at", type_=_TS),
        case(
            (hit, literal(Outcome.SKIPPED_COOLDOWN.value, Text)),
            else_=bindparam("p_outcome", type_=Text),
        ),
        bindparam("p_customer_id", type_=BigInteger),
        bindparam("p_reservation_id", type_=BigInteger),
        case((hit, null()), else_=bindparam("p_template_type", type_=Text)),
    ).select_from(cooling)
    new = pg_insert(call).from_select(
        [
            "restaurant_id", "source", "external_id", "direction", "disposition", "caller_raw",
            "caller_phone_number", "occurred_at", "occurred_at_rank", "details", "decision_token",
            "decided_at", "outcome", "customer_id", "reservation_id", "template_type",
        ],
        values,
    )  # fmt: skip
    recorded = (
        _on_conflict_keep_decision(
            new,
            "caller_phone_number",
            "outcome",
            "customer_id",
            "reservation_id",
            "template_type",
        )
        .returning(*_CALL_COLUMNS)
        .cte("recorded")
    )
    claimed = recorded.c.decision_token == token
    columns = (*recorded.c, (claimed & hit).label("hit"))
    if not enqueue:
        return select(*columns, null().label("message_id")).select_from(
            recorded.join(cooling, true())
        )
    created, logged = outbox.enqueue(
        recorded.c.id, recorded.join(cooling, true()), claimed, hit.is_(False)
    )
    return (
        select(*columns, created.c.id.label("message_id"))
        .select_from(recorded.join(cooling, true()).outerjoin(created, true()))
        .add_cte(logged)
    )


def _mark_answered_statement() -> Insert:
    """An answered call cancels its customer's queued messages (logging each move) and marks
    their missed calls of the recovery window recovered: one statement, as PostgreSQL runs a
    data-modifying CTE whether or not it is read. Its row count is the messages cancelled."""
    restaurant_id = bindparam("p_restaurant_id", type_=BigInteger)
    customer_id = bindparam("p_customer_id", type_=BigInteger)
    answered_at = bindparam("p_answered_at", type_=_TS)
    recovered = (
        update(call)
        .where(
            call.c.restaurant_id == restaurant_id,
            call.c.customer_id == customer_id,
            call.c.disposition == Disposition.MISSED.value,
            call.c.occurred_at >= bindparam("p_since", type_=_TS),
            call.c.occurred_at < answered_at,
            call.c.recovered_at.is_(None),
        )
        .values(recovered_at=answered_at, updated_at=func.now())
        .returning(call.c.id)
        .cte("recovered")
    )
    return outbox.cancel_queued(restaurant_id, customer_id).add_cte(recovered)


RECORD_CALL = DriverStatement(_record_call_statement())
MATCH_OR_CREATE_CUSTOMER = _customer_statement()
CUSTOMER = DriverStatement(MATCH_OR_CREATE_CUSTOMER)
MATCH_CALLER = DriverStatement(_match_caller_statement())
DECIDE_CALL = DriverStatement(_decide_call_statement(enqueue=False))
DECIDE_CALL_AND_ENQUEUE = DriverStatement(_decide_call_statement(enqueue=True))
MARK_ANSWERED = DriverStatement(_mark_answered_statement())
