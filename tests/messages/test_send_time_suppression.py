"""Suppression at send time (SPEC §3; issue 13 item 3): the claim cancels a message whose customer
opted out or was flagged ``bad_actor`` after it was queued, whatever queued it and whichever door
suppressed the customer; it is never sent.

The app runs in-process on a container of its own with no worker: each test drives the worker's
claim by hand (``Dispatcher.run_once``). The Graph API is mocked and counts sends per recipient.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Row, func, select

from ringback.app import create_app
from ringback.bootstrap import Container, build_container
from ringback.db.tables import message, message_event
from ringback.http.metrics import PrometheusMetrics
from ringback.messages.states import MessageStatus
from ringback.tenancy.model import TokenKind
from tests.api.ccai_support import basic, inbound_body, make_ccai_restaurant
from tests.conftest import DEFAULT_WHATSAPP, GRAPH_BASE, MakeRestaurant, Tenant, make_settings
from tests.conftest import random_mobile as mobile
from tests.graphmock import POSTER, mock_graph

pytestmark = pytest.mark.sql

APP_SECRET = "send-time-suppression-secret"
STOP_PAYLOAD = Path(__file__).parent.parent / "payloads" / "whatsapp_message_stop.json"
SUPPRESSED = "suppressed"


class Graph:
    """The Graph API: accepts every message unless scripted to refuse the next ones (transiently or
    for good); counts sends per number."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.script: dict[str, deque[httpx.Response]] = defaultdict(deque)

    def refuse_next(self, number: str, *, for_good: bool = False) -> None:
        refusal = (
            httpx.Response(400, json={"error": {"code": 100, "message": "invalid parameter"}})
            if for_good
            else httpx.Response(503, text="unavailable")
        )
        self.script[number.lstrip("+")].append(refusal)

    def calls_to(self, number: str) -> int:
        return self.calls[number.lstrip("+")]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        to = str(json.loads(request.content)["to"])
        self.calls[to] += 1
        if self.script[to]:
            return self.script[to].popleft()
        wamid = f"wamid.suppression.{uuid.uuid4().hex}"
        return httpx.Response(
            200, json={"messaging_product": "whatsapp", "messages": [{"id": wamid}]}
        )


@pytest.fixture
def graph() -> Iterator[Graph]:
    counted = Graph()
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(url__regex=r"/[^/]+/messages$").mock(side_effect=counted)
        yield counted


@dataclass
class App:
    http: httpx.AsyncClient
    container: Container
    metrics: PrometheusMetrics


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    """The app with every door open (WhatsApp secret, CCAI without rate limit), no worker, and
    its own Prometheus registry."""
    settings = make_settings(
        database_url,
        whatsapp_app_secret=APP_SECRET,
        ccai_rate_limit_per_second=0,
        retry_base_seconds=0.2,
        db_pool_size=5,
    )
    metrics = PrometheusMetrics()
    container = await build_container(settings, start_worker=False, metrics=metrics, graph=POSTER)
    transport = httpx.ASGITransport(app=create_app(settings, container, metrics=metrics))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield App(http, container, metrics)
    finally:
        await container.aclose()


async def restaurant(make_restaurant: MakeRestaurant, **overrides: Any) -> Tenant:
    """A CCAI-enabled restaurant with a WhatsApp number of its own (STOP finds it by that)."""
    whatsapp = {**DEFAULT_WHATSAPP, "phone_number_id": f"pn-{uuid.uuid4().hex[:12]}"}
    return await make_ccai_restaurant(make_restaurant, whatsapp=whatsapp, **overrides)


async def report(app: App, tenant: Tenant, number: str) -> dict[str, Any]:
    reply = await app.http.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": number},
        headers=tenant.auth(TokenKind.PARTNER),
    )
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


async def message_of(app: App, call_id: str) -> Row[Any]:
    async with app.container.engine.connect() as conn:
        result = await conn.execute(
            select(message, func.now().label("db_now")).where(message.c.call_id == int(call_id))
        )
        return result.one()


async def timeline(app: App, message_id: int) -> list[tuple[str, str | None]]:
    async with app.container.engine.connect() as conn:
        rows = await conn.execute(
            select(message_event.c.status, message_event.c.detail)
            .where(message_event.c.message_id == message_id)
            .order_by(message_event.c.id)
        )
        return [(row.status, row.detail) for row in rows]


