"""Routes of ``/api/partner/v1``: thin — wire to domain, one use case, domain to wire."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from ringback.doors.partner import wire
from ringback.doors.partner.auth import PartnerCaller as Caller
from ringback.doors.partner.queries import SqlDirectoryStore
from ringback.doors.partner.schemas import (
    CustomerBatch,
    CustomersReply,
    MeOut,
    MeReply,
    MissedCallIn,
    MissedCallReply,
    ReservationBatch,
    ReservationReply,
    ReservationsReply,
    RestaurantOut,
    TokenOut,
)
from ringback.http.deps import Db, Relay
from ringback.http.errors import not_found
from ringback.http.inputs import parse_id

router = APIRouter(prefix="/api/partner/v1", tags=["partner"])


async def directory_store(db: Db) -> SqlDirectoryStore:
    return SqlDirectoryStore(db)


Directory = Annotated[SqlDirectoryStore, Depends(directory_store)]


@router.post("/missed-calls", status_code=201, response_model=MissedCallReply)
async def report_missed_call(body: MissedCallIn, caller: Caller, relay: Relay) -> Response:
    """Report a missed call; 201 for every decided outcome (read `data.outcome`)."""
    event = wire.to_event(body, dt.datetime.now(dt.UTC))
    decision = await relay.handle(caller.restaurant, event)
    # serialized once by the model itself: returned as a model, FastAPI would validate it again
    # against response_model and encode it twice (every report; response_model still documents it)
    reply = MissedCallReply(data=wire.from_decision(decision))
    return Response(reply.model_dump_json(), status_code=201, media_type="application/json")


@router.get("/me", response_model=MeReply)
async def me(caller: Caller) -> MeReply:
    r = caller.restaurant
    return MeReply(
        data=MeOut(
            restaurant=RestaurantOut(
                id=str(r.id), slug=r.slug, name=r.name, country=r.country, timezone=r.timezone
            ),
            token=TokenOut(kind="partner"),
        )
    )


@router.put("/customers", response_model=CustomersReply)
async def put_customers(
    items: Annotated[CustomerBatch, Body()], caller: Caller, directory: Directory
) -> CustomersReply:
    """Upsert up to 1000 customers by normalized number, all or nothing."""
    inputs = wire.to_customers(items, caller.restaurant.country)
    rows = await directory.upsert_customers(caller.restaurant.id, inputs)
    return CustomersReply(data=[wire.customer_out(row) for row in rows])


@router.put("/reservations", response_model=ReservationsReply)
async def put_reservations(
    items: Annotated[ReservationBatch, Body()], caller: Caller, directory: Directory
) -> ReservationsReply:
    """Upsert up to 1000 reservations by `external_id`, all or nothing."""
    inputs = wire.to_reservations(items, caller.restaurant.country)
    rows = await directory.upsert_reservations(caller.restaurant.id, inputs)
    return ReservationsReply(data=[wire.reservation_out(row) for row in rows])


@router.get("/reservations/{reservation_id}", response_model=ReservationReply)
async def get_reservation(
    reservation_id: str, caller: Caller, directory: Directory
) -> ReservationReply:
    number = parse_id(reservation_id)
    row = (
        await directory.get_reservation(caller.restaurant.id, number)
        if number is not None
        else None
    )
    if row is None:
        raise not_found("Reservation not found")
    return ReservationReply(data=wire.reservation_out(row))
