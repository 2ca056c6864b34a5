"""SqlRelayStore: the relay's statements, on the unit of work's connection (SQLAlchemy Core)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert

from ringback.adapters.outbound.db.tables import call, customer, message, message_event, reservation
from ringback.adapters.outbound.db.timeline import log_moves
from ringback.domain.model import (
    ACTIVE_RESERVATION_STATUSES,
    CallEvent,
    Disposition,
    MessageStatus,
    Outcome,
    TemplateType,
)
from ringback.domain.ports import (
    CallResolution,
    CustomerRecord,
    NewMessage,
    ReservationRecord,
    StoredCall,
)

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_ACTIVE = sorted(ACTIVE_RESERVATION_STATUSES)
_SPENT = [MessageStatus.FAILED.value, MessageStatus.CANCELLED.value]
_TS = DateTime(timezone=True)

# The hot path's statements are built once: SQLAlchemy then reuses their compiled form, which
# keeps a report's cost in the database round trips rather than in building SQL (bench/).


def _record_call_statement() -> ReturningInsert[Any]:
    new = pg_insert(call).values(
        restaurant_id=bindparam("p_restaurant_id"),
        source=bindparam("p_source"),
        external_id=bindparam("p_external_id"),
        direction=bindparam("p_direction"),
        disposition=bindparam("p_disposition"),
        caller_raw=bindparam("p_caller_raw"),
        caller_phone_number=bindparam("p_caller_phone_number"),
        occurred_at=bindparam("p_occurred_at", type_=_TS),
        details=bindparam("p_details", type_=JSONB),
        decision_token=bindparam("p_decision_token", type_=UUID(as_uuid=True)),
        decided_at=bindparam("p_decided_at", type_=_TS),
        answered_at=bindparam("p_answered_at", type_=_TS),
    )
    # A call already answered is never decided later (a late or out-of-order hangup report).
    open_call = call.c.decision_token.is_(None) & call.c.answered_at.is_(None)
    undecided = call.c.decision_token.is_(None)
    return new.on_conflict_do_update(
        index_elements=[call.c.restaurant_id, call.c.source, call.c.external_id],
        set_={
            "updated_at": func.now(),
            "disposition": case((open_call, new.excluded.disposition), else_=call.c.disposition),
            "direction": case((undecided, new.excluded.direction), else_=call.c.direction),
            "decision_token": case(
                (open_call, new.excluded.decision_token), else_=call.c.decision_token
            ),
            "decided_at": case((open_call, new.excluded.decided_at), else_=call.c.decided_at),
            "answered_at": func.coalesce(call.c.answered_at, new.excluded.answered_at),
            "details": call.c.details.op("||")(new.excluded.details),
        },
    ).returning(
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


def _customer_statement() -> ReturningInsert[Any]:
    new = pg_insert(customer).values(
        restaurant_id=bindparam("p_restaurant_id"), phone_number=bindparam("p_phone_number")
    )
    return new.on_conflict_do_update(
        index_elements=[customer.c.restaurant_id, customer.c.phone_number],
        set_={"phone_number": new.excluded.phone_number},
    ).returning(
        customer.c.id,
        customer.c.name,
        (customer.c.opted_out_at.is_not(None) | customer.c.bad_actor).label("suppressed"),
    )


_RECORD_CALL = _record_call_statement()
_CUSTOMER = _customer_statement()
_RESERVATION = (
    select(reservation.c.id, reservation.c.start_at, reservation.c.party_size)
    .where(
        reservation.c.customer_id == bindparam("p_customer_id"),
        reservation.c.status.in_(_ACTIVE),
        reservation.c.start_at.between(
            bindparam("p_earliest", type_=_TS), bindparam("p_latest", type_=_TS)
        ),
    )
    .order_by(reservation.c.start_at, reservation.c.id)
    .limit(1)
)
_COOLDOWN = (
    select(literal(1))
    .select_from(call.join(message, message.c.call_id == call.c.id))
    .where(
        call.c.restaurant_id == bindparam("p_restaurant_id"),
        call.c.caller_phone_number == bindparam("p_phone_number"),
        call.c.id != bindparam("p_call_id"),
        call.c.occurred_at > bindparam("p_earliest", type_=_TS),
        call.c.occurred_at < bindparam("p_latest", type_=_TS),
        message.c.status.not_in(_SPENT),
    )
    .limit(1)
)
_RESOLVE = (
    update(call)
    .where(call.c.id == bindparam("p_call_id"))
    .values(
        outcome=bindparam("p_outcome"),
        caller_phone_number=bindparam("p_caller_phone_number"),
        customer_id=bindparam("p_customer_id"),
        reservation_id=bindparam("p_reservation_id"),
        template_type=bindparam("p_template_type"),
        updated_at=func.now(),
    )
)


def _resolve_and_enqueue_statement() -> Select[Any]:
    """Resolve the call and write its message (and the message's first events) in one go."""
    resolved = _RESOLVE.returning(call.c.id).cte("resolved")
    created = (
        insert(message)
        .from_select(
            [
                "restaurant_id", "call_id", "customer_id", "to_phone_number", "template_type",
                "template_name", "template_language", "parameters", "status", "attempts",
                "next_attempt_at", "lease_token", "lease_expires_at",
            ],
            select(
                bindparam("m_restaurant_id", type_=BigInteger),
                resolved.c.id,
                bindparam("m_customer_id", type_=BigInteger),
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
            ).select_from(resolved),
        )
        .returning(message.c.id, message.c.status, message.c.attempts)
        .cte("created")
    )  # fmt: skip
    logged = (
        insert(message_event)
        .from_select(
            ["message_id", "status", "attempt"],
            union_all(
                select(created.c.id, literal(MessageStatus.QUEUED.value), literal(0)),
                select(created.c.id, created.c.status, created.c.attempts).where(
                    created.c.status == MessageStatus.SENDING.value
                ),
            ),
        )
        .cte("logged")
    )
    return select(created.c.id).add_cte(logged)


_RESOLVE_AND_ENQUEUE = _resolve_and_enqueue_statement()


def _resolution_params(resolution: CallResolution) -> dict[str, Any]:
    return {
        "p_call_id": resolution.call_id,
        "p_outcome": resolution.outcome.value,
        "p_caller_phone_number": resolution.caller_phone_number,
        "p_customer_id": resolution.customer_id,
        "p_reservation_id": resolution.reservation_id,
        "p_template_type": resolution.template_type.value if resolution.template_type else None,
    }


class SqlRelayStore:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record_call(
        self,
        restaurant_id: int,
        event: CallEvent,
        caller_phone_number: str,
        claim_token: uuid.UUID | None,
    ) -> StoredCall:
        """Upsert the row of ``(restaurant, source, external_id)`` and claim the decision if free.

        The conflict branch locks the row, so concurrent reports of one key queue behind the first
        and then see its committed decision: exactly one of them gets ``claimed``.
        """
        answered = event.disposition is Disposition.ANSWERED
        params = {
            "p_restaurant_id": restaurant_id,
            "p_source": event.source.value,
            "p_external_id": event.external_id,
            "p_direction": event.direction.value,
            "p_disposition": event.disposition.value,
            "p_caller_raw": event.raw_number,
            "p_caller_phone_number": caller_phone_number,
            "p_occurred_at": event.occurred_at,
            "p_details": event.details or {},
            "p_decision_token": claim_token,
            "p_decided_at": dt.datetime.now(dt.UTC) if claim_token else None,
            "p_answered_at": event.occurred_at if answered else None,
        }
        row = (await self._conn.execute(_RECORD_CALL, params)).one()
        return StoredCall(
            id=row.id,
            caller_phone_number=row.caller_phone_number,
            claimed=claim_token is not None and row.decision_token == claim_token,
            decided=row.decision_token is not None,
            answered=row.answered_at is not None,
            outcome=Outcome(row.outcome) if row.outcome else None,
            customer_id=row.customer_id,
            reservation_id=row.reservation_id,
            template_type=TemplateType(row.template_type) if row.template_type else None,
            created_at=row.created_at,
        )

    async def match_or_create_customer(
        self, restaurant_id: int, phone_number: str
    ) -> CustomerRecord:
        params = {"p_restaurant_id": restaurant_id, "p_phone_number": phone_number}
        row = (await self._conn.execute(_CUSTOMER, params)).one()
        return CustomerRecord(id=row.id, name=row.name, suppressed=bool(row.suppressed))

    async def find_reservation(
        self, customer_id: int, earliest: dt.datetime, latest: dt.datetime
    ) -> ReservationRecord | None:
        params = {"p_customer_id": customer_id, "p_earliest": earliest, "p_latest": latest}
        row = (await self._conn.execute(_RESERVATION, params)).first()
        if row is None:
            return None
        return ReservationRecord(id=row.id, start_at=row.start_at, party_size=row.party_size)

    async def lock_caller(self, restaurant_id: int, phone_number: str) -> None:
        await self._conn.execute(_LOCK, {"key": f"{restaurant_id}:{phone_number}"})

    async def in_cooldown(
        self,
        restaurant_id: int,
        phone_number: str,
        call_id: int,
        occurred_at: dt.datetime,
        hours: float,
    ) -> bool:
        """Another missed call of this number with a live message within ``hours``, either side."""
        window = dt.timedelta(hours=hours)
        params = {
            "p_restaurant_id": restaurant_id,
            "p_phone_number": phone_number,
            "p_call_id": call_id,
            "p_earliest": occurred_at - window,
            "p_latest": occurred_at + window,
        }
        return (await self._conn.execute(_COOLDOWN, params)).first() is not None

    async def resolve_call(
        self, resolution: CallResolution, message: NewMessage | None = None
    ) -> int | None:
        """Store the decision; with a message, write it too (in the same statement).

        A message the request will send inline is written already leased to it (``sending``,
        attempt 1), so no worker can take it first; if the process dies, the lease expires and a
        worker sends it.
        """
        params = _resolution_params(resolution)
        if message is None:
            await self._conn.execute(_RESOLVE, params)
            return None
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
        return int((await self._conn.execute(_RESOLVE_AND_ENQUEUE, params)).scalar_one())

    async def link_customer(self, call_id: int, customer_id: int) -> None:
        await self._conn.execute(
            update(call)
            .where(call.c.id == call_id, call.c.customer_id.is_(None))
            .values(customer_id=customer_id)
        )

    async def mark_answered(
        self, restaurant_id: int, customer_id: int, answered_at: dt.datetime, since: dt.datetime
    ) -> int:
        """Cancel the customer's queued messages and mark their recent missed calls recovered.

        Returns how many messages were cancelled.
        """
        cancelled = (
            update(message)
            .where(
                message.c.restaurant_id == restaurant_id,
                message.c.customer_id == customer_id,
                message.c.status == MessageStatus.QUEUED.value,
            )
            .values(status=MessageStatus.CANCELLED.value, updated_at=func.now())
            .returning(message.c.id, message.c.attempts)
            .cte("cancelled")
        )
        logged = await self._conn.execute(
            log_moves(
                cancelled, MessageStatus.CANCELLED.value, detail="the customer's call was answered"
            )
        )
        await self._conn.execute(
            update(call)
            .where(
                and_(
                    call.c.restaurant_id == restaurant_id,
                    call.c.customer_id == customer_id,
                    call.c.disposition == Disposition.MISSED.value,
                    call.c.occurred_at >= since,
                    call.c.occurred_at < answered_at,
                    call.c.recovered_at.is_(None),
                )
            )
            .values(recovered_at=answered_at, updated_at=func.now())
        )

        return int(logged.rowcount or 0)

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
