"""The outbox against real PostgreSQL: retries, permanent failures, leases, concurrency (SPEC §3).

Messages are made by the relay itself with ``inline_dispatch_timeout=0`` so they stay queued; the
tests then drive ``Dispatcher.run_once`` by hand. The Graph API is mocked with respx (or served by
``FakeGraph`` on a real socket), and requests are counted per recipient: a dispatcher may also pick
up a message another test left behind, which must not disturb the count.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import random
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Row, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ringback.bootstrap import Container, build_container
from ringback.db.engine import build_engine
from ringback.db.tables import call, message, message_event
from ringback.db.tables import message as message_table
from ringback.db.tx import Database
from ringback.messages.dispatcher import Dispatcher
from ringback.messages.graph import WhatsAppCloudSender
from ringback.messages.graph_client import GraphPoster
from ringback.messages.outbox import SqlOutbox
from ringback.messages.ports import ClaimedMessage, MessageSender, SendResult
from ringback.messages.queries import LEASE_EXPIRED
from ringback.messages.states import MessageStatus
from ringback.relay.model import CallEvent, Decision, Direction, Disposition, Outcome, Source
from ringback.relay.service import utc_now
from tests.conftest import GRAPH_BASE, MakeRestaurant, Tenant, make_settings
from tests.fakegraph import FakeGraph
from tests.graphmock import POSTER, graph_error, mock_graph
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = pytest.mark.sql

MakeContainer = Callable[..., Awaitable[Container]]
Step = httpx.Response | Exception | float | asyncio.Event
"""A scripted Graph answer: a reply, an exception to raise, seconds to wait before accepting, or
an event the test sets to let it accept (an order of things that no machine's speed changes)."""

_wamids = itertools.count(1)


def mobile_numbers(count: int) -> list[str]:
    """Distinct random French mobile numbers, so tests never meet each other's cooldowns.

    +33 610 to +33 638 are all mobile ranges in libphonenumber (some of +33 639 and 69x are not).
    """
    return [f"+336{n:08d}" for n in random.sample(range(10_000_000, 39_000_000), count)]


def accepted(to: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.test.{next(_wamids)}.{uuid.uuid4().hex[:8]}"}],
        },
    )


class ScriptedGraph:
    """respx side effect: answers per recipient from a script, else accepts; counts every call."""

    def __init__(self) -> None:
        self.script: dict[str, deque[Step]] = defaultdict(deque)
        self.calls: Counter[str] = Counter()
        self.delay = 0.0

    def then(self, number: str, *steps: Step) -> None:
        self.script[number.lstrip("+")].extend(steps)

    def calls_to(self, number: str) -> int:
        return self.calls[number.lstrip("+")]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        to = str(json.loads(request.content)["to"])
        self.calls[to] += 1
        step: Step = self.script[to].popleft() if self.script[to] else self.delay
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        if isinstance(step, asyncio.Event):
            await step.wait()
        elif step:
            await asyncio.sleep(step)
        return accepted(to)


@pytest.fixture
def graph() -> Iterator[ScriptedGraph]:
    scripted = ScriptedGraph()
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(url__regex=r"/[^/]+/messages$").mock(side_effect=scripted)
        yield scripted


@pytest.fixture
async def make_container(database_url: str) -> AsyncIterator[MakeContainer]:
    """Containers that never send inline and never run the worker; the test drives dispatch."""
    built: list[Container] = []

    async def make(graph: GraphPoster | None = POSTER, **overrides: Any) -> Container:
        """``graph=None``: the container's own client, for a test over a real socket."""
        values: dict[str, Any] = {
            "inline_dispatch_timeout": 0,
            "retry_base_seconds": 0.05,
            "lease_seconds": 1,
            "max_attempts": 3,
        }
        values.update(overrides)
        container = await build_container(
            make_settings(database_url, **values), start_worker=False, graph=graph
        )
        built.append(container)
        return container

    yield make
    for container in built:
        await container.aclose()


