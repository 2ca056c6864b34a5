"""SqlRelayStore: the relay's statements, on the unit of work's connection (SQLAlchemy Core)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.db.driver import DriverStatement
from ringback.db.tables import call
from ringback.messages.ports import NewMessage
from ringback.messages.states import MessageStatus
from ringback.relay.model import CallEvent, Disposition, TemplateType
from ringback.relay.ports import (
    CallerFacts,
    CallerLookup,
    CallVerdict,
    CooldownWindow,
    CustomerRecord,
    DecidedCall,
    ReservationRecord,
    StoredCall,
)
from ringback.relay.statements import (
    CUSTOMER,
    DECIDE_CALL,
    DECIDE_CALL_AND_ENQUEUE,
    MARK_ANSWERED,
    MATCH_CALLER,
    RECORD_CALL,
)


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


def _stored(row: Any, claim: uuid.UUID | None) -> StoredCall:
    return StoredCall(
        id=row["id"],
        caller_phone_number=row["caller_phone_number"],
        claimed=claim is not None and row["decision_token"] == claim,
        decided=row["decision_token"] is not None,
        customer_id=row["customer_id"],
        reservation_id=row["reservation_id"],
        template_type=TemplateType(row["template_type"]) if row["template_type"] else None,
        created_at=row["created_at"],
    )


async def _one(
    statement: DriverStatement, conn: AsyncConnection, params: dict[str, Any]
) -> asyncpg.Record:
    row = await statement.fetchrow(conn, params)
    assert row is not None, "the statement returns one row"
    return row


class SqlRelayStore:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record_call(
        self,
        restaurant_id: int,
        event: CallEvent,
        caller_phone_number: str,
        customer_id: int | None,
    ) -> StoredCall:
        """Upsert the row of ``(restaurant, source, external_id)``; it claims no decision."""
        params = _call_params(restaurant_id, event, caller_phone_number, None)
        params["p_customer_id"] = customer_id
        row = await _one(RECORD_CALL, self._conn, params)
        return _stored(row, None)

    async def match_caller(self, restaurant_id: int, caller: CallerLookup) -> CallerFacts:
        params = {
            "p_restaurant_id": restaurant_id,
            "p_phone_number": caller.phone_number,
            "c_reservations_from": caller.reservations_from,
            "c_reservations_until": caller.reservations_until,
            "c_lock": caller.lock,
            "c_lock_key": f"{restaurant_id}:{caller.phone_number}",
        }
        row = await _one(MATCH_CALLER, self._conn, params)
        return CallerFacts(
            customer=CustomerRecord(
                id=row["id"], name=row["name"], suppressed=bool(row["suppressed"])
            ),
            reservation=ReservationRecord(
                id=row["reservation_id"],
                start_at=row["start_at"],
                party_size=row["party_size"],
            )
            if row["reservation_id"] is not None
            else None,
        )

    async def match_or_create_customer(
        self, restaurant_id: int, phone_number: str
    ) -> CustomerRecord:
        params = {"p_restaurant_id": restaurant_id, "p_phone_number": phone_number}
        row = await _one(CUSTOMER, self._conn, params)
        return CustomerRecord(id=row["id"], name=row["name"], suppressed=bool(row["suppressed"]))

    async def decide_call(
        self,
        restaurant_id: int,
        event: CallEvent,
        caller_phone_number: str,
        claim_token: uuid.UUID,
        verdict: CallVerdict,
        message: NewMessage | None = None,
        cooldown: CooldownWindow | None = None,
    ) -> DecidedCall:
        """One statement: the cooldown check, the call row with its decision, the message.

        A message the request will send inline is written already leased to it (``sending``,
        attempt 1), so no worker can take it first; if the process dies, the lease expires and a
        worker sends it.
        """
        params = _call_params(restaurant_id, event, caller_phone_number, claim_token)
        params.update(
            {
                "p_outcome": verdict.outcome.value,
                "p_customer_id": verdict.customer_id,
                "p_reservation_id": verdict.reservation_id,
                "p_template_type": verdict.template_type.value if verdict.template_type else None,
                "k_restaurant_id": cooldown.restaurant_id if cooldown else None,
                "k_phone_number": cooldown.phone_number if cooldown else None,
                "k_earliest": cooldown.earliest if cooldown else None,
                "k_latest": cooldown.latest if cooldown else None,
            }
        )
        statement = DECIDE_CALL
        if message is not None:
            statement = DECIDE_CALL_AND_ENQUEUE
            lease = message.inline_lease
            params.update(
                {
                    "m_restaurant_id": message.restaurant_id,
                    "m_customer_id": message.customer_id,
                    "m_to": message.to_phone_number,
                    "m_template_type": message.template_type.value,
                    "m_template_name": message.template.name,
                    "m_template_language": message.template.language,
                    "m_parameters": list(message.parameters),
                    "m_status": (MessageStatus.SENDING if lease else MessageStatus.QUEUED).value,
                    "m_attempts": 1 if lease else 0,
                    "m_due_at": message.due_at,
                    "m_lease_token": lease.token if lease else None,
                    "m_lease_expires_at": lease.expires_at if lease else None,
                }
            )
        row = await _one(statement, self._conn, params)
        return DecidedCall(
            call=_stored(row, claim_token),
            in_cooldown=bool(row["hit"]),
            message_id=row["message_id"],
        )

    async def mark_answered(
        self, restaurant_id: int, customer_id: int, answered_at: dt.datetime, since: dt.datetime
    ) -> int:
        """Cancel the customer's queued messages and mark their recent missed calls recovered.

        Returns how many messages were cancelled.
        """
        params = {
            "p_restaurant_id": restaurant_id,
            "p_customer_id": customer_id,
            "p_answered_at": answered_at,
            "p_since": since,
        }
        return await MARK_ANSWERED.execute(self._conn, params)

    async def mark_recovered(self, restaurant_id: int, call_id: int, at: dt.datetime) -> None:
        await self._conn.execute(
            update(call)
            .where(
                call.c.id == call_id,
                call.c.restaurant_id == restaurant_id,
                call.c.recovered_at.is_(None),
            )
            .values(recovered_at=at, updated_at=func.now())
        )
