"""Scale-out is PostgreSQL's job: two `ringback serve` processes and two `ringback worker`
processes on one database still send exactly one message per decision (SPEC §3), and a token
revoked through one server stops working on the other too (SPEC §9)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from ringback.tenancy.model import TokenKind
from tests.conftest import ADMIN_TOKEN, MakeRestaurant, Tenant, random_mobile
from tests.e2e.processes import running_server, spawn, stop
from tests.fakegraph import FakeGraph
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.sql]
RACERS = 50


@pytest.fixture(scope="module")
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


@pytest.fixture(scope="module")
async def servers(
    database_url: str, fake_graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[list[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WHATSAPP_API_BASE_URL": fake_graph.base_url,
        "RINGBACK_RATE_LIMIT_PER_SECOND": "0",
        "RINGBACK_ADMIN_TOKEN": ADMIN_TOKEN,
        "RINGBACK_WORKER_POLL_SECONDS": "0.05",
        "RINGBACK_RETRY_BASE_SECONDS": "0.1",
        # nothing here dies holding a lease: one no loaded machine outlives keeps a slow inline
        # send from being taken over (and sent twice) by a worker
        "RINGBACK_LEASE_SECONDS": str(SLOW_MACHINE_SECONDS),
        "RINGBACK_DB_POOL_SIZE": "15",
    }
    logs = tmp_path_factory.mktemp("scale-out")
    workers = [spawn(["worker"], env, logs / f"worker-{i}.log") for i in range(2)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            started = [
                await stack.enter_async_context(
                    running_server(env, logs / f"serve-{i}.log", ready_path="/readyz")
                )
                for i in range(2)
            ]
            yield [server.url for server in started]
            for server in started:
                assert stop(server.process), "a server did not stop on SIGTERM"
    finally:
        stopped = [stop(worker) for worker in workers]
    assert all(stopped), "a worker did not stop on SIGTERM"


async def _report_everywhere(
    urls: list[str], tenant: Tenant, bodies: list[dict[str, str]]
) -> list[str]:
    headers = tenant.auth(TokenKind.PARTNER)
    async with httpx.AsyncClient(timeout=SLOW_MACHINE_SECONDS) as http:
        replies = await asyncio.gather(
            *(
                http.post(f"{urls[i % 2]}/api/partner/v1/missed-calls", json=body, headers=headers)
                for i, body in enumerate(bodies)
            )
        )
    assert all(reply.status_code == 201 for reply in replies)
    return [reply.json()["data"]["outcome"] for reply in replies]


def _accepted(fake_graph: FakeGraph, to: str) -> int:
    return sum(1 for r in fake_graph.requests_to(to) if r.status == 200)


async def _settled(fake_graph: FakeGraph, to: str, quiet: float = 3.0) -> int:
    """Accepted sends to ``to`` once one was (a loaded machine may take long: the workers send
    what an inline attempt left), and the workers have had ``quiet`` seconds to send more."""
    deadline = time.monotonic() + SLOW_MACHINE_SECONDS
    while _accepted(fake_graph, to) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(quiet)
    return _accepted(fake_graph, to)


async def test_one_call_reported_to_both_servers_at_once_sends_one_message(
    servers: list[str], fake_graph: FakeGraph, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    body = {"caller_phone_number": number, "external_call_id": "scale-same-call"}
    outcomes = await _report_everywhere(servers, tenant, [body] * RACERS)
    assert outcomes.count("SKIPPED_DUPLICATE") == RACERS - 1
    assert await _settled(fake_graph, number.lstrip("+")) == 1


async def test_one_caller_reported_to_both_servers_at_once_gets_one_message(
    servers: list[str], fake_graph: FakeGraph, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    bodies = [
        {"caller_phone_number": number, "external_call_id": f"scale-caller-{i}"}
        for i in range(RACERS)
    ]
    outcomes = await _report_everywhere(servers, tenant, bodies)
    assert outcomes.count("SKIPPED_COOLDOWN") == RACERS - 1
    assert await _settled(fake_graph, number.lstrip("+")) == 1


async def test_many_callers_across_servers_and_workers_each_get_exactly_one_message(
    servers: list[str], fake_graph: FakeGraph, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    numbers = {random_mobile() for _ in range(60)}
    fake_graph.fail_next(20, status=500)  # push a third of them to the workers' retries
    bodies = [{"caller_phone_number": n} for n in numbers]
    outcomes = await _report_everywhere(servers, tenant, bodies)
    assert set(outcomes) <= {"SENT", "QUEUED"}
    deadline = time.monotonic() + SLOW_MACHINE_SECONDS
    while True:
        accepted = {n: _accepted(fake_graph, n.lstrip("+")) for n in numbers}
        if all(count >= 1 for count in accepted.values()) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)
    accepted = {n: _accepted(fake_graph, n.lstrip("+")) for n in numbers}
    assert set(accepted.values()) == {1}


async def test_a_token_revoked_on_one_server_is_refused_by_the_other(
    servers: list[str], make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(timeout=SLOW_MACHINE_SECONDS) as http:
        minted = await http.post(
            f"{servers[0]}/api/admin/v1/restaurants/{tenant.id}/tokens",
            headers=admin,
            json={"kind": "partner"},
        )
        token = minted.json()["data"]
        bearer = {"Authorization": f"Bearer {token['token']}"}

        async def me(url: str) -> int:
            return (await http.get(f"{url}/api/partner/v1/me", headers=bearer)).status_code

        assert await me(servers[1]) == 200  # and the other server keeps it
        revoked = await http.delete(
            f"{servers[0]}/api/admin/v1/tokens/{token['id']}", headers=admin
        )
        assert revoked.status_code == 204
        assert await me(servers[0]) == 401
        deadline = time.monotonic() + SLOW_MACHINE_SECONDS
        while await me(servers[1]) != 401 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await me(servers[1]) == 401
