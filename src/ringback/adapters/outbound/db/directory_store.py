"""SqlDirectoryStore: a restaurant's customers and reservations (partner PUTs, all-or-nothing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, null, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ringback.adapters.outbound.db.tables import customer, reservation


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


class SqlDirectoryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def upsert_customers(
        self, restaurant_id: int, items: Sequence[CustomerInput]
    ) -> list[dict[str, Any]]:
        async with self._engine.begin() as conn:
            return [await _upsert_customer(conn, restaurant_id, item) for item in items]

    async def upsert_reservations(
        self, restaurant_id: int, items: Sequence[ReservationInput]
    ) -> list[dict[str, Any]]:
        out = []
        async with self._engine.begin() as conn:
            for item in items:
                owner = await _upsert_customer(conn, restaurant_id, item.customer)
                new = pg_insert(reservation).values(
                    restaurant_id=restaurant_id,
                    external_id=item.external_id,
                    customer_id=owner["id"],
                    start_at=item.start_at,
                    party_size=item.party_size,
                    status=item.status,
                )
                stmt = new.on_conflict_do_update(
                    index_elements=[reservation.c.restaurant_id, reservation.c.external_id],
                    set_={
                        "customer_id": new.excluded.customer_id,
                        "start_at": new.excluded.start_at,
                        "party_size": new.excluded.party_size,
                        "status": new.excluded.status,
                        "updated_at": func.now(),
                    },
                ).returning(*reservation.c)
                row = dict((await conn.execute(stmt)).mappings().one())
                row["customer"] = owner
                out.append(row)
        return out

    async def get_reservation(
        self, restaurant_id: int, reservation_id: int
    ) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
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


async def _upsert_customer(
    conn: AsyncConnection, restaurant_id: int, item: CustomerInput
) -> dict[str, Any]:
    """Upsert by number; fields left out keep their stored values."""
    opted_out_at: Any = None
    if item.opted_out is True:
        opted_out_at = func.now()
    new = pg_insert(customer).values(
        restaurant_id=restaurant_id,
        phone_number=item.phone_number,
        name=item.name,
        lang=item.lang,
        external_id=item.external_id,
        opted_out_at=opted_out_at,
    )
    if item.opted_out is None:
        opt_out: Any = customer.c.opted_out_at
    elif item.opted_out:
        opt_out = func.coalesce(customer.c.opted_out_at, func.now())
    else:
        opt_out = null()
    stmt = new.on_conflict_do_update(
        index_elements=[customer.c.restaurant_id, customer.c.phone_number],
        set_={
            "name": func.coalesce(new.excluded.name, customer.c.name),
            "lang": func.coalesce(new.excluded.lang, customer.c.lang),
            "external_id": func.coalesce(new.excluded.external_id, customer.c.external_id),
            "opted_out_at": opt_out,
            "updated_at": func.now(),
        },
    ).returning(*customer.c)
    return dict((await conn.execute(stmt)).mappings().one())
