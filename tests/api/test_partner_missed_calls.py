"""POST /api/partner/v1/missed-calls through the real app and a real PostgreSQL (SPEC §3, §4)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from sqlalchemy import select

from ringback.bootstrap import Container
from ringback.db.tables import call, message
from ringback.tenancy.model import TokenKind
from tests.api.conftest import sent_bodies
from tests.conftest import DEFAULT_WHATSAPP, MakeRestaurant, Tenant
from tests.conftest import random_mobile as mobile

pytestmark = pytest.mark.sql

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def report(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post(
        "/api/partner/v1/missed-calls", json=body, headers=tenant.auth(TokenKind.PARTNER)
    )


async def test_missed_call_is_sent_with_the_plain_template(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(name="Le Petit Zinc")
    number = mobile()
    reply = await report(client, tenant, caller_phone_number=number, external_call_id="c-1")
    assert reply.status_code == 201
    data = reply.json()["data"]
    assert set(data) == {
        "id",
        "outcome",
        "caller_phone_number",
        "customer_id",
        "reservation_id",
        "template_type",
        "created_at",
    }
    assert data["outcome"] == "SENT"
    assert data["caller_phone_number"] == number
    assert data["template_type"] == "MISSED_CALL"
    assert data["reservation_id"] is None
    assert isinstance(data["id"], str)
    assert isinstance(data["customer_id"], str)
    assert ISO_Z.match(data["created_at"])
    assert sent_bodies(graph) == [
        {
            "messaging_product": "whatsapp",
            "to": number.lstrip("+"),
            "type": "template",
            "template": {
                "name": "missed_call",
                "language": {"code": "fr"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "Le Petit Zinc"}]}
                ],
            },
        }
    ]
    assert graph.calls[0].request.headers["authorization"] == "Bearer wa-access-token"
    assert graph.calls[0].request.url.path.endswith("/1234567890/messages")


async def test_caller_with_an_upcoming_reservation_gets_the_reservation_template(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(name="Bistro Rouge")
    number = mobile()
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(
        hour=18, minute=30, second=0, microsecond=0
    )
    put = await client.put(
        "/api/partner/v1/reservations",
        headers=tenant.auth(),
        json=[
            {
                "external_id": "r-1",
                "start_at": start.isoformat(),
                "party_size": 4,
                "status": "CONFIRMED",
                "customer": {"phone_number": number, "name": "Marie Curie"},
            }
        ],
    )
    assert put.status_code == 200
    reservation_id = put.json()["data"][0]["id"]
    reply = await report(client, tenant, caller_phone_number=number)
    data = reply.json()["data"]
    assert data["outcome"] == "SENT"
    assert data["template_type"] == "MISSED_CALL_WITH_RESERVATION"
    assert data["reservation_id"] == reservation_id
    component = sent_bodies(graph)[0]["template"]["components"][0]  # type: ignore[index]
    params = [p["text"] for p in component["parameters"]]
    local = start.astimezone(ZoneInfo("Europe/Paris"))
    assert params == [
        "Bistro Rouge",
        "Marie",
        local.strftime("%Y-%m-%d"),
        local.strftime("%H:%M"),
        "4",
    ]


async def test_cancelled_reservation_is_not_used(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = mobile()
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await client.put(
        "/api/partner/v1/reservations",
        headers=tenant.auth(),
        json=[
            {
                "external_id": "r-x",
                "start_at": start.isoformat(),
                "party_size": 2,
                "status": "CANCELLED",
                "customer": {"phone_number": number},
            }
        ],
    )
    data = (await report(client, tenant, caller_phone_number=number)).json()["data"]
    assert data["template_type"] == "MISSED_CALL"
    assert data["reservation_id"] is None


async def test_national_number_is_normalized_with_the_restaurant_country(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    digits = mobile()[4:]
    national = f"06 {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"
    data = (await report(client, tenant, caller_phone_number=national)).json()["data"]
    assert data["caller_phone_number"] == f"+336{digits}"
    assert sent_bodies(graph)[0]["to"] == f"336{digits}"


async def test_replayed_call_is_skipped_without_a_second_message(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = mobile()
    first = (
        await report(client, tenant, caller_phone_number=number, external_call_id="pbx-1")
    ).json()["data"]
    assert first["outcome"] == "SENT", first
    again = await report(client, tenant, caller_phone_number=number, external_call_id="pbx-1")
    assert again.status_code == 201
    replay = again.json()["data"]
    assert replay["outcome"] == "SKIPPED_DUPLICATE"
    for key in (
        "id",
        "customer_id",
        "reservation_id",
        "template_type",
        "created_at",
        "caller_phone_number",
    ):
        assert replay[key] == first[key]
    assert len(graph.calls) == 1


async def test_same_external_id_in_another_restaurant_is_a_different_call(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    one, two = await make_restaurant(), await make_restaurant()
    number = mobile()
    a = (await report(client, one, caller_phone_number=number, external_call_id="x")).json()
    b = (await report(client, two, caller_phone_number=number, external_call_id="x")).json()
    assert a["data"]["outcome"] == b["data"]["outcome"] == "SENT"
    assert a["data"]["id"] != b["data"]["id"]


async def test_same_external_id_with_another_number_is_an_idempotency_conflict(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    await report(client, tenant, caller_phone_number=mobile(), external_call_id="dup")
    reply = await report(client, tenant, caller_phone_number=mobile(), external_call_id="dup")
    assert reply.status_code == 409
    error = reply.json()["error"]
    assert error["code"] == "IDEMPOTENCY_CONFLICT"
    assert error["request_id"] == reply.headers["x-request-id"]


@pytest.mark.parametrize(
    ("number", "outcome"),
    [
        ("anonymous", "SKIPPED_HIDDEN_NUMBER"),
        ("0000", "SKIPPED_HIDDEN_NUMBER"),
        ("+33 1 23", "SKIPPED_INVALID_NUMBER"),
        ("01 42 68 53 00", "SKIPPED_NOT_MOBILE"),
    ],
)
async def test_unreachable_numbers_are_skipped_with_their_reason(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    number: str,
    outcome: str,
) -> None:
    tenant = await make_restaurant()
    data = (await report(client, tenant, caller_phone_number=number)).json()["data"]
    assert data["outcome"] == outcome
    assert len(graph.calls) == 0
    if outcome == "SKIPPED_NOT_MOBILE":
        assert data["customer_id"] is not None
        assert data["caller_phone_number"] == "+33142685300"
    else:
        assert data["customer_id"] is None
        assert data["caller_phone_number"] == number


async def test_withheld_number_with_an_empty_string_is_refused_by_length(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await report(client, tenant, caller_phone_number="")
    assert reply.status_code == 422


async def test_call_older_than_max_age_is_stale(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(max_call_age_hours=24)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)).isoformat()
    data = (await report(client, tenant, caller_phone_number=mobile(), occurred_at=old)).json()[
        "data"
    ]
    assert data["outcome"] == "SKIPPED_STALE"
    assert data["customer_id"] is not None
    assert len(graph.calls) == 0


async def test_restaurant_with_missed_calls_disabled_sends_nothing(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(missed_calls_enabled=False)
    data = (await report(client, tenant, caller_phone_number="anonymous")).json()["data"]
    assert data["outcome"] == "SKIPPED_FEATURE_DISABLED"
    assert len(graph.calls) == 0


async def test_restaurant_without_whatsapp_is_skipped(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(whatsapp={})
    data = (await report(client, tenant, caller_phone_number=mobile())).json()["data"]
    assert data["outcome"] == "SKIPPED_NO_WHATSAPP"


async def test_opted_out_customer_is_suppressed(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = mobile()
    put = await client.put(
        "/api/partner/v1/customers",
        headers=tenant.auth(),
        json=[{"phone_number": number, "opted_out": True}],
    )
    assert put.json()["data"][0]["opted_out"] is True
    data = (await report(client, tenant, caller_phone_number=number)).json()["data"]
    assert data["outcome"] == "SKIPPED_SUPPRESSED"
    assert len(graph.calls) == 0


async def test_second_call_within_cooldown_is_skipped_in_either_order(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(cooldown_hours=6)
    number = mobile()
    now = dt.datetime.now(dt.UTC)
    first = await report(
        client,
        tenant,
        caller_phone_number=number,
        external_call_id="a",
        occurred_at=now.isoformat(),
    )
    later = await report(
        client,
        tenant,
        caller_phone_number=number,
        external_call_id="b",
        occurred_at=(now + dt.timedelta(minutes=3)).isoformat(),
    )
    earlier = await report(
        client,
        tenant,
        caller_phone_number=number,
        external_call_id="c",
        occurred_at=(now - dt.timedelta(hours=5)).isoformat(),
    )
    outside = await report(
        client,
        tenant,
        caller_phone_number=number,
        external_call_id="d",
        occurred_at=(now - dt.timedelta(hours=7)).isoformat(),
    )
    assert first.json()["data"]["outcome"] == "SENT"
    assert later.json()["data"]["outcome"] == "SKIPPED_COOLDOWN"
    assert earlier.json()["data"]["outcome"] == "SKIPPED_COOLDOWN"
    assert outside.json()["data"]["outcome"] == "SENT"
    assert len(graph.calls) == 2


async def test_failed_message_does_not_hold_the_cooldown(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = mobile()
    graph.routes[0].side_effect = [
        httpx.Response(400, json={"error": {"code": 131026, "message": "undeliverable"}}),
        httpx.Response(200, json={"messages": [{"id": "wamid.second"}]}),
    ]
    first = (await report(client, tenant, caller_phone_number=number)).json()["data"]
    second = (await report(client, tenant, caller_phone_number=number)).json()["data"]
    assert first["outcome"] == "FAILED"
    assert second["outcome"] == "SENT"


async def test_missing_template_is_skipped(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    whatsapp = {**DEFAULT_WHATSAPP, "templates": {}}
    tenant = await make_restaurant(whatsapp=whatsapp)
    data = (await report(client, tenant, caller_phone_number=mobile())).json()["data"]
    assert data["outcome"] == "SKIPPED_NO_TEMPLATE"
    assert data["template_type"] == "MISSED_CALL"


async def test_send_delay_answers_queued_and_sends_later(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant(send_delay_seconds=600)
    data = (await report(client, tenant, caller_phone_number=mobile())).json()["data"]
    assert data["outcome"] == "QUEUED"
    assert len(graph.calls) == 0
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(select(message).where(message.c.call_id == int(data["id"])))
        ).one()
    assert row.status == "queued"
    assert row.next_attempt_at > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=590)


async def test_transient_provider_failure_answers_queued_for_the_worker(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    graph.routes[0].side_effect = [httpx.Response(500, json={"error": {"code": 2}})]
    data = (await report(client, tenant, caller_phone_number=mobile())).json()["data"]
    assert data["outcome"] == "QUEUED"
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(select(message).where(message.c.call_id == int(data["id"])))
        ).one()
        stored = (
            await conn.execute(select(call.c.outcome).where(call.c.id == int(data["id"])))
        ).scalar_one()
    assert row.status == "queued"
    assert row.attempts == 1
    assert "500" in row.last_error
    assert stored == "QUEUED"


async def test_stored_outcome_is_the_replied_outcome(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    data = (await report(client, tenant, caller_phone_number=mobile())).json()["data"]
    async with container.engine.connect() as conn:
        stored = (await conn.execute(select(call).where(call.c.id == int(data["id"])))).one()
    assert stored.outcome == data["outcome"] == "SENT"
    assert stored.source == "partner"
    assert stored.direction == "inbound"
    assert stored.disposition == "missed"
