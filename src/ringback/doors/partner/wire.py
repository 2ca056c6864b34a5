"""Partner wire <-> domain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ringback.doors.partner.queries import CustomerInput, ReservationInput
from ringback.doors.partner.schemas import (
    CustomerIn,
    CustomerOut,
    MissedCallIn,
    MissedCallOut,
    ReservationIn,
    ReservationOut,
)
from ringback.http.errors import validation_error
from ringback.http.formats import id_str, iso_z
from ringback.relay.model import CallEvent, Decision, Direction, Disposition, Source
from ringback.relay.phone import normalize


def to_event(body: MissedCallIn, received_at: dt.datetime) -> CallEvent:
    return CallEvent(
        source=Source.PARTNER,
        external_id=body.external_call_id,
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=body.caller_phone_number,
        occurred_at=body.occurred_at or received_at,
    )


def from_decision(decision: Decision) -> MissedCallOut:
    assert decision.outcome is not None
    return MissedCallOut(
        id=str(decision.call_id),
        outcome=decision.outcome,
        caller_phone_number=decision.caller_phone_number,
        customer_id=id_str(decision.customer_id),
        reservation_id=id_str(decision.reservation_id),
        template_type=decision.template_type,
        created_at=iso_z(decision.created_at) or "",
    )


def _numbers(raw: Sequence[str], region: str, field: str) -> list[str]:
    """Every number normalized, or one 422 that names each bad index."""
    out: list[str] = []
    problems = []
    for index, number in enumerate(raw):
        e164 = normalize(number, region)
        if e164 is None:
            problems.append(
                {"field": f"body.{index}.{field}", "message": "not a valid phone number"}
            )
        out.append(e164 or "")
    if problems:
        raise validation_error(problems)
    return out


def to_customers(items: Sequence[CustomerIn], region: str) -> list[CustomerInput]:
    numbers = _numbers([i.phone_number for i in items], region, "phone_number")
    return [
        CustomerInput(e164, i.name, i.lang, i.external_id, i.opted_out)
        for e164, i in zip(numbers, items, strict=True)
    ]


def to_reservations(items: Sequence[ReservationIn], region: str) -> list[ReservationInput]:
    numbers = _numbers([i.customer.phone_number for i in items], region, "customer.phone_number")
    return [
        ReservationInput(
            external_id=i.external_id,
            start_at=i.start_at,
            party_size=i.party_size,
            status=i.status,
            customer=CustomerInput(e164, i.customer.name, i.customer.lang),
        )
        for e164, i in zip(numbers, items, strict=True)
    ]


def customer_out(row: dict[str, Any]) -> CustomerOut:
    return CustomerOut(
        id=str(row["id"]),
        phone_number=row["phone_number"],
        name=row["name"],
        lang=row["lang"],
        external_id=row["external_id"],
        opted_out=row["opted_out_at"] is not None,
        created_at=iso_z(row["created_at"]) or "",
        updated_at=iso_z(row["updated_at"]) or "",
    )


def reservation_out(row: dict[str, Any]) -> ReservationOut:
    return ReservationOut(
        id=str(row["id"]),
        external_id=row["external_id"],
        start_at=iso_z(row["start_at"]) or "",
        party_size=row["party_size"],
        status=row["status"],
        customer=customer_out(row["customer"]),
        created_at=iso_z(row["created_at"]) or "",
        updated_at=iso_z(row["updated_at"]) or "",
    )
