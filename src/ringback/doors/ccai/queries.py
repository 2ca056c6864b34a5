"""SqlCcaiStore: CCAI calls (SPEC §6) — the relay's ``call`` row plus the door's ``ccai_call`` row.

A CCAI call is created as a ``call`` row of source ``ccai`` whose external id is its own id, so the
relay's later notifications for it (``(restaurant, 'ccai', str(id))``) land on that same row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ringback.db.tables import call, ccai_call, customer, message, reservation
from ringback.db.tx import SqlUnitOfWork
from ringback.relay.model import Disposition, Source
from ringback.relay.ports import UnitOfWork
from ringback.relay.statements import MATCH_OR_CREATE_CUSTOMER

_NEXT_CALL_ID = text("SELECT nextval(pg_get_serial_sequence('call', 'id'))")


@dataclass(frozen=True, slots=True)
class NewCcaiCall:
    restaurant_id: int
    kind: str
    direction: str
    caller_raw: str
    caller_display: str
    customer_e164: str | None
    occurred_at: dt.datetime
    created_at: dt.datetime
    status: str
    lang: str
    menu: dict[str, Any] | None = None
    agent: dict[str, Any] | None = None
    end_user_number: str | None = None
    out_ticket_id: str | None = None
    outbound_number: str | None = None
    parent_id: int | None = None
    queued_at: dt.datetime | None = None
    assigned_at: dt.datetime | None = None
    scheduled_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class CallQuery:
    page: int = 1
    per: int = 100
    sort_column: str = "id"
    descending: bool = True
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    updated_from: dt.datetime | None = None
    updated_to: dt.datetime | None = None
    status: str | None = None
    kind: str | None = None


status_expr = case(
    (call.c.recovered_at.is_not(None), literal("recovered")), else_=ccai_call.c.status
)
_SORTS: dict[str, Any] = {
    "id": call.c.id,
    "created_at": call.c.created_at,
    "updated_at": call.c.updated_at,
}
_VIEW = select(
    *ccai_call.c,
    status_expr.label("current_status"),
    call.c.created_at,
    call.c.updated_at,
    call.c.recovered_at,
    call.c.outcome,
    call.c.template_type,
    call.c.caller_raw,
    call.c.customer_id,
    customer.c.verified.label("customer_verified"),
    customer.c.external_id.label("customer_external_id"),
    message.c.status.label("message_status"),
).select_from(
    ccai_call.join(call, call.c.id == ccai_call.c.call_id)
    .outerjoin(customer, customer.c.id == call.c.customer_id)
    .outerjoin(message, message.c.call_id == call.c.id)
)


class SqlCcaiStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create_call(self, new: NewCcaiCall) -> int:
        """Insert the call and its CCAI state in one transaction; returns the call id."""
        async with self._engine.begin() as conn:
            call_id = int((await conn.execute(_NEXT_CALL_ID)).scalar_one())
            customer_id = None
            if new.customer_e164 is not None:
                params = {"p_restaurant_id": new.restaurant_id, "p_phone_number": new.customer_e164}
                customer_id = (await conn.execute(MATCH_OR_CREATE_CUSTOMER, params)).one().id
            await conn.execute(
                insert(call).values(
                    id=call_id,
                    restaurant_id=new.restaurant_id,
                    source=Source.CCAI.value,
                    external_id=str(call_id),
                    direction=new.direction,
                    disposition=Disposition.OTHER.value,
                    caller_raw=new.caller_raw,
                    caller_phone_number=new.caller_display,
                    customer_id=customer_id,
                    occurred_at=new.occurred_at,
                    details={"ccai_call_type": new.kind},
                    created_at=new.created_at,
                    updated_at=new.created_at,
                )
            )
            await conn.execute(
                insert(ccai_call).values(
                    call_id=call_id,
                    restaurant_id=new.restaurant_id,
                    parent_id=new.parent_id,
                    kind=new.kind,
                    status=new.status,
                    lang=new.lang,
                    menu=new.menu,
                    agent=new.agent,
                    end_user_number=new.end_user_number,
                    out_ticket_id=new.out_ticket_id,
                    outbound_number=new.outbound_number,
                    queued_at=new.queued_at,
                    assigned_at=new.assigned_at,
                    scheduled_at=new.scheduled_at,
                )
            )
        return call_id

    async def find_call(self, restaurant_id: int, call_id: int) -> dict[str, Any] | None:
        stmt = _VIEW.where(
            ccai_call.c.restaurant_id == restaurant_id, ccai_call.c.call_id == call_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return dict(row) if row else None

    async def move(
        self,
        restaurant_id: int,
        call_id: int,
        plan: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any] | None:
        """Lock the call, let ``plan`` turn its current state into the columns to write, write them.

        ``plan`` may raise to refuse the move (nothing is written). None when there is no such call.
        """
        async with self._engine.begin() as conn:
            if not await _move_on(conn, restaurant_id, call_id, plan):
                return None
        return await self.find_call(restaurant_id, call_id)

    async def move_within(
        self,
        uow: UnitOfWork,
        restaurant_id: int,
        call_id: int,
        plan: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> bool:
        """The same move inside the relay's unit of work, so it commits with the decision."""
        assert isinstance(uow, SqlUnitOfWork), "the CCAI store shares only a SQL unit of work"
        return await _move_on(uow.connection, restaurant_id, call_id, plan)

    async def list_calls(
        self, restaurant_id: int, query: CallQuery
    ) -> tuple[int, list[dict[str, Any]]]:
        conditions: list[ColumnElement[bool]] = [ccai_call.c.restaurant_id == restaurant_id]
        if query.created_from is not None:
            conditions.append(call.c.created_at >= query.created_from)
        if query.created_to is not None:
            conditions.append(call.c.created_at <= query.created_to)
        if query.updated_from is not None:
            conditions.append(call.c.updated_at >= query.updated_from)
        if query.updated_to is not None:
            conditions.append(call.c.updated_at <= query.updated_to)
        if query.status is not None:
            conditions.append(status_expr == query.status)
        if query.kind is not None:
            conditions.append(ccai_call.c.kind == query.kind)
        where = and_(*conditions)
        column = _SORTS[query.sort_column]
        if query.descending:
            order = [column.desc(), call.c.id.desc()]
        else:
            order = [column.asc(), call.c.id.asc()]
        counted = (
            select(func.count())
            .select_from(ccai_call.join(call, call.c.id == ccai_call.c.call_id))
            .where(where)
        )
        page = _VIEW.where(where).order_by(*order).limit(query.per)
        page = page.offset((query.page - 1) * query.per)
        async with self._engine.connect() as conn:
            total = int((await conn.execute(counted)).scalar_one())
            rows = [dict(r) for r in (await conn.execute(page)).mappings()]
        return total, rows

    async def customer_flags(self, restaurant_id: int, call_id: int) -> dict[str, Any] | None:
        """The call's customer flags; None when no such call; ``customer_id`` None when unknown."""
        this = call.alias("this_call")
        other = call.alias("other_call")
        earlier_call = exists().where(
            other.c.restaurant_id == this.c.restaurant_id,  # the index leads with it
            other.c.customer_id == this.c.customer_id,
            other.c.id != this.c.id,
            other.c.created_at < this.c.created_at,
        )
        earlier_reservation = exists().where(
            reservation.c.customer_id == this.c.customer_id,
            reservation.c.created_at < this.c.created_at,
        )
        stmt = (
            select(
                this.c.customer_id,
                customer.c.verified,
                customer.c.bad_actor,
                customer.c.repeat_customer,
                or_(earlier_call, earlier_reservation).label("has_history"),
            )
            .select_from(
                ccai_call.join(this, this.c.id == ccai_call.c.call_id).outerjoin(
                    customer, customer.c.id == this.c.customer_id
                )
            )
            .where(ccai_call.c.restaurant_id == restaurant_id, ccai_call.c.call_id == call_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return dict(row) if row else None

    async def set_customer_flags(
        self, restaurant_id: int, customer_id: int, values: dict[str, bool]
    ) -> None:
        if not values:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(customer)
                .where(customer.c.id == customer_id, customer.c.restaurant_id == restaurant_id)
                .values(**values, updated_at=func.now())
            )


async def _move_on(
    conn: AsyncConnection,
    restaurant_id: int,
    call_id: int,
    plan: Callable[[dict[str, Any]], dict[str, Any]],
) -> bool:
    current = (
        (
            await conn.execute(
                _VIEW.where(
                    ccai_call.c.restaurant_id == restaurant_id,
                    ccai_call.c.call_id == call_id,
                ).with_for_update(of=ccai_call)
            )
        )
        .mappings()
        .first()
    )
    if current is None:
        return False
    values = plan(dict(current))
    if values:
        await conn.execute(update(ccai_call).where(ccai_call.c.call_id == call_id).values(**values))
        await conn.execute(update(call).where(call.c.id == call_id).values(updated_at=func.now()))
    return True
