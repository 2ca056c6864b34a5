"""The relay's statements, built once: SQLAlchemy reuses their compiled form (bench/).

A missed report is decided on one autocommit connection (issue 15: no BEGIN, no COMMIT, no
transaction held between round trips; docs/PERFORMANCE.md), most often in one statement:

1. ``DECIDE_FIRST`` / ``DECIDE_FIRST_AND_ENQUEUE`` when the verdict made for a caller with no
   reservation of the window reaches rule 9 (``RelayService._decide_missed``): it finds the
   caller's customer (creates it when there is none) and checks that the caller has no such
   reservation, then decides as 3. below. A caller who has one gets nothing written and their
   facts back, and the verdict is made again on them (3.);
2. ``MATCH_CALLER`` (any other verdict of a valid number: it keeps the match's customer and
   reservation on the call) reads the customer and their reservation. It writes nothing, so its
   autocommit costs no WAL flush;
3. ``DECIDE_CALL`` / ``DECIDE_CALL_AND_ENQUEUE`` creates the customer if the match found none,
   takes the caller's lock and checks rules 8 and 9 again on a fresh snapshot
   (``ringback_caller_check``, migration 0009), then writes the call row with its decision (claimed
   once per key by the upsert) and the message with its first events: the call row is written
   once, not inserted and then updated (every write of it maintains its indexes). One commit per
   decision, as the same-work floor's.

The cooldown check must see every decision committed before the lock was granted; in READ
COMMITTED a statement sees what was committed when it *began*, so the check runs in the function,
whose queries each take a new snapshot after the lock. A door that must commit its own write with
the decision (a CCAI move) runs the same statements inside its transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
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
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.dml import Insert, ReturningInsert
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.selectable import CTE

from ringback.db.driver import DriverStatement
from ringback.db.locks import xact_lock
from ringback.db.tables import (
    call,
    customer,
    customer_suppressed,
    reservation,
)
from ringback.messages import queries as outbox
from ringback.messages.states import MessageStatus
from ringback.relay.model import ACTIVE_RESERVATION_STATUSES, Disposition, Outcome

_TS = DateTime(timezone=True)
# Literal lists, not an expanding IN: those are re-rendered on every execution.
_ACTIVE = [literal(status, Text) for status in sorted(ACTIVE_RESERVATION_STATUSES)]
_SPENT = [literal(s.value, Text) for s in (MessageStatus.FAILED, MessageStatus.CANCELLED)]
# what ``ringback_caller_check`` found (migration 0009)
CLEAR, COOLED, SUPPRESSED = "clear", "cooled", "suppressed"
BOOKED = "booked"  # a first decision found the caller booked: nothing written (``first``)
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


def _customer_of(
    restaurant_id: BindParameter[int], phone_number: BindParameter[str]
) -> Select[Any]:
    """The customer of a number, with whether rule 8 bars them (``suppressed``)."""
    return select(customer.c.id, customer.c.name, customer_suppressed().label("suppressed")).where(
        customer.c.restaurant_id == restaurant_id, customer.c.phone_number == phone_number
    )


def _reservation_of(customer_id: ColumnElement[int]) -> Select[Any]:
    """The customer's first active reservation of the window around the call (SPEC §3)."""
    return (
        select(reservation.c.id, reservation.c.start_at, reservation.c.party_size)
        .where(
            reservation.c.customer_id == customer_id,
            reservation.c.status.in_(_ACTIVE),
            reservation.c.start_at.between(
                bindparam("c_reservations_from", type_=_TS),
                bindparam("c_reservations_until", type_=_TS),
            ),
        )
        .order_by(reservation.c.start_at, reservation.c.id)
        .limit(1)
    )


def _match_caller_statement() -> Select[Any]:
    """The caller's customer and their reservation, read only: no row version, no WAL, no lock,
    and its autocommit costs no flush. No row for a number that is not a customer yet: the
    decision statement creates the customer (``k_new_customer_phone``)."""
    matched = _customer_of(
        bindparam("p_restaurant_id", type_=BigInteger), bindparam("p_phone_number", type_=Text)
    ).cte("matched")
    booked = _reservation_of(matched.c.id).cte("booked")
    return select(*_facts(matched, booked)).select_from(matched).outerjoin(booked, true())


