"""The relay's reads and writes, inside the use case's ``Tx``: the statements of
``statements.py`` with their parameters, and their rows read as the relay's values."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import func, update

from ringback.db.driver import Conn
from ringback.db.tables import call
from ringback.db.tx import Tx
from ringback.messages import queries as outbox
from ringback.relay import rules
from ringback.relay.model import (
    CallerFacts,
    CallEvent,
    Claim,
    Decision,
    Disposition,
    Outcome,
    TemplateType,
    Verdict,
)
from ringback.relay.statements import (
    BOOKED,
    CLEAR,
    COOLED,
    CUSTOMER,
    DECIDE_CALL,
    DECIDE_CALL_AND_ENQUEUE,
    DECIDE_FIRST,
    DECIDE_FIRST_AND_ENQUEUE,
    MARK_ANSWERED,
    MATCH_CALLER,
    RECORD_CALL,
    STORE_QUEUED,
    SUPPRESSED,
)

_FOUND = {CLEAR: Claim.WON, COOLED: Claim.COOLED, SUPPRESSED: Claim.SUPPRESSED}


def _call_params(
    restaurant_id: int, event: CallEvent, caller_phone_number: str, claim: uuid.UUID | None
) -> dict[str, Any]:
    answered = event.disposition is Disposition.ANSWERED
    return {
        "p_restaurant_id": restaurant_id,
        "p_source": event.source.value,
        "p_external_id": event.external_id,
        "p_direction": event.direction.value,
        "p_disposition": event.disposition.value,
        "p_caller_raw": event.raw_number,
        "p_caller_phone_number": caller_phone_number,
        "p_occurred_at": event.occurred_at,
        "p_occurred_at_rank": int(event.time_rank),
        "p_details": event.details or {},
        "p_decision_token": claim,
        "p_decided_at": dt.datetime.now(dt.UTC) if claim else None,
        "p_answered_at": event.occurred_at if answered else None,
    }


def _decision(row: Any) -> Decision:
    """The call row as stored (``statements._CALL_COLUMNS``)."""
    return Decision(
        call_id=row["id"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        caller_phone_number=row["caller_phone_number"],
        customer_id=row["customer_id"],
        reservation_id=row["reservation_id"],
        template_type=TemplateType(row["template_type"]) if row["template_type"] else None,
        created_at=row["created_at"],
    )


def _window(occurred_at: dt.datetime) -> dict[str, dt.datetime]:
    """Where the caller's reservation is looked for (SPEC §3)."""
    return {
        "c_reservations_from": occurred_at - rules.RESERVATION_LOOKBACK,
        "c_reservations_until": occurred_at + rules.RESERVATION_LOOKAHEAD,
    }


async def match_caller(
    conn: Conn, restaurant_id: int, phone_number: str, occurred_at: dt.datetime
) -> CallerFacts:
    """The customer of ``phone_number`` and their reservation, read only; a number that is not a
    customer yet has facts without a customer (the decision statement creates it)."""
    params = {"p_restaurant_id": restaurant_id, "p_phone_number": phone_number}
    row = await MATCH_CALLER.fetchrow(conn, params | _window(occurred_at))
    if row is None:
        return CallerFacts(customer_id=None, customer_name=None, suppressed=False)
    return _caller_facts(row)


def _caller_facts(row: Any) -> CallerFacts:
    """The caller's customer and reservation as a statement returns them (``statements._facts``)."""
    return CallerFacts(
        customer_id=row["caller_customer_id"],
        customer_name=row["caller_name"],
        suppressed=bool(row["caller_suppressed"]),
        reservation_id=row["caller_reservation_id"],
        reservation_start_at=row["caller_reservation_start_at"],
        party_size=row["caller_party_size"],
    )


async def match_customer(tx: Tx, restaurant_id: int, phone_number: str) -> int:
    """The id of the customer of ``phone_number``, created if unknown."""
    params = {"p_restaurant_id": restaurant_id, "p_phone_number": phone_number}
    row = await CUSTOMER.fetch_one(tx.conn, params)
    return int(row["id"])


async def record_call(
    tx: Tx, restaurant_id: int, event: CallEvent, caller_phone_number: str, customer_id: int | None
) -> Decision:
    """Upsert the row of an answered or other notification: it claims no decision. The row
    takes ``customer_id`` unless it already has a customer."""
    params = _call_params(restaurant_id, event, caller_phone_number, None)
    params["p_customer_id"] = customer_id
    return _decision(await RECORD_CALL.fetch_one(tx.conn, params))


