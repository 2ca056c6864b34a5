"""SqlRelayStore: the relay's statements, on the unit of work's connection (SQLAlchemy Core)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, case, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.adapters.outbound.db.tables import call, customer, message, message_event, reservation
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
        new = pg_insert(call).values(
            restaurant_id=restaurant_id,
            source=event.source.value,
            external_id=event.external_id,
            direction=event.direction.value,
            disposition=event.disposition.value,
            caller_raw=event.raw_number,
            caller_phone_number=caller_phone_number,
            occurred_at=event.occurred_at,
            details=event.details or {},
            decision_token=claim_token,
            decided_at=func.now() if claim_token else None,
            answered_at=event.occurred_at if event.disposition is Disposition.ANSWERED else None,
        )
        # A call already answered is never decided later (a late or out-of-order hangup report).
        open_call = call.c.decision_token.is_(None) & call.c.answered_at.is_(None)
        undecided = call.c.decision_token.is_(None)
        stmt = new.on_conflict_do_update(
            index_elements=[call.c.restaurant_id, call.c.source, call.c.external_id],
            set_={
                "updated_at": func.now(),
                "disposition": case(
                    (open_call, new.excluded.disposition), else_=call.c.disposition
                ),
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
        row = (await self._conn.execute(stmt)).one()
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
        new = pg_insert(customer).values(restaurant_id=restaurant_id, phone_number=phone_number)
        stmt = new.on_conflict_do_update(
            index_elements=[customer.c.restaurant_id, customer.c.phone_number],
            set_={"phone_number": new.excluded.phone_number},
        ).returning(
            customer.c.id,
            customer.c.name,
            (customer.c.opted_out_at.is_not(None) | customer.c.bad_actor).label("suppressed"),
        )
        row = (await self._conn.execute(stmt)).one()
        return CustomerRecord(id=row.id, name=row.name, suppressed=bool(row.suppressed))

    async def find_reservation(
        self, customer_id: int, earliest: dt.datetime, latest: dt.datetime
    ) -> ReservationRecord | None:
        stmt = (
            select(reservation.c.id, reservation.c.start_at, reservation.c.party_size)
            .where(
                reservation.c.customer_id == customer_id,
                reservation.c.status.in_(_ACTIVE),
                reservation.c.start_at.between(earliest, latest),
            )
            .order_by(reservation.c.start_at, reservation.c.id)
            .limit(1)
        )
        row = (await self._conn.execute(stmt)).first()
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
        stmt = (
            select(literal(1))
            .select_from(call.join(message, message.c.call_id == call.c.id))
            .where(
                call.c.restaurant_id == restaurant_id,
                call.c.caller_phone_number == phone_number,
                call.c.id != call_id,
                call.c.occurred_at > occurred_at - window,
                call.c.occurred_at < occurred_at + window,
                message.c.status.not_in(_SPENT),
            )
            .limit(1)
        )
        return (await self._conn.execute(stmt)).first() is not None

    async def enqueue_message(self, new: NewMessage) -> int:
        created = (
            insert(message)
            .values(
                restaurant_id=new.restaurant_id,
                call_id=new.call_id,
                customer_id=new.customer_id,
                to_phone_number=new.to_phone_number,
                template_type=new.template_type.value,
                template_name=new.template.name,
                template_language=new.template.language,
                parameters=list(new.parameters),
                status=MessageStatus.QUEUED.value,
                next_attempt_at=new.worker_after,
            )
            .returning(message.c.id)
            .cte("created")
        )
        stmt = (
            insert(message_event)
            .from_select(
                ["message_id", "status"],
                select(created.c.id, literal(MessageStatus.QUEUED.value)),
            )
            .returning(message_event.c.message_id)
        )
        return int((await self._conn.execute(stmt)).scalar_one())

    async def resolve_call(self, resolution: CallResolution) -> None:
        await self._conn.execute(
            update(call)
            .where(call.c.id == resolution.call_id)
            .values(
                outcome=resolution.outcome.value,
                caller_phone_number=resolution.caller_phone_number,
                customer_id=resolution.customer_id,
                reservation_id=resolution.reservation_id,
                template_type=resolution.template_type.value if resolution.template_type else None,
                updated_at=func.now(),
            )
        )

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
            insert(message_event).from_select(
                ["message_id", "status", "attempt", "detail"],
                select(
                    cancelled.c.id,
                    literal(MessageStatus.CANCELLED.value),
                    cancelled.c.attempts,
                    literal("the customer's call was answered"),
                ),
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
