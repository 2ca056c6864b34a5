"""A report decided before its caller is matched (``RelayService._decide_missed``): the verdict
of a caller with no reservation, checked by the decision statement itself, gives what a match
first would have given — for a known customer, a booked one, and a suppressed one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from sqlalchemy import func, select, update

from ringback.bootstrap import Container
from ringback.db.tables import call, customer, message
from tests.conftest import DEFAULT_WHATSAPP, MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql
URL = "/api/partner/v1/missed-calls"


async def put_customer(client: httpx.AsyncClient, tenant: Tenant, number: str) -> str:
    reply = await client.put(
        "/api/partner/v1/customers",
        headers=tenant.auth(),
        json=[{"phone_number": number, "name": "Ada Lovelace"}],
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["data"][0]["id"])


async def put_reservation(
    client: httpx.AsyncClient, tenant: Tenant, number: str, start: dt.datetime, status: str
) -> str:
    reply = await client.put(
        "/api/partner/v1/reservations",
        headers=tenant.auth(),
        json=[
            {
                "external_id": f"r-{number}-{start.timestamp()}",
                "start_at": start.isoformat(),
                "party_size": 3,
                "status": status,
                "customer": {"phone_number": number, "name": "Ada Lovelace"},
            }
        ],
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["data"][0]["id"])


async def reported(client: httpx.AsyncClient, tenant: Tenant, number: str) -> dict[str, Any]:
    """The reply's ``data`` to a report of ``number``."""
    reply = await client.post(URL, headers=tenant.auth(), json={"caller_phone_number": number})
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


async def rows(container: Container, tenant: Tenant, number: str) -> dict[str, int]:
    """How many customers, calls and messages the restaurant holds for ``number``."""
    async with container.database.connection() as conn:
        counted = {}
        for name, table, column in (
            ("customers", customer, customer.c.phone_number),
            ("calls", call, call.c.caller_phone_number),
            ("messages", message, message.c.to_phone_number),
        ):
            found = await conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.restaurant_id == tenant.id, column == number)
            )
            counted[name] = int(found.scalar_one())
        return counted


async def test_a_known_customer_is_the_calls_customer_and_is_not_made_again(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    customer_id = await put_customer(client, tenant, number)
    data = await reported(client, tenant, number)
    assert (data["outcome"], data["template_type"]) == ("SENT", "MISSED_CALL")
    assert (data["customer_id"], data["reservation_id"]) == (customer_id, None)
    assert await rows(container, tenant, number) == {"customers": 1, "calls": 1, "messages": 1}


async def test_a_booked_caller_gets_the_reservation_template_and_one_call(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(microsecond=0)
    reservation_id = await put_reservation(client, tenant, number, start, "CONFIRMED")
    data = await reported(client, tenant, number)
    assert (data["outcome"], data["template_type"]) == ("SENT", "MISSED_CALL_WITH_RESERVATION")
    assert data["reservation_id"] == reservation_id
    sent: dict[str, Any] = json.loads(graph.calls[-1].request.content)
    parameters = [p["text"] for p in sent["template"]["components"][0]["parameters"]]
    local = start.astimezone(ZoneInfo("Europe/Paris"))
    assert parameters[1:] == ["Ada", f"{local:%Y-%m-%d}", f"{local:%H:%M}", "3"]
    # the first decision found the booking and wrote nothing: one call, one message
    assert await rows(container, tenant, number) == {"customers": 1, "calls": 1, "messages": 1}


@pytest.mark.parametrize(("status", "days"), [("CANCELLED", 2), ("CONFIRMED", 40)])
async def test_a_booking_cancelled_or_outside_the_window_is_no_booking(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    status: str,
    days: int,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    customer_id = await put_customer(client, tenant, number)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    await put_reservation(client, tenant, number, start, status)
    data = await reported(client, tenant, number)
    assert (data["outcome"], data["template_type"]) == ("SENT", "MISSED_CALL")
    assert (data["customer_id"], data["reservation_id"]) == (customer_id, None)


@pytest.mark.parametrize("plain_template", [True, False])
async def test_a_suppressed_customer_is_skipped_as_suppressed_before_any_template_rule(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    plain_template: bool,
) -> None:
    """Rule 8 comes before rule 10: without the plain template, an opted-out customer is still
    ``SKIPPED_SUPPRESSED``, not ``SKIPPED_NO_TEMPLATE``."""
    templates = dict(DEFAULT_WHATSAPP["templates"])
    if not plain_template:
        del templates["MISSED_CALL"]
    tenant = await make_restaurant(whatsapp={**DEFAULT_WHATSAPP, "templates": templates})
    number = random_mobile()
    customer_id = await put_customer(client, tenant, number)
    async with container.database.connection() as conn:
        await conn.execute(
            update(customer)
            .where(customer.c.id == int(customer_id))
            .values(opted_out_at=func.now())
        )
    data = await reported(client, tenant, number)
    assert (data["outcome"], data["customer_id"]) == ("SKIPPED_SUPPRESSED", customer_id)
    assert data["template_type"] is None
    assert graph.calls.call_count == 0
    assert await rows(container, tenant, number) == {"customers": 1, "calls": 1, "messages": 0}


async def test_a_new_caller_without_the_plain_template_is_skipped_with_a_customer_made(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    templates = dict(DEFAULT_WHATSAPP["templates"])
    del templates["MISSED_CALL"]
    tenant = await make_restaurant(whatsapp={**DEFAULT_WHATSAPP, "templates": templates})
    number = random_mobile()
    data = await reported(client, tenant, number)
    assert data["outcome"] == "SKIPPED_NO_TEMPLATE"
    assert data["customer_id"] is not None
    assert await rows(container, tenant, number) == {"customers": 1, "calls": 1, "messages": 0}
