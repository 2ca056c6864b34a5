"""WhatsApp webhooks through the real app and a real PostgreSQL (SPEC §7, §3 message statuses)."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, select, update

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.db.tables import customer, message, message_event, pending_receipt
from tests.api.conversations_support import own_number as restaurant_with_own_number
from tests.api.conversations_support import pnid as phone_number_id
from tests.api.conversations_support import report_missed as report
from tests.conftest import (
    GRAPH_BASE,
    MakeRestaurant,
    Tenant,
    make_settings,
    random_mobile,
)
from tests.graphmock import mock_graph

pytestmark = pytest.mark.sql

PAYLOADS = Path(__file__).parent.parent / "payloads"
APP_SECRET = "test-app-secret-5f0c1d"
VERIFY_TOKEN = "test-verify-token-9a8b"
_clock = itertools.count(1_750_000_000)


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return loaded


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def receipt(kind: str, wamid: str, phone_number_id: str, at: int | None = None) -> dict[str, Any]:
    body = copy.deepcopy(payload(f"whatsapp_status_{kind}"))
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    value["statuses"][0]["id"] = wamid
    value["statuses"][0]["timestamp"] = str(at if at is not None else next(_clock))
    return body


def inbound_text(text: str, sender: str, phone_number_id: str) -> dict[str, Any]:
    """A customer's text message, with a provider id of its own (as every real one has)."""
    body = copy.deepcopy(payload("whatsapp_message_stop"))
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    value["contacts"][0]["wa_id"] = sender.lstrip("+")
    value["messages"][0]["from"] = sender.lstrip("+")
    value["messages"][0]["id"] = f"wamid.test-{uuid.uuid4().hex}"
    value["messages"][0]["text"]["body"] = text
    return body


@pytest.fixture
async def hooks(database_url: str, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a WhatsApp app secret and verify token configured."""
    settings = make_settings(
        database_url, whatsapp_app_secret=APP_SECRET, whatsapp_verify_token=VERIFY_TOKEN
    )
    app = create_app(settings, container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def deliver(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await client.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(raw)},
    )


async def sent_message(
    client: httpx.AsyncClient, tenant: Tenant, container: Container
) -> tuple[int, str]:
    """A missed call whose message the Graph API accepted: (message id, wamid)."""
    data = await report(client, tenant)
    assert data["outcome"] == "SENT"
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                select(message.c.id, message.c.provider_message_id).where(
                    message.c.call_id == int(data["id"])
                )
            )
        ).one()
    return row.id, row.provider_message_id


async def state(container: Container, message_id: int) -> tuple[str, str | None, list[str]]:
    """The message's status, last error and timeline statuses."""
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                select(message.c.status, message.c.last_error).where(message.c.id == message_id)
            )
        ).one()
        events = (
            await conn.execute(
                select(message_event.c.status)
                .where(message_event.c.message_id == message_id)
                .order_by(message_event.c.id)
            )
        ).scalars()
        return row.status, row.last_error, list(events)


async def opted_out(container: Container, tenant: Tenant, number: str) -> bool | None:
    """Whether the restaurant's customer with that number is opted out; None when unknown."""
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                select(customer.c.opted_out_at).where(
                    customer.c.restaurant_id == tenant.id, customer.c.phone_number == number
                )
            )
        ).first()
    return None if row is None else row.opted_out_at is not None


# --- the handshake -------------------------------------------------------------------------


async def test_handshake_with_the_verify_token_echoes_the_raw_challenge(
    hooks: httpx.AsyncClient,
) -> None:
    reply = await hooks.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert reply.status_code == 200
    assert reply.text == "1158201444"
    assert reply.headers["content-type"].startswith("text/plain")


# not hex, so it can never be part of a request id in the error body
CHALLENGE = "challenge-xyz"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": CHALLENGE},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": CHALLENGE},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": CHALLENGE},
        {"hub.mode": "subscribe", "hub.challenge": CHALLENGE},
    ],
    ids=["wrong-token", "wrong-mode", "no-mode", "no-token"],
)
async def test_handshake_without_subscribe_and_the_right_token_is_forbidden(
    hooks: httpx.AsyncClient, params: dict[str, str]
) -> None:
    reply = await hooks.get("/webhooks/whatsapp", params=params)
    assert reply.status_code == 403
    assert CHALLENGE not in reply.text


async def test_handshake_is_forbidden_when_no_verify_token_is_configured(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "42"},
    )
    assert reply.status_code == 403


# --- signatures ------------------------------------------------------------------------------


