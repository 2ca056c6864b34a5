"""The database decides under concurrency (SPEC §3): one message however many reports race."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
import respx
from sqlalchemy import func, insert, select, update

from ringback.bootstrap import Container, build_container
from ringback.db.tables import call, customer, message
from ringback.relay import queries, rules
from ringback.relay.model import CallEvent, Claim, Direction, Disposition, Outcome, Source
from ringback.relay.phone import read_number
from tests.conftest import GRAPH_BASE, MakeRestaurant, make_settings, random_mobile
from tests.databases import asyncpg_dsn
from tests.graphmock import POSTER, mock_graph
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = pytest.mark.sql
RACERS = 50


@pytest.fixture
async def wide(database_url: str) -> AsyncIterator[Container]:
    """A container whose pool lets the racers hold their own connections at the same time, and
    whose leases no loaded machine outlives: a worker polling beside an inline send must find
    the message held, however slow that send. The racers open their connections all at once: on a
    busy 2-core machine that can take longer than the service's 1 s connect timeout (which is
    there to answer 503 fast when PostgreSQL is down, not what these tests are about)."""
    built = await build_container(
        make_settings(
            database_url,
            db_pool_size=RACERS,
            lease_seconds=SLOW_MACHINE_SECONDS,
            db_connect_timeout_seconds=SLOW_MACHINE_SECONDS,
            db_pool_timeout_seconds=SLOW_MACHINE_SECONDS,
        ),
        start_worker=False,
        graph=POSTER,
    )
    yield built
    await built.aclose()


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(path__regex=r"/[^/]+/messages").mock(
            side_effect=lambda request: httpx.Response(
                200, json={"messages": [{"id": f"wamid.{random.getrandbits(64)}"}]}
            )
        )
        yield router


def missed(number: str, external_id: str | None) -> CallEvent:
    return CallEvent(
        source=Source.PARTNER,
        external_id=external_id,
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=number,
        occurred_at=dt.datetime.now(dt.UTC),
    )


async def _messages_to(container: Container, restaurant_id: int) -> int:
    async with container.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(message)
                    .where(message.c.restaurant_id == restaurant_id)
                )
            ).scalar_one()
        )


async def test_fifty_simultaneous_reports_of_one_call_send_exactly_one_message(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    decisions = await asyncio.gather(
        *(wide.relay.handle(tenant.restaurant, missed(number, "same-call")) for _ in range(RACERS))
    )
    outcomes = [d.outcome for d in decisions]
    assert outcomes.count(Outcome.SENT) == 1
    assert outcomes.count(Outcome.SKIPPED_DUPLICATE) == RACERS - 1
    assert len({d.call_id for d in decisions}) == 1
    assert await _messages_to(wide, tenant.id) == 1
    assert len(graph.calls) == 1
    async with wide.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(func.count()).select_from(call).where(call.c.restaurant_id == tenant.id)
            )
        ).scalar_one()
    assert rows == 1


async def test_fifty_simultaneous_calls_from_one_number_send_exactly_one_message(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    decisions = await asyncio.gather(
        *(wide.relay.handle(tenant.restaurant, missed(number, f"call-{i}")) for i in range(RACERS))
    )
    outcomes = [d.outcome for d in decisions]
    assert outcomes.count(Outcome.SENT) == 1
    assert outcomes.count(Outcome.SKIPPED_COOLDOWN) == RACERS - 1
    assert await _messages_to(wide, tenant.id) == 1
    assert len(graph.calls) == 1
    assert len({d.customer_id for d in decisions}) == 1


async def test_answered_call_cancels_the_queued_message_and_marks_the_call_recovered(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(send_delay_seconds=300)
    number = random_mobile()
    first = await wide.relay.handle(tenant.restaurant, missed(number, "m-1"))
    assert first.outcome is Outcome.QUEUED
    answered = CallEvent(
        source=Source.PARTNER,
        external_id="a-1",
        direction=Direction.OUTBOUND,
        disposition=Disposition.ANSWERED,
        raw_number=number,
        occurred_at=dt.datetime.now(dt.UTC),
    )
    second = await wide.relay.handle(tenant.restaurant, answered)
    async with wide.engine.connect() as conn:
        status = (
            await conn.execute(select(message.c.status).where(message.c.call_id == first.call_id))
        ).scalar_one()
        recovered = (
            await conn.execute(select(call.c.recovered_at).where(call.c.id == first.call_id))
        ).scalar_one()
        answered_customer = (
            await conn.execute(select(call.c.customer_id).where(call.c.id == second.call_id))
        ).scalar_one()
    assert status == "cancelled"
    assert recovered is not None
    assert answered_customer == second.customer_id == first.customer_id is not None
    assert len(graph.calls) == 0
    # a cancelled message no longer holds the cooldown
    again = await wide.relay.handle(tenant.restaurant, missed(number, "m-2"))
    assert again.outcome is Outcome.QUEUED


async def test_forced_outcome_replaces_the_rules_but_still_matches_the_customer(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    event = CallEvent(
        source=Source.ZOHO,
        external_id="z-1",
        direction=Direction.OUTBOUND,
        disposition=Disposition.MISSED,
        raw_number=number,
        occurred_at=dt.datetime.now(dt.UTC),
        forced_outcome=Outcome.SKIPPED_SUPPRESSED,
    )
    decision = await wide.relay.handle(tenant.restaurant, event)
    assert decision.outcome is Outcome.SKIPPED_SUPPRESSED
    assert decision.customer_id is not None
    assert len(graph.calls) == 0
    # nothing else was recorded: the customer is not opted out
    normal = await wide.relay.handle(tenant.restaurant, missed(number, "p-1"))
    assert normal.outcome is Outcome.SENT


async def test_outbound_missed_call_uses_the_callback_template(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    event = CallEvent(
        source=Source.ZOHO,
        external_id="o-1",
        direction=Direction.OUTBOUND,
        disposition=Disposition.MISSED,
        raw_number=random_mobile(),
        occurred_at=dt.datetime.now(dt.UTC),
    )
    decision = await wide.relay.handle(tenant.restaurant, event)
    assert decision.template_type is not None
    assert decision.template_type.value == "CALLBACK_UNANSWERED"
    assert decision.outcome is Outcome.SENT


async def test_missed_report_after_the_call_was_answered_is_stored_but_never_decided(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    number = random_mobile()
    answered = CallEvent(
        source=Source.TELNYX,
        external_id="session-1",
        direction=Direction.INBOUND,
        disposition=Disposition.ANSWERED,
        raw_number=number,
        occurred_at=dt.datetime.now(dt.UTC),
    )
    late_hangup = CallEvent(
        source=Source.TELNYX,
        external_id="session-1",
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=number,
        occurred_at=dt.datetime.now(dt.UTC),
    )
    await wide.relay.handle(tenant.restaurant, answered)
    decision = await wide.relay.handle(tenant.restaurant, late_hangup)
    assert decision.outcome is None
    async with wide.engine.connect() as conn:
        row = (await conn.execute(select(call).where(call.c.id == decision.call_id))).one()
    assert row.disposition == "answered"
    assert row.decided_at is None
    assert row.outcome is None
    assert await _messages_to(wide, tenant.id) == 0
    assert len(graph.calls) == 0


async def test_answered_report_after_a_decided_missed_call_keeps_the_decision_and_recovers(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant(send_delay_seconds=300)
    number = random_mobile()
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    missed_first = CallEvent(
        source=Source.TELNYX,
        external_id="session-2",
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=number,
        occurred_at=started,
    )
    decision = await wide.relay.handle(tenant.restaurant, missed_first)
    assert decision.outcome is Outcome.QUEUED
    callback = CallEvent(
        source=Source.TELNYX,
        external_id="session-3",
        direction=Direction.OUTBOUND,
        disposition=Disposition.ANSWERED,
        raw_number=number,
        occurred_at=dt.datetime.now(dt.UTC),
    )
    await wide.relay.handle(tenant.restaurant, callback)
    async with wide.engine.connect() as conn:
        row = (await conn.execute(select(call).where(call.c.id == decision.call_id))).one()
    assert row.outcome == "QUEUED"
    assert row.disposition == "missed"
    assert row.recovered_at is not None


async def test_worker_polling_meanwhile_leaves_the_inline_send_to_the_request(
    wide: Container, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    stop = asyncio.Event()
    worker = asyncio.create_task(
        wide.dispatcher.run_forever(stop, batch_size=20, poll_seconds=0.001)
    )
    try:
        decisions = [
            await wide.relay.handle(tenant.restaurant, missed(random_mobile(), None))
            for _ in range(20)
        ]
    finally:
        stop.set()
        await worker
    assert [d.outcome for d in decisions] == [Outcome.SENT] * 20
    # count only this tenant's sends: a worker polling a shared database may also send what an
    # earlier test left due (another restaurant's message), which is not this test's business
    ours = {d.caller_phone_number.lstrip("+") for d in decisions}
    sent_to = [json.loads(call.request.content)["to"] for call in graph.calls]
    assert sorted(to for to in sent_to if to in ours) == sorted(ours)


async def test_an_opt_out_between_the_match_and_the_decision_suppresses_the_report(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    """Rule 8 is read again under the caller's lock: a customer who opted out after the match
    read them (the facts the rules ran on say "not suppressed") gets no message."""
    tenant = await make_restaurant()
    number = random_mobile()
    event = missed(number, "late-opt-out")
    reading = read_number(number, tenant.restaurant.country)
    assert reading.e164 is not None
    now = dt.datetime.now(dt.UTC)
    async with container.database.connection() as conn:
        await conn.execute(insert(customer).values(restaurant_id=tenant.id, phone_number=number))
        facts = await queries.match_caller(conn, tenant.id, reading.e164, event.occurred_at)
        assert facts.customer_id is not None
        assert not facts.suppressed
        await conn.execute(
            update(customer).where(customer.c.id == facts.customer_id).values(opted_out_at=now)
        )
        verdict = rules.decide(tenant.restaurant, event, reading, facts, now)
        assert verdict.message is not None, "the rules, on the facts they read, would send"
        stored, claim = await queries.decide_call(conn, tenant.id, event, reading.display, verdict)
    assert claim is Claim.SUPPRESSED
    assert rules.final_verdict(verdict, claim).outcome is Outcome.SKIPPED_SUPPRESSED
    assert stored.message_id is None
    assert await _messages_to(container, tenant.id) == 0
    async with container.engine.connect() as conn:
        outcome = (
            await conn.execute(select(call.c.outcome).where(call.c.id == stored.call_id))
        ).scalar_one()
    assert outcome == Outcome.SKIPPED_SUPPRESSED.value


WAITING_FOR_THE_CALLERS_LOCK = """
SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
"""


async def test_a_new_callers_report_takes_the_callers_lock_before_the_customers_row(
    wide: Container, database_url: str, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    """Lock order: the caller's lock, then the customer's row. A report holding the caller's
    lock may wait on the customer's row (its check reads it FOR SHARE); a report of a new caller
    that created the row first and then waited for the lock would deadlock with it. Here the
    lock is held while the report runs: the report must wait for it before it writes the
    customer, so the holder can still create that customer and commit."""
    tenant = await make_restaurant()
    number = random_mobile()
    holder = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{tenant.id}:{number}"
            )
            report = asyncio.create_task(
                wide.relay.handle(tenant.restaurant, missed(number, "waits-for-the-lock"))
            )
            async with asyncio.timeout(SLOW_MACHINE_SECONDS):  # until the report waits
                while not await holder.fetchval(WAITING_FOR_THE_CALLERS_LOCK):
                    assert not report.done(), report
                    await asyncio.sleep(0.05)
            made = await holder.fetchval(
                "INSERT INTO customer (restaurant_id, phone_number) VALUES ($1, $2) RETURNING id",
                tenant.id,
                number,
            )
        decision = await asyncio.wait_for(report, SLOW_MACHINE_SECONDS)
    finally:
        await holder.close()
    assert decision.outcome is Outcome.SENT
    assert decision.customer_id == made