@pytest.fixture
async def tenant(make_restaurant: MakeRestaurant, container: Container) -> AsyncIterator[Tenant]:
    """A restaurant of this test's own; whatever it leaves in the queue is cancelled afterwards."""
    made = await make_restaurant()
    yield made
    async with container.engine.begin() as conn:
        await conn.execute(
            update(message)
            .where(
                message.c.restaurant_id == made.id,
                message.c.status.in_([MessageStatus.QUEUED.value, MessageStatus.SENDING.value]),
            )
            .values(status=MessageStatus.CANCELLED.value, lease_token=None, lease_expires_at=None)
        )


def missed(number: str) -> CallEvent:
    """A partner's report of a missed call from ``number``, now, with a key of its own."""
    return CallEvent(
        source=Source.PARTNER,
        external_id=uuid.uuid4().hex,
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=number,
        occurred_at=utc_now(),
    )


async def report(container: Container, tenant: Tenant, number: str) -> Decision:
    """Report a missed call through the relay (which sends inline if the container does)."""
    return await container.relay.handle(tenant.restaurant, missed(number))


async def missed_call(container: Container, tenant: Tenant, number: str) -> int:
    """Report a missed call through the relay; returns the id of the message it queued."""
    decision = await report(container, tenant, number)
    assert decision.outcome is Outcome.QUEUED
    assert decision.message_id is not None
    return decision.message_id


async def claim_one(outbox: SqlOutbox, message_id: int, lease_seconds: float) -> ClaimedMessage:
    """Claim what is due, as a worker does, and return the hold on this test's message."""
    held = [m for m in await outbox.claim_due(1000, lease_seconds) if m.id == message_id]
    assert held, "the message was not due"
    return held[0]


async def message_row(engine: AsyncEngine, message_id: int) -> Row[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(message, func.now().label("db_now")).where(message.c.id == message_id)
        )
        return result.one()