async def test_unsigned_tampered_or_wrongly_signed_posts_are_refused_and_change_nothing(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    message_id, wamid = await sent_message(hooks, tenant, container)
    raw = json.dumps(receipt("delivered", wamid, phone_number_id(tenant))).encode()
    tampered = raw.replace(b'"delivered"', b'"read"')
    attempts = [
        (raw, {}),
        (raw, {"X-Hub-Signature-256": signature(raw, "another-secret")}),
        (raw, {"X-Hub-Signature-256": signature(raw).removeprefix("sha256=")}),
        (raw, {"X-Hub-Signature-256": "sha256=zz"}),
        (tampered, {"X-Hub-Signature-256": signature(raw)}),
    ]
    for body, headers in attempts:
        reply = await hooks.post("/webhooks/whatsapp", content=body, headers=headers)
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "UNAUTHORIZED"
    assert (await state(container, message_id))[0] == "sent"


async def test_posts_are_refused_when_no_app_secret_is_configured(
    client: httpx.AsyncClient,
) -> None:
    raw = json.dumps(receipt("delivered", "wamid.x", "pn-any")).encode()
    reply = await client.post(
        "/webhooks/whatsapp", content=raw, headers={"X-Hub-Signature-256": signature(raw)}
    )
    assert reply.status_code == 401


async def test_a_signed_body_that_is_not_json_is_a_bad_request(hooks: httpx.AsyncClient) -> None:
    raw = b"{not json"
    reply = await hooks.post(
        "/webhooks/whatsapp", content=raw, headers={"X-Hub-Signature-256": signature(raw)}
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "MALFORMED_REQUEST"


# --- statuses --------------------------------------------------------------------------------


async def test_delivered_then_read_moves_the_message_forward_with_a_timeline_event_each(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    message_id, wamid = await sent_message(hooks, tenant, container)
    assert (
        await deliver(hooks, receipt("delivered", wamid, phone_number_id(tenant)))
    ).status_code == 200
    assert (await state(container, message_id))[0] == "delivered"
    assert (
        await deliver(hooks, receipt("read", wamid, phone_number_id(tenant)))
    ).status_code == 200
    status, _, events = await state(container, message_id)
    assert status == "read"
    assert events == ["queued", "sending", "sent", "delivered", "read"]


async def test_read_then_a_late_delivered_and_sent_never_move_the_message_back(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    message_id, wamid = await sent_message(hooks, tenant, container)
    pnid = phone_number_id(tenant)
    for kind in ("read", "delivered", "sent", "read"):
        assert (await deliver(hooks, receipt(kind, wamid, pnid))).status_code == 200
    status, _, events = await state(container, message_id)
    assert status == "read"
    assert events == ["queued", "sending", "sent", "read"]


async def test_delivered_before_sent_keeps_the_message_delivered(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    message_id, wamid = await sent_message(hooks, tenant, container)
    pnid = phone_number_id(tenant)
    await deliver(hooks, receipt("delivered", wamid, pnid, at=1_750_000_100))
    await deliver(hooks, receipt("sent", wamid, pnid, at=1_750_000_050))
    status, _, events = await state(container, message_id)
    assert status == "delivered"
    assert events.count("delivered") == 1


async def test_failed_records_the_error_code_and_title(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    message_id, wamid = await sent_message(hooks, tenant, container)
    assert (
        await deliver(hooks, receipt("failed", wamid, phone_number_id(tenant)))
    ).status_code == 200
    status, last_error, events = await state(container, message_id)
    assert status == "failed"
    assert last_error == "WhatsApp error 131026 Message undeliverable"
    assert events[-1] == "failed"


async def test_failed_after_delivered_is_ignored(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    message_id, wamid = await sent_message(hooks, tenant, container)
    await deliver(hooks, receipt("delivered", wamid, phone_number_id(tenant)))
    await deliver(hooks, receipt("failed", wamid, phone_number_id(tenant)))
    status, last_error, _ = await state(container, message_id)
    assert status == "delivered"
    assert last_error is None


async def test_concurrent_copies_of_one_receipt_move_the_message_once(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    message_id, wamid = await sent_message(hooks, tenant, container)
    body = receipt("delivered", wamid, phone_number_id(tenant))
    replies = await asyncio.gather(*(deliver(hooks, body) for _ in range(6)))
    assert [r.status_code for r in replies] == [200] * 6
    status, _, events = await state(container, message_id)
    assert status == "delivered"
    assert events.count("delivered") == 1


async def test_receipts_before_the_message_id_is_committed_are_applied_when_it_is(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    wamid = f"wamid.early{uuid.uuid4().hex}"
    pnid = phone_number_id(tenant)
    # they arrive out of order: the read receipt (later by Meta's clock) first
    for kind, at in (("read", 1_750_000_200), ("delivered", 1_750_000_100)):
        assert (await deliver(hooks, receipt(kind, wamid, pnid, at=at))).status_code == 200
    async with container.engine.connect() as conn:
        kept = (
            await conn.execute(
                select(func.count()).where(pending_receipt.c.provider_message_id == wamid)
            )
        ).scalar_one()
    assert kept == 2
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=True) as graph:
        graph.post(f"/{pnid}/messages").respond(200, json={"messages": [{"id": wamid}]})
        data = await report(hooks, tenant)
    assert data["outcome"] == "SENT"
    async with container.engine.connect() as conn:
        message_id = (
            await conn.execute(select(message.c.id).where(message.c.call_id == int(data["id"])))
        ).scalar_one()
        left = (
            await conn.execute(
                select(func.count()).where(pending_receipt.c.provider_message_id == wamid)
            )
        ).scalar_one()
    status, _, events = await state(container, message_id)
    assert status == "read"
    assert events == ["queued", "sending", "sent", "delivered", "read"]
    assert left == 0


async def test_receipts_for_an_unknown_business_number_are_ignored_and_not_kept(
    hooks: httpx.AsyncClient, container: Container
) -> None:
    wamid = f"wamid.stranger{uuid.uuid4().hex}"
    reply = await deliver(hooks, receipt("delivered", wamid, f"pn-unknown-{uuid.uuid4().hex}"))
    assert reply.status_code == 200
    async with container.engine.connect() as conn:
        kept = (
            await conn.execute(
                select(func.count()).where(pending_receipt.c.provider_message_id == wamid)
            )
        ).scalar_one()
    assert kept == 0


# --- opt-out and opt-in ----------------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", "  stop ", "ARRET", "Arrêt", "STOPP", "unsubscribe"])
async def test_a_stop_word_from_an_unknown_sender_records_an_opted_out_customer(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container, word: str
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    number = random_mobile()
    reply = await deliver(hooks, inbound_text(word, number, phone_number_id(tenant)))
    assert reply.status_code == 200
    assert await opted_out(container, tenant, number) is True


async def test_other_words_opt_nobody_out(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    number = random_mobile()
    await deliver(hooks, inbound_text("stop calling me maybe", number, phone_number_id(tenant)))
    # the sender becomes a customer (SPEC §10: their message is kept), not an opted-out one
    assert await opted_out(container, tenant, number) is False


async def test_stop_then_a_missed_call_is_suppressed_and_start_lets_the_next_one_through(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    number = random_mobile()
    pnid = phone_number_id(tenant)
    await deliver(hooks, inbound_text("STOP", number, pnid))
    assert (await report(hooks, tenant, number))["outcome"] == "SKIPPED_SUPPRESSED"
    await deliver(hooks, inbound_text("Start", number, pnid))
    assert await opted_out(container, tenant, number) is False
    assert (await report(hooks, tenant, number))["outcome"] == "SENT"
    assert len(graph.calls) == 1


async def test_stop_to_one_restaurant_leaves_the_customer_of_another_untouched(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    ours = await restaurant_with_own_number(make_restaurant)
    theirs = await restaurant_with_own_number(make_restaurant)
    number = random_mobile()
    await deliver(hooks, inbound_text("START", number, phone_number_id(theirs)))
    await deliver(hooks, inbound_text("STOP", number, phone_number_id(ours)))
    assert await opted_out(container, ours, number) is True
    # their START made the sender their customer (SPEC §10), never an opted-out one
    assert await opted_out(container, theirs, number) is False


async def test_stop_to_an_unknown_business_number_is_ignored(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    number = random_mobile()
    reply = await deliver(hooks, inbound_text("STOP", number, f"pn-unknown-{uuid.uuid4().hex}"))
    assert reply.status_code == 200
    assert await opted_out(container, tenant, number) is None


async def test_a_receipt_racing_the_commit_of_its_message_id_is_applied_either_way(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    pnid = phone_number_id(tenant)
    for _ in range(3):
        wamid = f"wamid.race{uuid.uuid4().hex}"
        with mock_graph(base_url=GRAPH_BASE) as graph:
            graph.post(f"/{pnid}/messages").respond(200, json={"messages": [{"id": wamid}]})
            data, reply = await asyncio.gather(
                report(hooks, tenant), deliver(hooks, receipt("delivered", wamid, pnid))
            )
        assert reply.status_code == 200
        async with container.engine.connect() as conn:
            message_id = (
                await conn.execute(select(message.c.id).where(message.c.call_id == int(data["id"])))
            ).scalar_one()
            left = (
                await conn.execute(
                    select(func.count()).where(pending_receipt.c.provider_message_id == wamid)
                )
            ).scalar_one()
        assert (await state(container, message_id))[0] == "delivered"
        assert left == 0


async def test_a_receipt_kept_for_a_day_is_forgotten_when_another_is_kept(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await restaurant_with_own_number(make_restaurant)
    pnid = phone_number_id(tenant)
    stale, fresh = f"wamid.stale{uuid.uuid4().hex}", f"wamid.fresh{uuid.uuid4().hex}"
    assert (await deliver(hooks, receipt("delivered", stale, pnid))).status_code == 200
    async with container.engine.begin() as conn:
        await conn.execute(
            update(pending_receipt)
            .where(pending_receipt.c.provider_message_id == stale)
            .values(created_at=func.now() - dt.timedelta(days=1, minutes=1))
        )
    assert (await deliver(hooks, receipt("delivered", fresh, pnid))).status_code == 200
    async with container.engine.connect() as conn:
        kept = set(
            (
                await conn.execute(
                    select(pending_receipt.c.provider_message_id).where(
                        pending_receipt.c.provider_message_id.in_([stale, fresh])
                    )
                )
            ).scalars()
        )
    assert kept == {fresh}