async def run_worker_when_due(app: App, call_id: str) -> Row[Any]:
    """Wait until the call's message is due (by the database's clock), claim like the worker."""
    row = await message_of(app, call_id)
    await asyncio.sleep(max(0.0, (row.next_attempt_at - row.db_now).total_seconds()) + 0.05)
    await app.container.dispatcher.run_once(100)
    return await message_of(app, call_id)


def cancelled_count(app: App) -> float:
    value = app.metrics.registry.get_sample_value(
        "ringback_messages_total", {"status": MessageStatus.CANCELLED.value}
    )
    return value or 0.0


async def last_event_id(app: App) -> int:
    async with app.container.engine.connect() as conn:
        return int(await conn.scalar(select(func.max(message_event.c.id))) or 0)


async def suppressed_since(app: App, event_id: int) -> int:
    """Messages the claim cancelled as suppressed since ``event_id`` (another test's leftovers
    included: the claim takes every due message of the database)."""
    async with app.container.engine.connect() as conn:
        counted = await conn.scalar(
            select(func.count()).where(
                message_event.c.id > event_id,
                message_event.c.status == MessageStatus.CANCELLED.value,
                message_event.c.detail == SUPPRESSED,
            )
        )
    return int(counted or 0)


# --- every door that suppresses a customer -------------------------------------------------------

Suppress = Callable[[App, Tenant, str, dict[str, Any]], Awaitable[None]]


async def ops_opt_out(app: App, tenant: Tenant, number: str, reported: dict[str, Any]) -> None:
    reply = await app.http.put(
        f"/api/ops/v1/customers/{reported['customer_id']}/opt-out",
        headers=tenant.auth(TokenKind.OPS),
    )
    assert reply.status_code == 200, reply.text


async def partner_opt_out(app: App, tenant: Tenant, number: str, reported: dict[str, Any]) -> None:
    reply = await app.http.put(
        "/api/partner/v1/customers",
        json=[{"phone_number": number, "opted_out": True}],
        headers=tenant.auth(TokenKind.PARTNER),
    )
    assert reply.status_code == 200, reply.text


async def whatsapp_stop(app: App, tenant: Tenant, number: str, reported: dict[str, Any]) -> None:
    body = copy.deepcopy(json.loads(STOP_PAYLOAD.read_text()))
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = tenant.restaurant.whatsapp.phone_number_id
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = number.lstrip("+")
    raw = json.dumps(body).encode()
    signed = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    reply = await app.http.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signed},
    )
    assert reply.status_code == 200, reply.text


