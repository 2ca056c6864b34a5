"""POST /phonebridge/v3/callnotify through the real app and a real PostgreSQL (SPEC §5)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import respx
from sqlalchemy import Row, select

from ringback.app import create_app
from ringback.bootstrap import Container, build_container
from ringback.db.tables import call, customer, message
from ringback.tenancy.model import TokenKind
from tests.api.conftest import sent_bodies
from tests.conftest import MakeRestaurant, Tenant, make_settings, random_mobile
from tests.graphmock import POSTER

pytestmark = pytest.mark.sql
URL = "/phonebridge/v3/callnotify"
RESTAURANT_LINE = "+33140000000"
SUCCESS = {"status": "success", "code": "SUCCESS"}


def gmt(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def zoho_headers(tenant: Tenant) -> dict[str, str]:
    return {
        "Authorization": f"Zoho-oauthtoken {tenant.tokens[TokenKind.ZOHO]}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def notify(
    client: httpx.AsyncClient, tenant: Tenant, body: str | dict[str, str]
) -> httpx.Response:
    content = body if isinstance(body, str) else urlencode(body)
    return await client.post(URL, content=content, headers=zoho_headers(tenant))


def params(
    call_type: str, state: str, customer_number: str, call_id: str, **extra: str
) -> dict[str, str]:
    ours, theirs = RESTAURANT_LINE, customer_number
    values = {
        "type": call_type,
        "state": state,
        "id": call_id,
        "from": theirs if call_type == "received" else ours,
        "to": ours if call_type == "received" else theirs,
        "start_time": gmt(dt.datetime.now(dt.UTC)),
    }
    values.update(extra)
    return values


async def stored(container: Container, tenant: Tenant, external_id: str) -> Row[Any]:
    async with container.engine.connect() as conn:
        return (
            await conn.execute(
                select(call).where(
                    call.c.restaurant_id == tenant.id,
                    call.c.source == "zoho",
                    call.c.external_id == external_id,
                )
            )
        ).one()


async def message_of(container: Container, call_id: int) -> Row[Any] | None:
    async with container.engine.connect() as conn:
        return (await conn.execute(select(message).where(message.c.call_id == call_id))).first()


async def test_received_missed_call_texts_the_caller_in_from(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    reply = await notify(client, tenant, params("received", "missed", number, "zc-1"))
    assert reply.status_code == 200
    assert reply.json() == SUCCESS
    row = await stored(container, tenant, "zc-1")
    assert (row.direction, row.disposition, row.outcome) == ("inbound", "missed", "SENT")
    assert row.caller_phone_number == number
    assert row.template_type == "MISSED_CALL"
    assert [b["to"] for b in sent_bodies(graph)] == [number.lstrip("+")]


@pytest.mark.parametrize("state", ["busy", "notavailable", "noanswer", "rejected"])
async def test_unattended_outgoing_call_texts_the_customer_in_to(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
    state: str,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    reply = await notify(client, tenant, params("dialed", state, number, f"zd-{state}"))
    assert reply.json() == SUCCESS
    row = await stored(container, tenant, f"zd-{state}")
    assert (row.direction, row.disposition, row.outcome) == ("outbound", "missed", "SENT")
    assert row.template_type == "CALLBACK_UNANSWERED"
    assert row.details["zoho_state"] == state
    assert [b["to"] for b in sent_bodies(graph)] == [number.lstrip("+")]


async def test_dialed_invalid_forces_invalid_number_without_a_message(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    reply = await notify(client, tenant, params("dialed", "invalid", random_mobile(), "zi-1"))
    assert reply.json() == SUCCESS
    row = await stored(container, tenant, "zi-1")
    assert (row.disposition, row.outcome) == ("missed", "SKIPPED_INVALID_NUMBER")
    assert row.customer_id is not None
    assert await message_of(container, row.id) is None
    assert len(graph.calls) == 0


async def test_dialed_blocked_forces_suppressed_without_opting_the_customer_out(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    reply = await notify(client, tenant, params("dialed", "blocked", number, "zb-1"))
    assert reply.json() == SUCCESS
    row = await stored(container, tenant, "zb-1")
    assert row.outcome == "SKIPPED_SUPPRESSED"
    async with container.engine.connect() as conn:
        opted_out = (
            await conn.execute(
                select(customer.c.opted_out_at).where(customer.c.id == row.customer_id)
            )
        ).scalar_one()
    assert opted_out is None
    assert len(graph.calls) == 0


@pytest.mark.parametrize(
    ("call_type", "direction"), [("received", "inbound"), ("dialed", "outbound")]
)
async def test_answered_call_is_stored_as_answered_without_a_decision(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
    call_type: str,
    direction: str,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    reply = await notify(client, tenant, params(call_type, "answered", number, "za-1"))
    assert reply.json() == SUCCESS
    row = await stored(container, tenant, "za-1")
    assert (row.direction, row.disposition, row.outcome) == (direction, "answered", None)
    assert row.caller_phone_number == number
    assert row.customer_id is not None
    assert len(graph.calls) == 0


@pytest.mark.parametrize(
    ("call_type", "state"),
    [
        ("received", "ringing"),
        ("dialed", "ringing"),
        ("received", "ended"),
        ("received", "busy"),
        ("dialed", "ended"),
    ],
)
async def test_other_states_are_stored_without_a_message(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
    call_type: str,
    state: str,
) -> None:
    tenant = await make_restaurant()
    body = params(call_type, state, random_mobile(), "zo-1")
    del body["start_time"]
    reply = await notify(client, tenant, body)
    assert reply.json() == SUCCESS
    row = await stored(container, tenant, "zo-1")
    assert (row.disposition, row.outcome) == ("other", None)
    assert row.details["zoho_state"] == state
    assert len(graph.calls) == 0


async def test_ringing_then_missed_updates_the_same_call_and_decides_once(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    await notify(client, tenant, params("received", "ringing", number, "zr-1"))
    await notify(client, tenant, params("received", "missed", number, "zr-1"))
    await notify(client, tenant, params("received", "missed", number, "zr-1"))
    row = await stored(container, tenant, "zr-1")
    assert (row.disposition, row.outcome) == ("missed", "SENT")
    assert len(graph.calls) == 1


async def test_replayed_notification_answers_success_and_sends_nothing_more(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    body = params("received", "missed", random_mobile(), "zp-1")
    first, second = await notify(client, tenant, body), await notify(client, tenant, body)
    assert first.json() == second.json() == SUCCESS
    assert len(graph.calls) == 1


async def test_same_id_with_another_number_is_an_invalid_value_of_the_customer_param(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    await notify(client, tenant, params("received", "missed", random_mobile(), "zx-1"))
    reply = await notify(client, tenant, params("received", "missed", random_mobile(), "zx-1"))
    assert reply.status_code == 400
    body = reply.json()
    assert body["status"] == "error"
    assert body["code"] == "INVALID_PARAM_VALUE"
    assert body["details"] == {"params": ["from"]}
    dialed = await notify(client, tenant, params("dialed", "busy", random_mobile(), "zx-2"))
    again = await notify(client, tenant, params("dialed", "busy", random_mobile(), "zx-2"))
    assert dialed.status_code == 200
    assert again.json()["details"] == {"params": ["to"]}


async def test_plus_sent_unencoded_is_still_read_as_plus(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    start = gmt(dt.datetime.now(dt.UTC)).replace(" ", "+")
    raw = f"type=received&state=missed&id=zu-1&from={number}&to=+33140000000&start_time={start}"
    reply = await notify(client, tenant, raw)
    assert reply.json() == SUCCESS
    row = await stored(container, tenant, "zu-1")
    assert row.caller_phone_number == number
    assert row.outcome == "SENT"


async def test_percent_encoded_plus_is_read_as_plus(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    raw = urlencode(params("received", "missed", number, "ze-1"))
    assert "%2B33" in raw
    await notify(client, tenant, raw)
    assert (await stored(container, tenant, "ze-1")).caller_phone_number == number


async def test_start_time_is_read_as_gmt(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    moment = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7)).replace(microsecond=0)
    body = params("received", "missed", random_mobile(), "zt-1", start_time=gmt(moment))
    await notify(client, tenant, body)
    assert (await stored(container, tenant, "zt-1")).occurred_at == moment


async def test_old_start_time_makes_the_call_stale(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant()
    old = gmt(dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    await notify(
        client, tenant, params("received", "missed", random_mobile(), "zs-1", start_time=old)
    )
    assert (await stored(container, tenant, "zs-1")).outcome == "SKIPPED_STALE"
    assert len(graph.calls) == 0


async def test_answered_callback_within_the_send_delay_cancels_the_message(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    container: Container,
) -> None:
    tenant = await make_restaurant(send_delay_seconds=120)
    number = random_mobile()
    two_minutes_ago = gmt(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
    await notify(
        client, tenant, params("received", "missed", number, "zm-1", start_time=two_minutes_ago)
    )
    missed = await stored(container, tenant, "zm-1")
    assert missed.outcome == "QUEUED"
    await notify(client, tenant, params("dialed", "answered", number, "zm-2"))
    queued = await message_of(container, missed.id)
    assert queued is not None
    assert queued.status == "cancelled"
    assert (await stored(container, tenant, "zm-1")).recovered_at is not None
    assert len(graph.calls) == 0


async def test_every_missing_parameter_is_named(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await notify(client, tenant, "type=dialed&state=busy&id=&from=&to=&start_time=")
    assert reply.status_code == 400
    body = reply.json()
    assert body["status"] == "error"
    assert body["code"] == "REQUIRED_PARAM_MISSING"
    assert body["details"] == {"params": ["id", "from", "to", "start_time"]}
    assert body["message"]
    empty = (await notify(client, tenant, "")).json()
    assert empty["details"] == {"params": ["type", "state", "id", "from", "to"]}


async def test_start_time_is_only_required_for_missed_and_unattended_states(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    missed = params("received", "missed", random_mobile(), "zq-1")
    del missed["start_time"]
    answered = params("received", "answered", random_mobile(), "zq-2")
    del answered["start_time"]
    assert (await notify(client, tenant, missed)).json()["details"] == {"params": ["start_time"]}
    assert (await notify(client, tenant, answered)).json() == SUCCESS


@pytest.mark.parametrize(
    ("override", "param"),
    [
        ({"type": "forwarded"}, "type"),
        ({"start_time": "2026/05/10 12:00"}, "start_time"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"state": "no answer!"}, "state"),
    ],
)
async def test_unreadable_values_are_invalid_param_values(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, override: dict[str, str], param: str
) -> None:
    tenant = await make_restaurant()
    reply = await notify(
        client, tenant, {**params("received", "missed", random_mobile(), "zv-1"), **override}
    )
    assert reply.status_code == 400
    assert reply.json()["code"] == "INVALID_PARAM_VALUE"
    assert reply.json()["details"] == {"params": [param]}


async def test_body_that_is_not_utf8_is_an_invalid_param_value(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        URL, content=b"type=received&state=\xff\xfe", headers=zoho_headers(tenant)
    )
    assert reply.status_code == 400
    assert reply.json()["code"] == "INVALID_PARAM_VALUE"


async def test_body_over_256_kib_is_an_invalid_param_value(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    body = urlencode(params("received", "missed", random_mobile(), "zl-1", voiceuri="x" * 300_000))
    reply = await notify(client, tenant, body)
    assert reply.status_code == 400
    assert reply.json()["code"] == "INVALID_PARAM_VALUE"


@pytest.mark.parametrize("kind", [None, "wrong", TokenKind.PARTNER, TokenKind.OPS])
async def test_bad_token_is_invalid_oauthtoken(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, kind: TokenKind | str | None
) -> None:
    tenant = await make_restaurant()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if isinstance(kind, TokenKind):
        headers["Authorization"] = f"Zoho-oauthtoken {tenant.tokens[kind]}"
    elif kind is not None:
        headers["Authorization"] = "Zoho-oauthtoken 1000.xxxxxxxxxxxxxxx.4ee7"
    reply = await client.post(
        URL, content=urlencode(params("received", "missed", random_mobile(), "z")), headers=headers
    )
    assert reply.status_code == 401
    assert reply.json() == {"status": "error", "code": "INVALID_OAUTHTOKEN"}


async def test_bearer_scheme_is_not_zohos_scheme(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        URL,
        content="type=received",
        headers={"Authorization": f"Bearer {tenant.tokens[TokenKind.ZOHO]}"},
    )
    assert reply.status_code == 401


async def test_database_failure_is_an_internal_error_without_internals(
    make_restaurant: MakeRestaurant,
) -> None:
    tenant = await make_restaurant()
    settings = make_settings("postgresql://postgres@127.0.0.1:1/none")
    down = await build_container(settings, start_worker=False, graph=POSTER)
    try:
        app = create_app(settings, down)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            reply = await http.post(
                URL,
                content=urlencode(params("received", "missed", random_mobile(), "z")),
                headers=zoho_headers(tenant),
            )
    finally:
        await down.aclose()
    assert reply.status_code == 500
    assert reply.json() == {"status": "error", "code": "INTERNAL_ERROR"}


async def test_unknown_phonebridge_path_answers_in_zohos_shape(client: httpx.AsyncClient) -> None:
    reply = await client.post("/phonebridge/v3/nothing")
    assert reply.status_code == 404
    assert reply.json()["status"] == "error"
