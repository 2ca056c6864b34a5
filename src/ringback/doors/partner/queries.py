"""SqlDirectoryStore: a restaurant's customers and reservations (partner PUTs, all-or-nothing).

A batch of up to 1,000 items is two set-based statements in one transaction, never a statement per
item (bench/batch_put.py, docs/PERFORMANCE.md): the customers, then the reservations. The result is
exactly that of applying the items one after the other: a number (or a reservation's
``external_id``) given twice in one batch is merged in Python first, in order, because one
``INSERT … ON CONFLICT DO UPDATE`` may not touch a row twice. Rows are written in key order, so
two batches that share keys lock them in the same order and never deadlock. The statements run
on the driver (driver.py), so the transaction is a unit of work's: SQLAlchemy's own would begin
only at a statement of its own, and each driver statement would commit alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Text,
    bindparam,
    case,
    column,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.dml import ReturningInsert

from ringback.db.driver import DriverStatement
from ringback.db.tables import customer, reservation
from ringback.db.tx import Database


@dataclass(frozen=True, slots=True)
class CustomerInput:
    phone_number: str  # E.164
    name: str | None = None
    lang: str | None = None
    external_id: str | None = None
    opted_out: bool | None = None


@dataclass(frozen=True, slots=True)
class ReservationInput:
    external_id: str
    start_at: dt.datetime
    party_size: int
    status: str
    customer: CustomerInput


class _OptOut(StrEnum):
    """What a number's items, applied in order, do to its opt-out (absent: keep it)."""

    CLEAR = "clear"  # the last said opted_out: false
    SET = "set"  # opted_out: true, never cleared in this batch: an earlier opt-out keeps its time
    RENEW = "renew"  # cleared, then set again: opted out as of now


@dataclass(frozen=True, slots=True)
class _Merged:
    phone_number: str
    name: str | None
    lang: str | None
    external_id: str | None
    opt_out: _OptOut | None


def _merge(items: Sequence[CustomerInput]) -> list[_Merged]:
    """One entry per number, in number order: the items of a number applied in order (a field
    left out keeps the value before it)."""
    merged: dict[str, _Merged] = {}
    for item in items:
        before = merged.get(item.phone_number)
        opt_out = before.opt_out if before else None
        if item.opted_out is False:
            opt_out = _OptOut.CLEAR
        elif item.opted_out is True:
            opt_out = _OptOut.SET if opt_out in (None, _OptOut.SET) else _OptOut.RENEW
        merged[item.phone_number] = _Merged(
            phone_number=item.phone_number,
            name=_later(item.name, before.name if before else None),
            lang=_later(item.lang, before.lang if before else None),
            external_id=_later(item.external_id, before.external_id if before else None),
            opt_out=opt_out,
        )
    return [merged[number] for number in sorted(merged)]


def _later(value: str | None, before: str | None) -> str | None:
    return value if value is not None else before


def _customers_statement() -> ReturningInsert[Any]:
    """Upsert by number; fields left out keep their stored values.

    ``excluded`` carries only the table's columns, so each number's opt-out change rides in a
    JSON object keyed by number (``opt_outs``; a number absent from it keeps its opt-out).
    """
    item = (
        func.unnest(
            bindparam("phone_numbers", type_=ARRAY(Text)),
            bindparam("names", type_=ARRAY(Text)),
            bindparam("langs", type_=ARRAY(Text)),
            bindparam("external_ids", type_=ARRAY(Text)),
        )
        .table_valued(
            column("phone_number", Text),
            column("name", Text),
            column("lang", Text),
            column("external_id", Text),
        )
        .render_derived(name="item")
    )
    opt_outs = bindparam("opt_outs", type_=JSONB)
    change_of = opt_outs.op("->>")(item.c.phone_number)
    new = pg_insert(customer).from_select(
        ["restaurant_id", "phone_number", "name", "lang", "external_id", "opted_out_at"],
        select(
            bindparam("restaurant_id", type_=BigInteger),
            item.c.phone_number,
            item.c.name,
            item.c.lang,
            item.c.external_id,
            # literals, not an expanding IN (which the driver statement cannot bind)
            case(
                (
                    change_of.in_([literal(_OptOut.SET.value), literal(_OptOut.RENEW.value)]),
                    func.now(),
                )
            ),
        ).order_by(item.c.phone_number),
    )
    change = opt_outs.op("->>")(new.excluded.phone_number)
    return new.on_conflict_do_update(
        index_elements=[customer.c.restaurant_id, customer.c.phone_number],
        set_={
            "name": func.coalesce(new.excluded.name, customer.c.name),
            "lang": func.coalesce(new.excluded.lang, customer.c.lang),
            "external_id": func.coalesce(new.excluded.external_id, customer.c.external_id),
            "opted_out_at": case(
                (change == _OptOut.CLEAR.value, null()),
                (change == _OptOut.SET.value, func.coalesce(customer.c.opted_out_at, func.now())),
                (change == _OptOut.RENEW.value, func.now()),
                else_=customer.c.opted_out_at,
            ),
            "updated_at": func.now(),
        },
    ).returning(*customer.c)