async def timeline(engine: AsyncEngine, message_id: int) -> list[tuple[str, int, str | None]]:
    """The message's events in order: (status, attempt, detail)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(message_event.c.status, message_event.c.attempt, message_event.c.detail)
            .where(message_event.c.message_id == message_id)
            .order_by(message_event.c.id)
        )
        return [(row.status, row.attempt, row.detail) for row in rows]


async def drive_until_settled(
    dispatcher: Dispatcher,
    engine: AsyncEngine,
    message_id: int,
    timeout: float = SLOW_MACHINE_SECONDS,
) -> Row[Any]:
    """Run the dispatcher like a worker until the message is sent or failed."""
    deadline = time.monotonic() + timeout
    while True:
        await dispatcher.run_once(20)
        row = await message_row(engine, message_id)
        if row.status in (MessageStatus.SENT.value, MessageStatus.FAILED.value):
            return row
        assert time.monotonic() < deadline, f"message still {row.status} after {timeout}s"
        await asyncio.sleep(0.02)


async def sleep_until(moment: dt.datetime, db_now: dt.datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - db_now).total_seconds()) + 0.02)


# --- transient failures --------------------------------------------------------------------------


async def test_transient_failure_requeues_the_message_with_a_future_attempt_and_its_error(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container(retry_base_seconds=0.5)
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    graph.then(number, httpx.Response(503, text="unavailable"))

    await container.dispatcher.run_once(20)

    row = await message_row(container.engine, message_id)
    assert graph.calls_to(number) == 1
    assert row.status == MessageStatus.QUEUED.value
    assert row.attempts == 1
    assert row.last_error == "HTTP 503"
    assert row.next_attempt_at > row.db_now
    assert row.next_attempt_at <= row.db_now + dt.timedelta(seconds=0.5)
    assert row.lease_token is None
    assert row.provider_message_id is None


async def test_requeued_message_is_sent_exactly_once_when_it_falls_due(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container(retry_base_seconds=0.5)
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    graph.then(number, graph_error(130429, status=429))
    await container.dispatcher.run_once(20)

    await container.dispatcher.run_once(20)  # not due yet: nothing happens
    row = await message_row(container.engine, message_id)
    assert graph.calls_to(number) == 1
    assert row.status == MessageStatus.QUEUED.value

    await sleep_until(row.next_attempt_at, row.db_now)
    await container.dispatcher.run_once(20)
    await container.dispatcher.run_once(20)

    row = await message_row(container.engine, message_id)
    assert graph.calls_to(number) == 2
    assert row.status == MessageStatus.SENT.value
    assert row.attempts == 2
    assert row.provider_message_id.startswith("wamid.test.")
    assert row.last_error is None


async def test_timeline_of_a_retried_message_records_queued_sending_error_and_sent(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container()
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    graph.then(number, httpx.ReadTimeout("slow"))

    row = await drive_until_settled(container.dispatcher, container.engine, message_id)

    assert row.status == MessageStatus.SENT.value
    assert await timeline(container.engine, message_id) == [
        ("queued", 0, None),
        ("sending", 1, None),
        ("queued", 1, "timeout"),
        ("sending", 2, None),
        ("sent", 2, row.provider_message_id),
    ]


async def test_message_fails_after_max_attempts_transient_failures(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container(max_attempts=3)
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    graph.then(number, *(httpx.Response(500) for _ in range(5)))

    row = await drive_until_settled(container.dispatcher, container.engine, message_id)
    await container.dispatcher.run_once(20)

    assert graph.calls_to(number) == 3
    assert row.status == MessageStatus.FAILED.value
    assert row.attempts == 3
    assert row.last_error == "HTTP 500"
    assert await timeline(container.engine, message_id) == [
        ("queued", 0, None),
        ("sending", 1, None),
        ("queued", 1, "HTTP 500"),
        ("sending", 2, None),
        ("queued", 2, "HTTP 500"),
        ("sending", 3, None),
        ("failed", 3, "HTTP 500"),
    ]


# --- permanent failures --------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status"), [(131026, 400), (100, 400)])
async def test_permanent_error_fails_the_message_at_once_without_a_second_request(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph, code: int, status: int
) -> None:
    container = await make_container(max_attempts=5)
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    graph.then(number, graph_error(code, status))

    await container.dispatcher.run_once(20)
    await asyncio.sleep(0.1)  # two retry bases: a retry, had there been one, would be due
    await container.dispatcher.run_once(20)

    row = await message_row(container.engine, message_id)
    error = f"HTTP {status} code {code}: (#{code}) scripted"
    assert graph.calls_to(number) == 1
    assert row.status == MessageStatus.FAILED.value
    assert row.attempts == 1
    assert row.last_error == error
    assert row.provider_message_id is None
    assert await timeline(container.engine, message_id) == [
        ("queued", 0, None),
        ("sending", 1, None),
        ("failed", 1, error),
    ]


async def test_failed_delivery_leaves_the_calls_replied_outcome_unchanged(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container()
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    graph.then(number, graph_error(131026))

    await container.dispatcher.run_once(20)

    async with container.engine.connect() as conn:
        outcome = await conn.scalar(
            select(call.c.outcome)
            .join(message, message.c.call_id == call.c.id)
            .where(message.c.id == message_id)
        )
    assert outcome == Outcome.QUEUED.value


# --- leases --------------------------------------------------------------------------------------


async def test_message_held_under_a_live_lease_is_not_taken_by_another_dispatcher(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container()
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    held = await claim_one(SqlOutbox(Database(container.engine)), message_id, 30)

    await container.dispatcher.run_once(20)

    row = await message_row(container.engine, message_id)
    assert graph.calls_to(number) == 0
    assert row.status == MessageStatus.SENDING.value
    assert row.lease_token == held.lease_token


async def test_message_of_a_dead_worker_is_taken_over_when_its_lease_expires_and_sent_once(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container()
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    dead_worker = SqlOutbox(Database(container.engine))
    await claim_one(dead_worker, message_id, 0.3)
    # ... and the worker dies without marking it

    row = await message_row(container.engine, message_id)
    await sleep_until(row.lease_expires_at, row.db_now)
    await container.dispatcher.run_once(20)
    await container.dispatcher.run_once(20)

    row = await message_row(container.engine, message_id)
    assert graph.calls_to(number) == 1
    assert row.status == MessageStatus.SENT.value
    assert row.attempts == 2
    assert row.lease_token is None
    assert await timeline(container.engine, message_id) == [
        ("queued", 0, None),
        ("sending", 1, None),
        ("queued", 1, LEASE_EXPIRED),
        ("sending", 2, None),
        ("sent", 2, row.provider_message_id),
    ]


async def test_late_answer_of_a_dead_worker_changes_nothing_after_the_takeover(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container()
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    dead_worker = SqlOutbox(Database(container.engine))
    held = await claim_one(dead_worker, message_id, 0.3)
    row = await message_row(container.engine, message_id)
    await sleep_until(row.lease_expires_at, row.db_now)
    await container.dispatcher.run_once(20)
    before = await message_row(container.engine, message_id)
    events_before = await timeline(container.engine, message_id)

    late_moves = [
        await dead_worker.mark_sent(held, "wamid.late"),
        await dead_worker.mark_retry(held, "late error", utc_now()),
        await dead_worker.mark_failed(held, "late error"),
    ]

    after = await message_row(container.engine, message_id)
    assert late_moves == [False, False, False]
    assert before.status == MessageStatus.SENT.value
    assert after.status == MessageStatus.SENT.value
    assert after.provider_message_id == before.provider_message_id != "wamid.late"
    assert after.last_error is None
    assert after.updated_at == before.updated_at
    assert await timeline(container.engine, message_id) == events_before


async def test_late_answer_with_an_old_lease_does_not_move_a_message_still_being_sent(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container()
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    outbox = SqlOutbox(Database(container.engine))
    old = await claim_one(outbox, message_id, 0.2)
    row = await message_row(container.engine, message_id)
    await sleep_until(row.lease_expires_at, row.db_now)
    (current,) = await outbox.claim_due(1000, lease_seconds=30)  # the new holder, mid-send
    assert current.id == message_id

    assert await outbox.mark_sent(old, "wamid.late") is False

    row = await message_row(container.engine, message_id)
    assert row.status == MessageStatus.SENDING.value
    assert row.lease_token == current.lease_token
    assert row.provider_message_id is None
    assert await outbox.mark_sent(current, "wamid.current") is True


# --- many dispatchers ----------------------------------------------------------------------------


class RecordingSender:
    """Wraps a sender and notes which message ids this dispatcher sent."""

    def __init__(self, inner: MessageSender) -> None:
        self.inner = inner
        self.sent: list[int] = []

    async def send(self, message: ClaimedMessage) -> SendResult:
        self.sent.append(message.id)
        return await self.inner.send(message)


@pytest.mark.parametrize("engines", ["one shared engine", "an engine per dispatcher"])
async def test_concurrent_dispatchers_send_every_message_exactly_once(
    make_container: MakeContainer,
    tenant: Tenant,
    graph: ScriptedGraph,
    database_url: str,
    engines: str,
) -> None:
    container = await make_container(lease_seconds=30)
    numbers = mobile_numbers(60)
    ids = {await missed_call(container, tenant, number): number for number in numbers}
    graph.delay = 0.005  # keep requests in flight so the dispatchers overlap
    own_engines: list[AsyncEngine] = []
    if engines == "an engine per dispatcher":
        settings = make_settings(database_url)
        own_engines = [build_engine(settings, pool_size=5) for _ in range(4)]
    senders = [RecordingSender(WhatsAppCloudSender(POSTER, GRAPH_BASE)) for _ in range(4)]
    dispatchers = [
        Dispatcher(
            SqlOutbox(Database(own_engines[i] if own_engines else container.engine)),
            sender,
            lease_seconds=30,
            max_attempts=3,
            retry_base_seconds=0.05,
            clock=utc_now,
        )
        for i, sender in enumerate(senders)
    ]

    async def work(dispatcher: Dispatcher) -> None:
        while await dispatcher.run_once(4):
            pass

    try:
        await asyncio.gather(*(work(d) for d in dispatchers))
    finally:
        for engine in own_engines:
            await engine.dispose()

    async with container.engine.connect() as conn:
        statuses = {
            row.id: row.status
            for row in await conn.execute(
                select(message.c.id, message.c.status).where(message.c.id.in_(ids))
            )
        }
        moves = Counter(
            (row.message_id, row.status)
            for row in await conn.execute(
                select(message_event.c.message_id, message_event.c.status).where(
                    message_event.c.message_id.in_(ids)
                )
            )
        )
    mine = [[i for i in sender.sent if i in ids] for sender in senders]
    assert set(statuses.values()) == {MessageStatus.SENT.value}
    assert all(graph.calls_to(number) == 1 for number in numbers)
    assert sorted(itertools.chain.from_iterable(mine)) == sorted(ids)
    assert all(moves[(i, "sending")] == 1 and moves[(i, "sent")] == 1 for i in ids)
    assert sum(1 for sent in mine if sent) >= 2, "the work was not shared between dispatchers"


# --- the inline attempt --------------------------------------------------------------------------


async def test_inline_attempt_gives_up_waiting_at_its_deadline_and_finishes_in_the_background(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container(inline_dispatch_timeout=0.1)
    (number,) = mobile_numbers(1)
    answer = asyncio.Event()
    graph.then(number, answer)  # the provider answers only once the reply is in

    decision = await report(container, tenant, number)

    assert decision.outcome is Outcome.QUEUED
    assert decision.message_id is not None
    row = await message_row(container.engine, decision.message_id)
    assert row.status == MessageStatus.SENDING.value  # written leased to the request
    assert row.provider_message_id is None

    answer.set()
    await container.dispatcher.drain(SLOW_MACHINE_SECONDS)

    row = await message_row(container.engine, decision.message_id)
    assert row.status == MessageStatus.SENT.value
    assert row.provider_message_id is not None
    assert row.attempts == 1
    assert graph.calls_to(number) == 1
    async with container.engine.connect() as conn:
        outcome = await conn.scalar(select(call.c.outcome).where(call.c.id == decision.call_id))
    assert outcome == Outcome.QUEUED.value  # the reply's outcome never changes afterwards


class SenderThatDelaysTheRecord:
    """Accepts every message at once, but first locks its message row in a transaction the test
    opened beforehand (so the lock is quick to take) and ends when it likes, so the move that
    records the send (and the reply's outcome) waits for the test."""

    def __init__(self) -> None:
        self.holder: AsyncConnection | None = None
        self.locked = asyncio.Event()

    async def send(self, message: ClaimedMessage) -> SendResult:
        assert self.holder is not None
        await self.holder.execute(
            select(message_table.c.id).where(message_table.c.id == message.id).with_for_update()
        )
        self.locked.set()
        return SendResult(provider_message_id=f"wamid.held{message.id}")


async def test_a_deadline_passing_while_the_send_is_recorded_waits_and_replies_what_was_stored(
    database_url: str, tenant: Tenant
) -> None:
    """The reply's outcome is written with the message's move: a request whose deadline passes
    once that move is under way waits for it, so the stored outcome is the one replied."""
    # long enough for the sender to take its lock on a loaded machine (from a transaction
    # already open): the deadline must pass once the move is under way, not before
    deadline = 1.0
    engine = build_engine(make_settings(database_url))
    sender = SenderThatDelaysTheRecord()
    container = await build_container(
        make_settings(database_url, inline_dispatch_timeout=deadline),
        start_worker=False,
        sender=sender,
    )
    try:
        (number,) = mobile_numbers(1)
        async with engine.connect() as holder:
            await holder.execute(select(1))  # the transaction begins
            sender.holder = holder
            reporting = asyncio.create_task(report(container, tenant, number))
            await asyncio.wait_for(sender.locked.wait(), SLOW_MACHINE_SECONDS)
            # the deadline counts from before the send: past this sleep it has passed, with the
            # move that records the send waiting for the lock
            await asyncio.sleep(deadline)
            assert not reporting.done()  # the request waits for the move under way
            await holder.rollback()
        decision = await asyncio.wait_for(reporting, SLOW_MACHINE_SECONDS)

        assert decision.outcome is Outcome.SENT
        async with container.engine.connect() as conn:
            stored = await conn.scalar(select(call.c.outcome).where(call.c.id == decision.call_id))
        assert stored == Outcome.SENT.value
        assert decision.message_id is not None
        row = await message_row(container.engine, decision.message_id)
        assert row.status == MessageStatus.SENT.value
    finally:
        await container.aclose()
        await engine.dispose()


async def test_worker_leaves_alone_a_message_whose_inline_attempt_outlived_its_request(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    # a lease no loaded machine outlives: the worker must find it held, not expired
    container = await make_container(
        lease_seconds=SLOW_MACHINE_SECONDS, inline_dispatch_timeout=0.05
    )
    worker = await make_container(lease_seconds=SLOW_MACHINE_SECONDS)
    (number,) = mobile_numbers(1)
    answer = asyncio.Event()
    graph.then(number, answer)  # the provider answers once the worker has looked

    decision = await report(container, tenant, number)
    assert decision.outcome is Outcome.QUEUED
    assert decision.message_id is not None
    await worker.dispatcher.run_once(20)
    assert graph.calls_to(number) == 1
    answer.set()
    await container.dispatcher.drain(SLOW_MACHINE_SECONDS)
    await worker.dispatcher.run_once(20)

    row = await message_row(container.engine, decision.message_id)
    assert row.status == MessageStatus.SENT.value
    assert graph.calls_to(number) == 1


async def test_inline_attempt_within_its_deadline_answers_with_the_final_status(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    # a deadline only a hang reaches: what is tested is the reply once the send is done
    container = await make_container(inline_dispatch_timeout=SLOW_MACHINE_SECONDS)
    sent_number, failed_number = mobile_numbers(2)
    graph.then(failed_number, graph_error(131026))

    assert (await report(container, tenant, sent_number)).outcome is Outcome.SENT
    assert (await report(container, tenant, failed_number)).outcome is Outcome.FAILED


# --- over a real socket --------------------------------------------------------------------------


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        yield server


async def test_dispatcher_retries_hung_5xx_and_throttled_requests_then_sends_over_a_socket(
    make_container: MakeContainer, tenant: Tenant, fake_graph: FakeGraph
) -> None:
    container = await make_container(
        graph=None,
        whatsapp_api_base_url=fake_graph.base_url,
        graph_timeout_seconds=0.3,
        max_attempts=5,
    )
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    fake_graph.hang_next(2.0)
    fake_graph.fail_next(status=502)
    fake_graph.error_next(code=130429, status=429)

    row = await drive_until_settled(container.dispatcher, container.engine, message_id)

    received = fake_graph.requests_to(number)
    assert [r.reply for r in received] == ["hang", "http_error", "graph_error", "ok"]
    assert row.status == MessageStatus.SENT.value
    assert row.provider_message_id == received[-1].provider_message_id
    assert all(r.phone_number_id == "1234567890" for r in received)
    assert all(r.authorization == "Bearer wa-access-token" for r in received)
    assert [e[2] for e in await timeline(container.engine, message_id) if e[0] == "queued"] == [
        None,
        "timeout",
        "HTTP 502",
        "HTTP 429 code 130429: (#130429) scripted Graph API error",
    ]


async def test_dispatcher_fails_a_message_the_fake_graph_refuses_for_good(
    make_container: MakeContainer, tenant: Tenant, fake_graph: FakeGraph
) -> None:
    container = await make_container(graph=None, whatsapp_api_base_url=fake_graph.base_url)
    (number,) = mobile_numbers(1)
    message_id = await missed_call(container, tenant, number)
    fake_graph.error_next(code=131026, status=400)

    row = await drive_until_settled(container.dispatcher, container.engine, message_id)

    assert row.status == MessageStatus.FAILED.value
    assert len(fake_graph.requests_to(number)) == 1
    assert fake_graph.requests_to(number)[0].body["template"]["name"] == "missed_call"


# --- the reply's outcome, stored (SPEC §3: the outcome is the decision as replied) ---------------


async def stored_outcome(engine: AsyncEngine, call_id: int) -> str | None:
    async with engine.connect() as conn:
        return await conn.scalar(select(call.c.outcome).where(call.c.id == call_id))


async def test_a_send_replied_sent_leaves_its_call_row_as_the_decision_wrote_it(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    """The decision stores SENT for a message it sends inline, so recording a send that
    succeeded writes the message only: the call row keeps the version the decision wrote (its
    ``xmin`` is the decision's transaction, the one of the message's first event), and none of
    the call's indexes gets a new entry for the record (issue 15)."""
    container = await make_container(inline_dispatch_timeout=SLOW_MACHINE_SECONDS)
    (number,) = mobile_numbers(1)

    decision = await report(container, tenant, number)

    assert decision.outcome is Outcome.SENT
    assert graph.calls_to(number) == 1
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT c.outcome, c.xmin::text AS call_xmin, m.xmin::text AS message_xmin,"
                    " e.xmin::text AS decision_xmin, m.status"
                    " FROM call c JOIN message m ON m.call_id = c.id"
                    " JOIN message_event e ON e.message_id = m.id AND e.status = 'queued'"
                    " WHERE c.id = :call_id"
                ),
                {"call_id": decision.call_id},
            )
        ).one()
    assert row.outcome == Outcome.SENT.value
    assert row.status == MessageStatus.SENT.value
    assert row.call_xmin == row.decision_xmin  # the call: as the decision wrote it
    assert row.message_xmin != row.decision_xmin  # the message: moved by the record


async def test_a_transient_error_of_the_inline_send_is_replied_and_stored_queued(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container(inline_dispatch_timeout=SLOW_MACHINE_SECONDS)
    (number,) = mobile_numbers(1)
    graph.then(number, httpx.Response(503, text="unavailable"))

    decision = await report(container, tenant, number)

    assert decision.outcome is Outcome.QUEUED
    assert await stored_outcome(container.engine, decision.call_id) == Outcome.QUEUED.value
    assert decision.message_id is not None
    row = await message_row(container.engine, decision.message_id)
    assert (row.status, row.last_error) == (MessageStatus.QUEUED.value, "HTTP 503")


async def test_a_refused_inline_send_is_replied_and_stored_failed(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    container = await make_container(inline_dispatch_timeout=SLOW_MACHINE_SECONDS)
    (number,) = mobile_numbers(1)
    graph.then(number, graph_error(131026))

    decision = await report(container, tenant, number)

    assert decision.outcome is Outcome.FAILED
    assert await stored_outcome(container.engine, decision.call_id) == Outcome.FAILED.value


async def test_a_request_that_dies_before_its_reply_leaves_its_call_queued_for_the_worker(
    make_container: MakeContainer, tenant: Tenant, graph: ScriptedGraph
) -> None:
    """A process that dies between the decision and the reply (here: the decision committed,
    the send never made) replied nothing: the call stored SENT for a send that would succeed
    says QUEUED once the lease expires and the worker takes the message, which it sends once."""
    container = await make_container(inline_dispatch_timeout=SLOW_MACHINE_SECONDS, lease_seconds=1)
    (number,) = mobile_numbers(1)
    async with container.database.transaction() as tx:
        decision = await container.relay.decide(tx, tenant.restaurant, missed(number))
        await tx.commit()
    # the request is gone: ``complete`` (the send and its record) never runs
    assert decision.sending is not None
    assert decision.message_id is not None
    assert await stored_outcome(container.engine, decision.call_id) == Outcome.SENT.value

    row = await message_row(container.engine, decision.message_id)
    assert row.status == MessageStatus.SENDING.value
    await sleep_until(row.lease_expires_at, row.db_now)
    row = await drive_until_settled(container.dispatcher, container.engine, decision.message_id)

    assert row.status == MessageStatus.SENT.value
    assert graph.calls_to(number) == 1
    assert await stored_outcome(container.engine, decision.call_id) == Outcome.QUEUED.value
    assert [status for status, _, _ in await timeline(container.engine, row.id)] == [
        "queued", "sending", "queued", "sending", "sent",
    ]  # fmt: skip
