"""``replied_at`` (SPEC §10): a missed call whose message was sent is replied at the customer's
first message to that restaurant within 7 days after the send; the calls list filters on it and
the statistics count it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import update

from ringback.bootstrap import Container
from ringback.db.tables import message_event
from tests.api.conversations_support import (
    OPS,
    call_replied_at,
    deliver,
    hooks,
    inbound,
    message_of_call,
    own_number,
    pnid,
    report_missed,
    webhook,
)
from tests.conftest import MakeRestaurant, Tenant, random_mobile
from tests.graphmock import graph_error

pytestmark = pytest.mark.sql
__all__ = ["hooks"]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def write(
    client: httpx.AsyncClient, tenant: Tenant, sender: str, at: dt.datetime, text: str = "Oui"
) -> None:
    item = inbound(sender=sender, text=text, at=at)
    assert (await deliver(client, webhook(pnid(tenant), item))).status_code == 200


async def test_the_first_message_after_the_send_marks_the_call_replied(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    number = random_mobile()
    missed = await report_missed(hooks, tenant, number)
    first = now() + dt.timedelta(seconds=1)

    await write(hooks, tenant, number, first)
    await write(hooks, tenant, number, first + dt.timedelta(minutes=3), "encore")

    assert missed["outcome"] == "SENT"
    assert await call_replied_at(container, missed["id"]) == first
    item = (await hooks.get(f"/api/ops/v1/calls/{missed['id']}", headers=tenant.auth(OPS))).json()
    assert item["data"]["replied_at"] == first.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_a_message_written_before_the_send_is_no_reply(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    number = random_mobile()
    missed = await report_missed(hooks, tenant, number)

    await write(hooks, tenant, number, now() - dt.timedelta(minutes=10))

    assert await call_replied_at(container, missed["id"]) is None


async def test_a_message_more_than_7_days_after_the_send_is_no_reply(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    number = random_mobile()
    missed = await report_missed(hooks, tenant, number)
    sent = await message_of_call(container, missed["id"])
    async with container.engine.begin() as conn:  # as if the text went out 7 days and 1 s ago
        await conn.execute(
            update(message_event)
            .where(message_event.c.message_id == sent.id)
            .values(created_at=message_event.c.created_at - dt.timedelta(days=7, seconds=2))
        )

    await write(hooks, tenant, number, now())

    assert await call_replied_at(container, missed["id"]) is None


async def test_a_call_whose_message_was_never_accepted_is_never_replied(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    number = random_mobile()
    graph.post(path__regex=r"/[^/]+/messages").mock(return_value=graph_error(131026))
    failed = await report_missed(hooks, tenant, number)

    await write(hooks, tenant, number, now() + dt.timedelta(seconds=1))

    assert failed["outcome"] == "FAILED"
    assert await call_replied_at(container, failed["id"]) is None


async def test_an_earlier_message_arriving_late_moves_replied_at_back_never_forward(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    number = random_mobile()
    missed = await report_missed(hooks, tenant, number)
    start = now() + dt.timedelta(seconds=2)

    await write(hooks, tenant, number, start + dt.timedelta(minutes=5))
    await write(hooks, tenant, number, start)
    await write(hooks, tenant, number, start + dt.timedelta(minutes=9))

    assert await call_replied_at(container, missed["id"]) == start


async def test_a_message_to_another_restaurant_replies_to_none_of_ours(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    ours = await own_number(make_restaurant)
    theirs = await own_number(make_restaurant)
    number = random_mobile()
    missed = await report_missed(hooks, ours, number)

    await write(hooks, theirs, number, now() + dt.timedelta(seconds=1))

    assert await call_replied_at(container, missed["id"]) is None


async def test_the_replied_filter_and_the_statistics(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    answered_number, silent_number = random_mobile(), random_mobile()
    replied = await report_missed(hooks, tenant, answered_number)
    silent = await report_missed(hooks, tenant, silent_number)
    await write(hooks, tenant, answered_number, now() + dt.timedelta(seconds=1))

    def ids(reply: httpx.Response) -> list[str]:
        return [c["id"] for c in reply.json()["data"]]

    calls = "/api/ops/v1/calls"
    yes = await hooks.get(calls, params={"replied": "true"}, headers=tenant.auth(OPS))
    no = await hooks.get(calls, params={"replied": "false"}, headers=tenant.auth(OPS))
    bad = await hooks.get(calls, params={"replied": "perhaps"}, headers=tenant.auth(OPS))
    stats = (await hooks.get("/api/ops/v1/stats", headers=tenant.auth(OPS))).json()["data"]

    assert ids(yes) == [replied["id"]]
    assert ids(no) == [silent["id"]]
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == [
        {"field": "query.replied", "message": "expected true or false"}
    ]
    totals: dict[str, Any] = stats["totals"]
    assert (totals["replied"], totals["messages"]["sent"], totals["reply_rate"]) == (1, 2, 0.5)
    assert sum(b["replied"] for b in stats["buckets"]) == 1
