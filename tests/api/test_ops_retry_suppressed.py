"""An ops retry never messages a suppressed customer (SPEC §3, §8; issue 13 item 3): a failed
message whose customer opted out or is flagged ``bad_actor`` answers 409 ``CONFLICT`` and stays
failed; nothing is sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from ringback.bootstrap import Container
from ringback.db.tables import message, message_event
from ringback.messages.states import MessageStatus
from ringback.tenancy.model import TokenKind
from tests.api.ccai_support import basic, inbound_body, make_ccai_restaurant
from tests.api.conftest import sent_bodies
from tests.conftest import MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql

OPS = TokenKind.OPS


def graph_refuses_for_good(graph: respx.MockRouter) -> None:
    graph.post(path__regex=r"/[^/]+/messages").mock(
        return_value=httpx.Response(400, json={"error": {"code": 100, "message": "bad"}})
    )


async def failed_message(
    client: httpx.AsyncClient, tenant: Tenant, graph: respx.MockRouter, number: str
) -> dict[str, Any]:
    """A missed call whose message failed for good at its inline attempt."""
    graph_refuses_for_good(graph)
    reply = await client.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": number},
        headers=tenant.auth(TokenKind.PARTNER),
    )
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()["data"]
    assert data["outcome"] == "FAILED"
    return data


async def message_id_of(container: Container, call_id: str) -> int:
    async with container.engine.connect() as conn:
        found = await conn.scalar(select(message.c.id).where(message.c.call_id == int(call_id)))
    assert found is not None
    return int(found)


async def state(container: Container, message_id: int) -> tuple[str, int, list[str]]:
    """(status, attempts, timeline statuses)."""
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                select(message.c.status, message.c.attempts).where(message.c.id == message_id)
            )
        ).one()
        events = await conn.scalars(
            select(message_event.c.status)
            .where(message_event.c.message_id == message_id)
            .order_by(message_event.c.id)
        )
        return row.status, row.attempts, list(events)


async def retry(client: httpx.AsyncClient, tenant: Tenant, message_id: int) -> httpx.Response:
    return await client.post(f"/api/ops/v1/messages/{message_id}/retry", headers=tenant.auth(OPS))


def sends_to(graph: respx.MockRouter, number: str) -> int:
    """Sends to this test's number only: the worker also sends what other tests left due."""
    return sum(1 for b in sent_bodies(graph) if b["to"] == number.lstrip("+"))


async def assert_refused_and_never_sent(
    client: httpx.AsyncClient,
    container: Container,
    tenant: Tenant,
    graph: respx.MockRouter,
    message_id: int,
    number: str,
) -> None:
    before = await state(container, message_id)
    assert sends_to(graph, number) == 1

    reply = await retry(client, tenant, message_id)

    assert reply.status_code == 409, reply.text
    error = reply.json()["error"]
    assert error["code"] == "CONFLICT"
    assert "opted out" in error["message"]
    assert "bad_actor" in error["message"]
    assert await state(container, message_id) == before
    assert before[0] == MessageStatus.FAILED.value
    await container.dispatcher.run_once(100)  # the worker finds nothing of it to send
    assert sends_to(graph, number) == 1


async def test_a_retry_for_an_opted_out_customer_is_a_409_and_nothing_is_sent(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    data = await failed_message(client, tenant, graph, number)
    message_id = await message_id_of(container, data["id"])
    opt_out = await client.put(
        f"/api/ops/v1/customers/{data['customer_id']}/opt-out", headers=tenant.auth(OPS)
    )
    assert opt_out.status_code == 200

    await assert_refused_and_never_sent(client, container, tenant, graph, message_id, number)


async def test_a_retry_for_a_bad_actor_is_a_409_and_nothing_is_sent(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    data = await failed_message(client, tenant, graph, number)
    message_id = await message_id_of(container, data["id"])
    created = await client.post(
        "/apps/api/v1/calls", json=inbound_body(number), headers=basic(tenant)
    )
    assert created.status_code == 201, created.text
    flagged = await client.patch(
        f"/apps/api/v1/calls/{created.json()['id']}/customer_flag",
        json={"bad_actor": True},
        headers=basic(tenant),
    )
    assert flagged.status_code == 200, flagged.text

    await assert_refused_and_never_sent(client, container, tenant, graph, message_id, number)


async def test_a_customer_who_opted_back_in_can_have_the_message_retried(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    data = await failed_message(client, tenant, graph, random_mobile())
    message_id = await message_id_of(container, data["id"])
    url = f"/api/ops/v1/customers/{data['customer_id']}/opt-out"
    assert (await client.put(url, headers=tenant.auth(OPS))).status_code == 200
    assert (await retry(client, tenant, message_id)).status_code == 409
    assert (await client.delete(url, headers=tenant.auth(OPS))).status_code == 200

    reply = await retry(client, tenant, message_id)

    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["status"] == "queued"
    await container.dispatcher.run_once(100)  # settled here: no due message left for other tests
    assert (await state(container, message_id))[0] == MessageStatus.FAILED.value


async def test_a_message_that_is_not_failed_says_so_whatever_its_customer(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": random_mobile()},
        headers=tenant.auth(TokenKind.PARTNER),
    )
    data = reply.json()["data"]
    assert data["outcome"] == "SENT"
    message_id = await message_id_of(container, data["id"])
    opt_out = await client.put(
        f"/api/ops/v1/customers/{data['customer_id']}/opt-out", headers=tenant.auth(OPS)
    )
    assert opt_out.status_code == 200

    again = await retry(client, tenant, message_id)

    assert again.status_code == 409
    assert again.json()["error"]["message"] == "Only a failed message can be retried"