def _facts(found: CTE, booked: CTE) -> tuple[ColumnElement[Any], ...]:
    """The caller's facts as ``queries._caller_facts`` reads them, from ``_customer_of`` and
    ``_reservation_of``."""
    return (
        found.c.id.label("caller_customer_id"),
        found.c.name.label("caller_name"),
        found.c.suppressed.label("caller_suppressed"),
        booked.c.id.label("caller_reservation_id"),
        booked.c.start_at.label("caller_reservation_start_at"),
        booked.c.party_size.label("caller_party_size"),
    )


def _decide_call_statement(*, enqueue: bool, first: bool = False) -> Select[Any]:
    """Check the cooldown, then write the call row with its decision and, with ``enqueue``, the
    message and its first timeline events: the call row is written once.

    ``first``: the decision of a report whose caller was not matched first (``decide_first``):
    the verdict assumed a caller with no reservation of the window. The statement finds the
    caller's customer itself (creates it when there is none) and checks that assumption: when
    the customer has a reservation of the window it writes nothing and returns the customer and
    that reservation (``checked`` is ``booked``), for the verdict to be made again on them.

    The row of ``(restaurant, source, external_id)`` may exist (a replay, a CCAI call, a Zoho
    ``ringing``): the decision is written only if it is still open, as in ``RECORD_CALL``, and a
    row already decided keeps every column (a replay changes nothing it stored). The cooldown
    parameters are null when the verdict never reached rule 9: no lock, no check then. The call
    itself has no message yet, so the window needs no self-exclusion.

    A message sent inline is written already leased: that is its claim (SPEC §3, suppression at
    send time). It needs no check of its own: ``ringback_caller_check`` reads the customer's row
    ``FOR SHARE`` and holds that lock until the statement commits, so every opt-out or bad-actor
    flag (all of them write that row) either committed before rule 8 read it or waits until the
    lease is taken.
    """
    # a caller who is not a customer yet becomes one here, in the decision's own transaction
    # (the match only reads); one created meanwhile by another report is taken as it is. The
    # caller's lock is taken first: every report of a caller takes its lock, then the customer's
    # row, in that order (the other order deadlocks with a report of a known customer, whose
    # check reads the row FOR SHARE under the lock)
    restaurant_id = bindparam("p_restaurant_id", type_=BigInteger)
    new_phone = bindparam("k_new_customer_phone", type_=Text)
    lock_key = bindparam("k_lock_key", type_=Text)
    locked = select(
        case((lock_key.is_(None), true()), else_=xact_lock(lock_key)).label("held")
    ).cte("locked")
    # a first decision's own reads (rendered only where ``first`` uses them)
    found = _customer_of(restaurant_id, new_phone).cte("found")
    found_id = select(found.c.id).scalar_subquery()
    booked = _reservation_of(found_id).cte("booked")
    unknown = ~exists(select(found.c.id)) if first else true()
    made = pg_insert(customer).from_select(
        ["restaurant_id", "phone_number"],
        select(restaurant_id, new_phone).select_from(locked).where(new_phone.is_not(None), unknown),
    )
    made_cte = (
        made.on_conflict_do_update(
            index_elements=[customer.c.restaurant_id, customer.c.phone_number],
            set_={"phone_number": made.excluded.phone_number},
        )
        .returning(customer.c.id)
        .cte("made")
    )
    customer_id = func.coalesce(
        bindparam("p_customer_id", type_=BigInteger),
        *([found_id] if first else []),
        select(made_cte.c.id).scalar_subquery(),
    )
    # rules 8 and 9 under the caller's lock, on a snapshot taken after it (migration 0009);
    # only for a verdict that passed rule 8 (its cooldown parameters are set), else "clear"
    check = case(
        *([(exists(select(booked.c.id)), literal(BOOKED, Text))] if first else []),
        (lock_key.is_(None), literal(CLEAR, Text)),
        else_=func.ringback_caller_check(
            lock_key,
            bindparam("k_restaurant_id", type_=BigInteger),
            customer_id,
            bindparam("k_phone_number", type_=Text),
            bindparam("k_earliest", type_=_TS),
            bindparam("k_latest", type_=_TS),
            type_=Text,
        ),
    )
    cooling = select(check.label("checked")).cte("cooling")
    hit = cooling.c.checked == literal(COOLED, Text)
    barred = cooling.c.checked == literal(SUPPRESSED, Text)
    clear = cooling.c.checked == literal(CLEAR, Text)
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
            (barred, literal(Outcome.SKIPPED_SUPPRESSED.value, Text)),
            (hit, literal(Outcome.SKIPPED_COOLDOWN.value, Text)),
            else_=bindparam("p_outcome", type_=Text),
        ),
        customer_id,
        bindparam("p_reservation_id", type_=BigInteger),
        case((clear, bindparam("p_template_type", type_=Text)), else_=null()),
    ).select_from(cooling)
    if first:
        values = values.where(cooling.c.checked != literal(BOOKED, Text))
    new = pg_insert(call).from_select(
        [
            "restaurant_id", "source", "external_id", "direction", "disposition", "caller_raw",
            "caller_phone_number", "occurred_at", "occurred_at_rank", "details", "decision_token",
            "decided_at", "outcome", "customer_id", "reservation_id", "template_type",
        ],
        values,
    )  # fmt: skip
    undecided = call.c.decision_token.is_(None)
    recorded = (
        _on_conflict_keep_decision(
            new,
            "caller_phone_number",
            "outcome",
            "customer_id",
            "reservation_id",
            "template_type",
            also={
                "updated_at": case((undecided, func.now()), else_=call.c.updated_at),
                "details": case(
                    (undecided, call.c.details.op("||")(new.excluded.details)),
                    else_=call.c.details,
                ),
            },
        )
        .returning(*_CALL_COLUMNS)
        .cte("recorded")
    )
    claimed = recorded.c.decision_token == token
    columns = (*recorded.c, cooling.c.checked)
    if not enqueue:
        return (
            select(*columns, null().label("message_id"))
            .select_from(recorded.join(cooling, true()))
            .add_cte(made_cte)
        )
    created, logged = outbox.enqueue(
        recorded.c.id, recorded.join(cooling, true()), claimed, clear, customer_id=customer_id
    )
    if not first:
        return (
            select(*columns, created.c.id.label("message_id"))
            .select_from(recorded.join(cooling, true()).outerjoin(created, true()))
            .add_cte(logged, made_cte)
        )
    # one row whatever was written: the call as stored, or nothing and the caller's booking
    return (
        select(*columns, created.c.id.label("message_id"), *_facts(found, booked))
        .select_from(
            cooling.outerjoin(recorded, true())
            .outerjoin(created, true())
            .outerjoin(found, true())
            .outerjoin(booked, true())
        )
        .add_cte(logged, made_cte)
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
# a call whose inline send is replied QUEUED with no move carrying the reply
STORE_QUEUED = DriverStatement(
    outbox.unreplied_calls(call.c.id == bindparam("p_call_id", type_=BigInteger))
)
MATCH_OR_CREATE_CUSTOMER = _customer_statement()
CUSTOMER = DriverStatement(MATCH_OR_CREATE_CUSTOMER)
MATCH_CALLER = DriverStatement(_match_caller_statement())
DECIDE_CALL = DriverStatement(_decide_call_statement(enqueue=False))
DECIDE_CALL_AND_ENQUEUE = DriverStatement(_decide_call_statement(enqueue=True))
DECIDE_FIRST = DriverStatement(_decide_call_statement(enqueue=False, first=True))
DECIDE_FIRST_AND_ENQUEUE = DriverStatement(_decide_call_statement(enqueue=True, first=True))
MARK_ANSWERED = DriverStatement(_mark_answered_statement())
