"""CcaiCalls: CCAI calls (SPEC §6) — the relay's ``call`` row plus the door's ``ccai_call`` row.

A CCAI call is created as a ``call`` row of source ``ccai`` whose external id is its own id, so the
relay's later notifications for it (``(restaurant, 'ccai', str(id))``) land on that same row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
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

from ringback.db.tables import call, ccai_call, customer, message, reservation
from ringback.db.tx import Database, Tx
from ringback.relay.model import Disposition, Source
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


@dataclass(frozen=True, slots=True)
class StoredCcaiCall:
    """A CCAI call as the door shows it: its ``ccai_call`` row with what the relay recorded."""

    call_id: int
    restaurant_id: int
    parent_id: int | None
    kind: str
    status: str
    lang: str
    menu: dict[str, Any] | None
    """The menu as the call was created with it (``create_rules.menu_snapshot``)."""
    agent: dict[str, Any] | None
    """The agent as the call was created with it (its snapshot, taken by ``create_rules``)."""
    end_user_number: str | None
    out_ticket_id: str | None
    outbound_number: str | None
    fail_reason: str
    deflection: str
    voicemail_reason: str
    queued_at: dt.datetime | None
    assigned_at: dt.datetime | None
    connected_at: dt.datetime | None
    ends_at: dt.datetime | None
    scheduled_at: dt.datetime | None
    current_status: str
    """``status``, or ``recovered`` once the relay recovered the call."""
    created_at: dt.datetime
    updated_at: dt.datetime
    recovered_at: dt.datetime | None
    outcome: str | None
    template_type: str | None
    caller_raw: str
    customer_id: int | None
    customer_verified: bool | None
    customer_external_id: str | None
    message_status: str | None


@dataclass(frozen=True, slots=True)
class CustomerFlags:
    customer_id: int | None
    """None when the call's number named no customer."""
    verified: bool | None
    bad_actor: bool | None
    repeat_customer: bool | None
    has_history: bool


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


class CcaiCalls:
    """The CCAI door's calls: created, found, listed, locked and moved; their customers' flags."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_call(self, new: NewCcaiCall) -> int:
        """Insert the call and its CCAI state in one transaction; returns the call id."""
        async with self._db.transaction() as tx:
            conn = tx.conn
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
            await tx.commit()
        return call_id

    async def find_call(self, restaurant_id: int, call_id: int) -> StoredCcaiCall | None:
        stmt = _VIEW.where(
            ccai_call.c.restaurant_id == restaurant_id, ccai_call.c.call_id == call_id
        )
        async with self._db.connection() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return StoredCcaiCall(**row) if row else None

    async def lock_call(self, tx: Tx, restaurant_id: int, call_id: int) -> StoredCcaiCall | None:
        """The call, locked until ``tx`` ends: moves of one call happen one after the other."""
        stmt = _VIEW.where(
            ccai_call.c.restaurant_id == restaurant_id, ccai_call.c.call_id == call_id
        ).with_for_update(of=ccai_call)
        row = (await tx.conn.execute(stmt)).mappings().first()
        return StoredCcaiCall(**row) if row else None

    async def write_move(self, tx: Tx, call_id: int, values: dict[str, Any]) -> None:
        """Write a move's columns (a call locked in ``tx``)."""
        if not values:
            return
        await tx.conn.execute(
            update(ccai_call).where(ccai_call.c.call_id == call_id).values(**values)
        )
        await tx.conn.execute(
            update(call).where(call.c.id == call_id).values(updated_at=func.now())
        )

    async def list_calls(
        self, restaurant_id: int, query: CallQuery
    ) -> tuple[int, list[StoredCcaiCall]]:
        """(how many calls match, the page of them ``query`` asks for)."""
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
        async with self._db.connection() as conn:
            total = int((await conn.execute(counted)).scalar_one())
            rows = [StoredCcaiCall(**r) for r in (await conn.execute(page)).mappings()]
        return total, rows

    async def customer_flags(self, restaurant_id: int, call_id: int) -> CustomerFlags | None:
        """The call's customer flags; None when there is no such call."""
        async with self._db.connection() as conn:
            row = (await conn.execute(_flags(restaurant_id, call_id))).mappings().first()
        return CustomerFlags(**row) if row else None

    async def set_customer_flags(
        self, restaurant_id: int, customer_id: int, values: dict[str, bool]
    ) -> None:
        if not values:
            return
        async with self._db.connection() as conn:
            await conn.execute(
                update(customer)
                .where(customer.c.id == customer_id, customer.c.restaurant_id == restaurant_id)
                .values(**values, updated_at=func.now())
            )


def _flags(restaurant_id: int, call_id: int) -> Select[Any]:
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
    return (
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