def _reservations_statement() -> ReturningInsert[Any]:
    """Upsert by ``external_id``: every field is the last item's."""
    item = (
        func.unnest(
            bindparam("external_ids", type_=ARRAY(Text)),
            bindparam("customer_ids", type_=ARRAY(BigInteger)),
            bindparam("start_ats", type_=ARRAY(DateTime(timezone=True))),
            bindparam("party_sizes", type_=ARRAY(Integer)),
            bindparam("statuses", type_=ARRAY(Text)),
        )
        .table_valued(
            column("external_id", Text),
            column("customer_id", BigInteger),
            column("start_at", DateTime(timezone=True)),
            column("party_size", Integer),
            column("status", Text),
        )
        .render_derived(name="item")
    )
    new = pg_insert(reservation).from_select(
        ["restaurant_id", "external_id", "customer_id", "start_at", "party_size", "status"],
        select(
            bindparam("restaurant_id", type_=BigInteger),
            item.c.external_id,
            item.c.customer_id,
            item.c.start_at,
            item.c.party_size,
            item.c.status,
        ).order_by(item.c.external_id),
    )
    return new.on_conflict_do_update(
        index_elements=[reservation.c.restaurant_id, reservation.c.external_id],
        set_={
            "customer_id": new.excluded.customer_id,
            "start_at": new.excluded.start_at,
            "party_size": new.excluded.party_size,
            "status": new.excluded.status,
            "updated_at": func.now(),
        },
    ).returning(*reservation.c)


UPSERT_CUSTOMERS = DriverStatement(_customers_statement())
UPSERT_RESERVATIONS = DriverStatement(_reservations_statement())


class SqlDirectoryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert_customers(
        self, restaurant_id: int, items: Sequence[CustomerInput]
    ) -> list[dict[str, Any]]:
        """Every item's customer as stored once the whole batch is applied."""
        if not items:
            return []
        async with self._db.transaction() as tx:
            rows = await UPSERT_CUSTOMERS.fetch(tx.conn, _customer_params(restaurant_id, items))
            await tx.commit()
        by_number = {row["phone_number"]: dict(row) for row in rows}
        return [by_number[item.phone_number] for item in items]

    async def upsert_reservations(
        self, restaurant_id: int, items: Sequence[ReservationInput]
    ) -> list[dict[str, Any]]:
        """Every item's reservation, with its customer, as stored once the whole batch is applied:
        each item's customer is matched or created by number (as by ``upsert_customers``), even
        when a later item of the same ``external_id`` books it for someone else."""
        if not items:
            return []
        latest = {item.external_id: item for item in items}
        async with self._db.transaction() as tx:
            owners = await UPSERT_CUSTOMERS.fetch(
                tx.conn, _customer_params(restaurant_id, [item.customer for item in items])
            )
            id_of = {row["phone_number"]: row["id"] for row in owners}
            booked = [latest[key] for key in sorted(latest)]
            rows = await UPSERT_RESERVATIONS.fetch(
                tx.conn,
                {
                    "restaurant_id": restaurant_id,
                    "external_ids": [item.external_id for item in booked],
                    "customer_ids": [id_of[item.customer.phone_number] for item in booked],
                    "start_ats": [item.start_at for item in booked],
                    "party_sizes": [item.party_size for item in booked],
                    "statuses": [item.status for item in booked],
                },
            )
            await tx.commit()
        customers = {row["id"]: dict(row) for row in owners}
        by_key = {
            row["external_id"]: {**row, "customer": customers[row["customer_id"]]} for row in rows
        }
        return [by_key[item.external_id] for item in items]

    async def get_reservation(
        self, restaurant_id: int, reservation_id: int
    ) -> dict[str, Any] | None:
        async with self._db.connection() as conn:
            row = (
                (
                    await conn.execute(
                        select(reservation).where(
                            reservation.c.id == reservation_id,
                            reservation.c.restaurant_id == restaurant_id,
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            owner = (
                (await conn.execute(select(customer).where(customer.c.id == row["customer_id"])))
                .mappings()
                .one()
            )
        return {**row, "customer": dict(owner)}


def _customer_params(restaurant_id: int, items: Sequence[CustomerInput]) -> dict[str, Any]:
    merged = _merge(items)
    return {
        "restaurant_id": restaurant_id,
        "phone_numbers": [m.phone_number for m in merged],
        "names": [m.name for m in merged],
        "langs": [m.lang for m in merged],
        "external_ids": [m.external_id for m in merged],
        "opt_outs": {m.phone_number: m.opt_out.value for m in merged if m.opt_out is not None},
    }
