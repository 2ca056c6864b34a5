"""The real `ringback serve` process over real sockets, against the fake Graph server."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from ringback.tenancy.model import TokenKind
from tests.conftest import MakeRestaurant, Tenant, random_mobile
from tests.e2e.processes import Server, running_server, stop
from tests.fakegraph import FakeGraph
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.sql]


@pytest.fixture(scope="module")
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


@pytest.fixture(scope="module")
async def server(
    database_url: str, fake_graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WHATSAPP_API_BASE_URL": fake_graph.base_url,
        "RINGBACK_RATE_LIMIT_PER_SECOND": "0",
        # a reply tells the send's result when the send is done within this: a deadline only a
        # hang reaches, on however loaded a machine
        "RINGBACK_INLINE_DISPATCH_TIMEOUT": str(SLOW_MACHINE_SECONDS),
        "RINGBACK_RETRY_BASE_SECONDS": "0.2",
        "RINGBACK_WORKER_POLL_SECONDS": "0.1",
        "RINGBACK_ADMIN_TOKEN": "e2e-admin-token-0123456789",
    }
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    async with running_server(env, log) as running:
        yield running
        assert stop(running.process), "ringback serve did not stop on SIGTERM"


async def report(server: Server, tenant: Tenant, **body: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=SLOW_MACHINE_SECONDS) as http:
        return await http.post("/api/partner/v1/missed-calls", json=body, headers=tenant.auth())


async def test_server_process_sends_one_message_per_missed_call_over_http(
    server: Server, fake_graph: FakeGraph, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant(name="E2E Brasserie")
    number = random_mobile()
    first = await report(server, tenant, caller_phone_number=number, external_call_id="e2e-1")
    assert first.status_code == 201
    assert first.json()["data"]["outcome"] == "SENT"
    assert first.headers["x-request-id"]
    replay = await report(server, tenant, caller_phone_number=number, external_call_id="e2e-1")
    assert replay.json()["data"]["outcome"] == "SKIPPED_DUPLICATE"
    received = fake_graph.requests_to(number.lstrip("+"))
    assert len(received) == 1
    assert received[0].authorization == "Bearer wa-access-token"
    assert received[0].phone_number_id == "1234567890"
    assert received[0].body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "E2E Brasserie"}
    ]


async def test_worker_in_the_server_process_retries_a_transient_failure(
    server: Server, fake_graph: FakeGraph, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    fake_graph.fail_next(1, status=500)
    reply = await report(server, tenant, caller_phone_number=number)
    assert reply.json()["data"]["outcome"] == "QUEUED"
    deadline = time.monotonic() + SLOW_MACHINE_SECONDS
    while len(fake_graph.requests_to(number.lstrip("+"))) < 2:
        assert time.monotonic() < deadline, "the worker never retried"
        time.sleep(0.05)
    statuses = [r.status for r in fake_graph.requests_to(number.lstrip("+"))]
    assert statuses == [500, 200]


async def test_server_process_is_ready_and_answers_errors_in_the_envelope(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=SLOW_MACHINE_SECONDS) as http:
        ready = await http.get("/readyz")
        unauthorized = await http.post("/api/partner/v1/missed-calls", json={})
        openapi = await http.get("/openapi.json")
    assert ready.status_code == 200
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "UNAUTHORIZED"
    assert "/api/partner/v1/missed-calls" in openapi.json()["paths"]


async def test_zoho_callnotify_over_a_real_socket_reads_an_unencoded_plus(
    server: Server, fake_graph: FakeGraph, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    started = time.strftime("%Y-%m-%d+%H:%M:%S", time.gmtime())
    body = (
        f"type=received&state=missed&id=e2e-z1&from={number}&to=%2B33140000000&start_time={started}"
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=SLOW_MACHINE_SECONDS) as http:
        reply = await http.post(
            "/phonebridge/v3/callnotify",
            content=body,
            headers={
                "Authorization": f"Zoho-oauthtoken {tenant.tokens[TokenKind.ZOHO]}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    assert reply.json() == {"status": "success", "code": "SUCCESS"}
    assert len(fake_graph.requests_to(number.lstrip("+"))) == 1