async def ccai_bad_actor(app: App, tenant: Tenant, number: str, reported: dict[str, Any]) -> None:
    """The CCAI flag is set through a CCAI call of the same caller (the same customer)."""
    created = await app.http.post(
        "/apps/api/v1/calls", json=inbound_body(number), headers=basic(tenant)
    )
    assert created.status_code == 201, created.text
    call_id = created.json()["id"]
    reply = await app.http.patch(
        f"/apps/api/v1/calls/{call_id}/customer_flag",
        json={"bad_actor": True},
        headers=basic(tenant),
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["bad_actor"] is True


SUPPRESSORS = [
    pytest.param(ops_opt_out, id="ops-opt-out"),
    pytest.param(partner_opt_out, id="partner-customers-opted-out"),
    pytest.param(whatsapp_stop, id="whatsapp-stop"),
    pytest.param(ccai_bad_actor, id="ccai-bad-actor"),
]


@pytest.mark.parametrize("suppress", SUPPRESSORS)
async def test_a_delayed_message_whose_customer_is_suppressed_before_it_is_due_is_cancelled(
    app: App, make_restaurant: MakeRestaurant, graph: Graph, suppress: Suppress
) -> None:
    tenant = await restaurant(make_restaurant, send_delay_seconds=1)
    number = mobile()
    reported = await report(app, tenant, number)
    assert reported["outcome"] == "QUEUED"
    await suppress(app, tenant, number, reported)
    counted, since = cancelled_count(app), await last_event_id(app)

    row = await run_worker_when_due(app, reported["id"])

    assert graph.calls_to(number) == 0
    assert row.status == MessageStatus.CANCELLED.value
    assert row.last_error == SUPPRESSED
    assert row.lease_token is None
    assert row.attempts == 0
    assert (await timeline(app, row.id))[-1] == (MessageStatus.CANCELLED.value, SUPPRESSED)
    assert cancelled_count(app) - counted == await suppressed_since(app, since) >= 1
    await app.container.dispatcher.run_once(100)  # nothing left to send, ever
    assert graph.calls_to(number) == 0


async def test_the_call_shows_the_cancellation_in_its_timeline(
    app: App, make_restaurant: MakeRestaurant, graph: Graph
) -> None:
    tenant = await restaurant(make_restaurant, send_delay_seconds=1)
    number = mobile()
    reported = await report(app, tenant, number)
    await ops_opt_out(app, tenant, number, reported)
    await run_worker_when_due(app, reported["id"])

    reply = await app.http.get(
        f"/api/ops/v1/calls/{reported['id']}", headers=tenant.auth(TokenKind.OPS)
    )

    assert reply.status_code == 200
    shown = reply.json()["data"]["message"]
    assert shown["status"] == "cancelled"
    assert shown["last_error"] == SUPPRESSED
    assert [(e["status"], e["detail"]) for e in shown["timeline"]] == [
        ("queued", None),
        ("cancelled", SUPPRESSED),
    ]


async def test_a_message_waiting_for_its_retry_is_cancelled_when_the_customer_opts_out(
    app: App, make_restaurant: MakeRestaurant, graph: Graph
) -> None:
    tenant = await restaurant(make_restaurant)
    number = mobile()
    graph.refuse_next(number)
    reported = await report(app, tenant, number)  # the inline attempt fails transiently
    assert reported["outcome"] == "QUEUED"
    assert graph.calls_to(number) == 1
    await whatsapp_stop(app, tenant, number, reported)

    row = await run_worker_when_due(app, reported["id"])

    assert graph.calls_to(number) == 1
    assert row.status == MessageStatus.CANCELLED.value
    assert row.last_error == SUPPRESSED
    assert row.attempts == 1


async def test_an_ops_retry_followed_by_an_opt_out_is_cancelled_by_the_claim(
    app: App, make_restaurant: MakeRestaurant, graph: Graph
) -> None:
    tenant = await restaurant(make_restaurant)
    number = mobile()
    graph.refuse_next(number, for_good=True)
    reported = await report(app, tenant, number)
    assert reported["outcome"] == "FAILED"
    row = await message_of(app, reported["id"])
    retried = await app.http.post(
        f"/api/ops/v1/messages/{row.id}/retry", headers=tenant.auth(TokenKind.OPS)
    )
    assert retried.status_code == 200, retried.text
    await partner_opt_out(app, tenant, number, reported)

    row = await run_worker_when_due(app, reported["id"])

    assert graph.calls_to(number) == 1
    assert row.status == MessageStatus.CANCELLED.value
    assert row.last_error == SUPPRESSED
    assert [status for status, _ in await timeline(app, row.id)] == [
        "queued", "sending", "failed", "queued", "cancelled"
    ]  # fmt: skip


async def test_a_customer_who_opts_back_in_before_it_is_due_gets_the_message(
    app: App, make_restaurant: MakeRestaurant, graph: Graph
) -> None:
    """The check is made when the message goes, not when the customer changes."""
    tenant = await restaurant(make_restaurant, send_delay_seconds=1)
    number = mobile()
    reported = await report(app, tenant, number)
    await ops_opt_out(app, tenant, number, reported)
    back = await app.http.delete(
        f"/api/ops/v1/customers/{reported['customer_id']}/opt-out",
        headers=tenant.auth(TokenKind.OPS),
    )
    assert back.status_code == 200

    row = await run_worker_when_due(app, reported["id"])

    assert graph.calls_to(number) == 1
    assert row.status == MessageStatus.SENT.value
    assert row.last_error is None


async def test_a_claim_sends_the_due_messages_of_others_and_cancels_only_the_suppressed(
    app: App, make_restaurant: MakeRestaurant, graph: Graph
) -> None:
    tenant = await restaurant(make_restaurant, send_delay_seconds=1)
    kept, suppressed = mobile(), mobile()
    kept_call = await report(app, tenant, kept)
    suppressed_call = await report(app, tenant, suppressed)
    await ops_opt_out(app, tenant, suppressed, suppressed_call)

    await run_worker_when_due(app, suppressed_call["id"])

    assert (await message_of(app, kept_call["id"])).status == MessageStatus.SENT.value
    assert (await message_of(app, suppressed_call["id"])).status == MessageStatus.CANCELLED.value
    assert (graph.calls_to(kept), graph.calls_to(suppressed)) == (1, 0)
