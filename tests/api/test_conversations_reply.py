"""Staff replies (SPEC §10): a free-form WhatsApp text through the outbox, inside the 24-hour
customer service window and never to a suppressed customer; statuses from the status webhook,
retries by the worker, metrics like every message."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select, update

from ringback.app import create_app
from ringback.bootstrap import Container, build_container
from ringback.db.tables import customer, message, message_event
from ringback.http.metrics import PrometheusMetrics
from ringback.tenancy.model import TokenKind
from tests.api.conftest import sent_bodies
from tests.api.conversations_support import (
    APP_SECRET,
    OPS,
    deliver,
    hooks,
    inbound,
    own_number,
    payload,
    pnid,
    webhook,
)
from tests.conftest import MakeRestaurant, Tenant, make_settings, random_mobile
from tests.graphmock import POSTER, graph_error

pytestmark = pytest.mark.sql
__all__ = ["hooks"]

BASE = "/api/ops/v1/conversations"
TEXT = "Bonjour ! Oui, nous avons une table pour deux à 20 h. À ce soir !"


async def conversation_with(
    client: httpx.AsyncClient, tenant: Tenant, *, hours_ago: float = 0, sender: str | None = None
) -> tuple[str, str]:
    """A conversation whose customer wrote ``hours_ago``: (conversation id, their number)."""
    number = sender or random_mobile()
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    item = inbound(sender=number, text="Bonjour, une table ce soir ?", at=at)
    assert (await deliver(client, webhook(pnid(tenant), item))).status_code == 200
    listed = await client.get(BASE, params={"phone": number}, headers=tenant.auth(OPS))
    (chat,) = listed.json()["data"]
    return chat["id"], number


async def send_reply(
    client: httpx.AsyncClient, tenant: Tenant, conversation_id: str, text: str = TEXT
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{conversation_id}/messages", json={"text": text}, headers=tenant.auth(OPS)
    )


async def outbox_row(container: Container, message_id: str) -> Any:
    async with container.engine.connect() as conn:
        return (await conn.execute(select(message).where(message.c.id == int(message_id)))).one()


async def timeline(container: Container, message_id: str) -> list[str]:
    async with container.engine.connect() as conn:
        events = await conn.scalars(
            select(message_event.c.status)
            .where(message_event.c.message_id == int(message_id))
            .order_by(message_event.c.id)
        )
        return list(events)


def texts_to(graph: respx.MockRouter, number: str) -> list[dict[str, Any]]:
    return [b for b in sent_bodies(graph) if b["to"] == number.lstrip("+") and b["type"] == "text"]


async def test_a_reply_inside_the_window_is_sent_as_a_text_and_answered_201(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant, hours_ago=23)

    reply = await send_reply(hooks, tenant, conversation_id)

    assert reply.status_code == 201, reply.text
    sent = reply.json()["data"]
    assert (sent["author"], sent["direction"], sent["type"], sent["text"]) == (
        "staff",
        "outbound",
        "text",
        TEXT,
    )
    assert sent["message"]["status"] == "sent"
    assert sent["message"]["attempts"] == 1
    assert sent["provider_message_id"] == sent["message"]["provider_message_id"]
    assert texts_to(graph, number) == [
        {"messaging_product": "whatsapp", "to": number.lstrip("+"), "type": "text",
         "text": {"body": TEXT}}
    ]  # fmt: skip
    request = graph.calls.last.request
    assert request.headers["authorization"] == "Bearer wa-access-token"
    assert request.url.path.endswith(f"/{pnid(tenant)}/messages")
    row = await outbox_row(container, sent["message"]["id"])
    assert (row.body, row.call_id, row.template_name, row.parameters) == (TEXT, None, None, None)
    assert await timeline(container, sent["message"]["id"]) == ["queued", "sending", "sent"]
    thread = (await hooks.get(f"{BASE}/{conversation_id}", headers=tenant.auth(OPS))).json()
    assert [m["author"] for m in thread["data"]["messages"]] == ["customer", "staff"]
    assert thread["data"]["last_message"]["direction"] == "outbound"
    assert thread["data"]["last_message"]["text"] == TEXT


async def test_status_webhooks_move_a_staff_reply_like_any_message(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, _ = await conversation_with(hooks, tenant)
    sent = (await send_reply(hooks, tenant, conversation_id)).json()["data"]["message"]
    for kind in ("delivered", "read"):
        body = copy.deepcopy(payload(f"whatsapp_status_{kind}"))
        value = body["entry"][0]["changes"][0]["value"]
        value["metadata"]["phone_number_id"] = pnid(tenant)
        value["statuses"][0]["id"] = sent["provider_message_id"]
        assert (await deliver(hooks, body)).status_code == 200

    row = await outbox_row(container, sent["id"])

    assert row.status == "read"
    assert await timeline(container, sent["id"]) == [
        "queued",
        "sending",
        "sent",
        "delivered",
        "read",
    ]


async def test_a_reply_after_the_window_closed_is_409_window_closed_and_sends_nothing(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant, hours_ago=24.1)

    reply = await send_reply(hooks, tenant, conversation_id)

    assert reply.status_code == 409
    error = reply.json()["error"]
    assert error["code"] == "WINDOW_CLOSED"
    assert "within 24 hours of the customer's last message" in error["message"]
    assert texts_to(graph, number) == []
    async with container.engine.connect() as conn:
        kept = await conn.scalar(
            select(message.c.id).where(
                message.c.restaurant_id == tenant.id, message.c.body.is_not(None)
            )
        )
    assert kept is None


async def test_the_window_is_counted_from_the_latest_of_the_customers_messages(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant, hours_ago=30)
    closed = await send_reply(hooks, tenant, conversation_id)
    await conversation_with(hooks, tenant, hours_ago=1, sender=number)

    reopened = await send_reply(hooks, tenant, conversation_id)

    assert (closed.status_code, reopened.status_code) == (409, 201)


@pytest.mark.parametrize("flag", ["opted_out", "bad_actor"])
async def test_a_reply_to_a_suppressed_customer_is_409_conflict(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    flag: str,
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant)
    values = (
        {"opted_out_at": dt.datetime.now(dt.UTC)} if flag == "opted_out" else {"bad_actor": True}
    )
    async with container.engine.begin() as conn:
        await conn.execute(
            update(customer)
            .where(customer.c.restaurant_id == tenant.id, customer.c.phone_number == number)
            .values(**values)
        )

    reply = await send_reply(hooks, tenant, conversation_id)

    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "CONFLICT"
    assert ("opted out" if flag == "opted_out" else "bad_actor") in reply.json()["error"]["message"]
    assert texts_to(graph, number) == []


@pytest.mark.parametrize(
    "raw",
    [
        '{"text": ""}',
        '{"text": "   \\n"}',
        json.dumps({"text": "x" * 4097}),
        "{}",
        '{"text": 42}',
        '{"text": "a\\u0000b"}',
        '{"text": "\\ud800"}',
    ],
    ids=["empty", "blank", "too-long", "missing", "number", "nul", "lone-surrogate"],
)
async def test_a_bad_reply_body_is_refused_in_the_envelope_and_nothing_is_sent(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter, raw: str
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant)

    reply = await hooks.post(
        f"{BASE}/{conversation_id}/messages",
        content=raw.encode(),
        headers={**tenant.auth(OPS), "Content-Type": "application/json"},
    )

    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "VALIDATION_ERROR"
    assert reply.json()["error"]["details"][0]["field"].startswith("body")
    assert texts_to(graph, number) == []


async def test_a_reply_of_4096_characters_is_taken_and_one_that_is_not_json_is_400(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, _ = await conversation_with(hooks, tenant)

    longest = await send_reply(hooks, tenant, conversation_id, "é" * 4096)
    garbled = await hooks.post(
        f"{BASE}/{conversation_id}/messages",
        content=b"{text:",
        headers={**tenant.auth(OPS), "Content-Type": "application/json"},
    )

    assert longest.status_code == 201
    assert garbled.status_code == 400
    assert garbled.json()["error"]["code"] == "MALFORMED_REQUEST"


async def test_a_text_the_provider_refuses_for_good_is_answered_failed(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, _ = await conversation_with(hooks, tenant)
    graph.post(path__regex=r"/[^/]+/messages").mock(return_value=graph_error(131047))

    reply = await send_reply(hooks, tenant, conversation_id)

    assert reply.status_code == 201
    sent = reply.json()["data"]["message"]
    assert sent["status"] == "failed"
    assert "131047" in sent["last_error"]


async def test_a_transient_failure_leaves_it_queued_and_the_worker_sends_it(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant)
    route = graph.post(path__regex=r"/[^/]+/messages")
    route.mock(return_value=graph_error(131000, status=500))
    first = (await send_reply(hooks, tenant, conversation_id)).json()["data"]["message"]
    route.mock(side_effect=_accept)

    row = await outbox_row(container, first["id"])
    await _until_sent(container, row.id)

    assert first["status"] == "queued"
    assert (await outbox_row(container, first["id"])).status == "sent"
    assert [b["text"]["body"] for b in texts_to(graph, number)] == [TEXT, TEXT]


async def test_without_an_inline_send_the_reply_is_queued_and_the_worker_sends_the_text(
    database_url: str,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    queued_only = make_settings(
        database_url, inline_dispatch_timeout=0, whatsapp_app_secret=APP_SECRET
    )
    app = create_app(queued_only, dataclasses.replace(container, settings=queued_only))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        tenant = await own_number(make_restaurant)
        conversation_id, number = await conversation_with(client, tenant)
        sent = (await send_reply(client, tenant, conversation_id)).json()["data"]["message"]

    await _until_sent(container, int(sent["id"]))

    assert sent["status"] == "queued"
    assert [b["text"]["body"] for b in texts_to(graph, number)] == [TEXT]


async def test_an_answered_call_leaves_a_queued_staff_reply_to_go(
    database_url: str,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    queued_only = make_settings(
        database_url, inline_dispatch_timeout=0, whatsapp_app_secret=APP_SECRET
    )
    app = create_app(queued_only, dataclasses.replace(container, settings=queued_only))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        tenant = await own_number(make_restaurant)
        conversation_id, number = await conversation_with(client, tenant)
        sent = (await send_reply(client, tenant, conversation_id)).json()["data"]["message"]
        answered = await client.post(
            "/phonebridge/v3/callnotify",
            data={
                "type": "received", "state": "answered", "id": f"z-{sent['id']}",
                "from": number, "to": "+33185000000",
                "start_time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            },
            headers={"Authorization": f"Zoho-oauthtoken {tenant.tokens[TokenKind.ZOHO]}"},
        )  # fmt: skip

    assert answered.status_code == 200, answered.text
    assert (await outbox_row(container, sent["id"])).status == "queued"


async def test_replies_and_the_customers_messages_racing_each_other_all_land(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    """Both take the customer's row, then the conversation's: they queue on the customer and
    every request lands (a deadlock would abort one of them with a 5xx)."""
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant)

    async def customer_writes(i: int) -> httpx.Response:
        body = webhook(pnid(tenant), inbound(sender=number, text=f"encore {i}"))
        return await deliver(hooks, body)

    rounds = [
        await asyncio.gather(
            send_reply(hooks, tenant, conversation_id, f"réponse {i}"), customer_writes(i)
        )
        for i in range(8)
    ]

    assert [(r.status_code, w.status_code) for r, w in rounds] == [(201, 200)] * 8
    thread = (await hooks.get(f"{BASE}/{conversation_id}", headers=tenant.auth(OPS))).json()
    authors = [m["author"] for m in thread["data"]["messages"]]
    assert (authors.count("staff"), authors.count("customer")) == (8, 9)


@pytest.fixture
async def metered(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, PrometheusMetrics]]:
    settings = make_settings(database_url, db_pool_size=2, whatsapp_app_secret=APP_SECRET)
    metrics = PrometheusMetrics()
    built = await build_container(settings, start_worker=False, metrics=metrics, graph=POSTER)
    app = create_app(settings, built, metrics=metrics)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            yield http, metrics
    finally:
        await built.aclose()


async def test_metrics_count_inbound_messages_by_type_once_and_staff_replies_as_messages(
    metered: tuple[httpx.AsyncClient, PrometheusMetrics],
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    client, metrics = metered
    tenant = await own_number(make_restaurant)
    number = random_mobile()
    body = webhook(
        pnid(tenant),
        inbound(sender=number, text="bonjour"),
        inbound("image", sender=number),
        inbound("reaction", sender=number),
    )
    await deliver(client, body)
    await deliver(client, body)  # a retry counts nothing again
    conversation_id, _ = await conversation_with(client, tenant, sender=number)

    await send_reply(client, tenant, conversation_id)
    scrape = (await client.get("/metrics")).text

    assert 'ringback_inbound_messages_total{type="text"} 2.0' in scrape
    assert 'ringback_inbound_messages_total{type="image"} 1.0' in scrape
    assert 'ringback_inbound_messages_total{type="reaction"} 1.0' in scrape
    assert metrics.messages.labels("queued")._value.get() == 1
    assert metrics.messages.labels("sending")._value.get() == 1
    assert metrics.messages.labels("sent")._value.get() == 1


async def test_a_cookie_signed_reply_from_another_origin_is_refused(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await own_number(make_restaurant)
    conversation_id, number = await conversation_with(hooks, tenant)
    signed_in = await hooks.post("/ops/login", data={"token": tenant.tokens[OPS]},
                                 headers={"Origin": "http://test"})  # fmt: skip
    cookie = signed_in.cookies["ringback_ops"]

    refused = await hooks.post(
        f"{BASE}/{conversation_id}/messages",
        json={"text": TEXT},
        headers={"Origin": "https://evil.example", "Cookie": f"ringback_ops={cookie}"},
    )

    assert refused.status_code == 403
    assert texts_to(graph, number) == []


def _accept(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(200, json={"messages": [{"id": f"wamid.retry-{body['to']}-{id(body)}"}]})


async def _until_sent(container: Container, message_id: int) -> None:
    """Run the worker until the message is no longer waiting (bounded: it is due at once or
    after one short backoff)."""
    for _ in range(200):
        async with container.engine.connect() as conn:
            status = await conn.scalar(select(message.c.status).where(message.c.id == message_id))
        if status not in ("queued", "sending"):
            return
        await container.dispatcher.run_once(50)
        await asyncio.sleep(0.02)
    raise AssertionError(f"message {message_id} still waiting")