async def decide_call(
    conn: Conn,
    restaurant_id: int,
    event: CallEvent,
    caller_phone_number: str,
    verdict: Verdict,
    new_customer_phone: str | None = None,
) -> tuple[Decision, Claim]:
    """One statement: the caller's lock, rules 8 and 9 read again under it, the call row with
    ``verdict`` if this report claims the call's decision, and the verdict's message. Returns the
    row as stored and what the statement found (``Claim``). On an autocommit connection the
    statement is its own transaction; in a ``Tx`` its lock lasts until the commit. With
    ``new_customer_phone`` (the match found no customer) it creates the customer first, and the
    call, the message and the checks take that customer (``Decision.customer_id``).

    A message the request will send inline is written already leased to it (``sending``,
    attempt 1), so no worker can take it first; if the process dies, the lease expires and a
    worker sends it.
    """
    claim = uuid.uuid4()
    params = _decide_params(restaurant_id, event, caller_phone_number, verdict, claim)
    params["k_new_customer_phone"] = new_customer_phone
    statement = DECIDE_CALL if verdict.message is None else DECIDE_CALL_AND_ENQUEUE
    return _decided(await statement.fetch_one(conn, params), claim)


async def decide_first(
    conn: Conn,
    restaurant_id: int,
    event: CallEvent,
    caller_phone_number: str,
    phone_number: str,
    verdict: Verdict,
) -> tuple[Decision, Claim] | CallerFacts:
    """``decide_call`` with no match before it: ``verdict`` was made for a caller with no
    reservation of the window (whose customer, known or not, the statement finds or creates),
    and it must reach rule 9 (``verdict.cooldown``), which reads rule 8 again under the lock.
    That verdict is then the one the match would have given, unless the caller has a
    reservation: then the statement writes nothing and this returns the caller's facts, for the
    verdict to be made on them and decided with ``decide_call``. One round trip instead of two
    for every caller without a reservation of the window."""
    assert verdict.cooldown is not None, "only a verdict that reaches rule 9 is decided first"
    claim = uuid.uuid4()
    params = _decide_params(restaurant_id, event, caller_phone_number, verdict, claim)
    params.update(_window(event.occurred_at))
    params["k_new_customer_phone"] = phone_number
    statement = DECIDE_FIRST if verdict.message is None else DECIDE_FIRST_AND_ENQUEUE
    row = await statement.fetch_one(conn, params)
    if row["checked"] != BOOKED:
        return _decided(row, claim)
    return _caller_facts(row)


def _decide_params(
    restaurant_id: int,
    event: CallEvent,
    caller_phone_number: str,
    verdict: Verdict,
    claim: uuid.UUID,
) -> dict[str, Any]:
    params = _call_params(restaurant_id, event, caller_phone_number, claim)
    earliest, latest = verdict.cooldown or (None, None)
    params.update(
        {
            "p_outcome": verdict.outcome.value,
            "p_customer_id": verdict.customer_id,
            "p_reservation_id": verdict.reservation_id,
            "p_template_type": verdict.template_type.value if verdict.template_type else None,
            "k_lock_key": f"{restaurant_id}:{caller_phone_number}" if verdict.cooldown else None,
            "k_restaurant_id": restaurant_id,
            "k_customer_id": verdict.customer_id,
            "k_phone_number": caller_phone_number,
            "k_earliest": earliest,
            "k_latest": latest,
        }
    )
    if verdict.message is not None:
        params.update(outbox.enqueue_params(verdict.message))
    return params


def _decided(row: Any, claim: uuid.UUID) -> tuple[Decision, Claim]:
    decision = _decision(row)
    if row["decision_token"] == claim:
        found = _FOUND[row["checked"]]
        return replace(decision, message_id=row["message_id"]), found
    return decision, Claim.OPEN if row["decision_token"] is None else Claim.TAKEN


async def mark_answered(
    tx: Tx, restaurant_id: int, customer_id: int, answered_at: dt.datetime
) -> int:
    """Cancel the customer's queued messages and mark their missed calls of the recovery
    window recovered; returns how many messages were cancelled."""
    params = {
        "p_restaurant_id": restaurant_id,
        "p_customer_id": customer_id,
        "p_answered_at": answered_at,
        "p_since": answered_at - rules.RECOVERY_WINDOW,
    }
    return await MARK_ANSWERED.execute(tx.conn, params)


async def mark_recovered(tx: Tx, restaurant_id: int, call_id: int, at: dt.datetime) -> None:
    await tx.conn.execute(
        update(call)
        .where(
            call.c.id == call_id,
            call.c.restaurant_id == restaurant_id,
            call.c.recovered_at.is_(None),
        )
        .values(recovered_at=at, updated_at=func.now())
    )


async def store_queued(conn: Conn, call_id: int) -> None:
    """The call of an inline send that the request replies ``QUEUED`` (its decision stored
    ``SENT``, the outcome of a send that succeeds): one autocommit statement."""
    await STORE_QUEUED.execute(conn, {"p_call_id": call_id})
