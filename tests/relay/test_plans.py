"""A report's statements keep their plans whatever the statistics say (issue 15).

Every statement of a report may run on a plan a connection makes once and keeps (a generic
plan). A plan made while a table is small or was never analyzed must still read only the
caller's rows once the table holds millions. This replays the statements of one real report,
with the arguments they ran with, as ``EXPLAIN EXECUTE`` under
``plan_cache_mode = force_generic_plan`` on tables that were never analyzed (autovacuum off): no
statement scans a large table whole. The cooldown probe runs inside ``ringback_caller_check``
(migration 0009), whose plans EXPLAIN cannot show: its reads are counted instead, on the backend's
own counters (``pg_stat_get_xact_tuples_returned``, read before and after), against a window full
of other callers' calls: it must read the caller's calls through the ``(restaurant_id,
caller_phone_number, occurred_at)`` index and never the ops list's time index, which would read
every call of the restaurant in the window.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import build_container
from ringback.tenancy.model import TokenKind
from tests.api.conftest import graph_ok
from tests.conftest import GRAPH_BASE, make_settings, random_mobile
from tests.databases import asyncpg_dsn, fresh_database
from tests.e2e.own_database import create_tenant, engine_for
from tests.graphmock import POSTER, mock_graph

pytestmark = pytest.mark.sql

PHONE_INDEX = "ix_call_restaurant_id_caller_phone_number_occurred_at"
LARGE_TABLES = ("call", "message", "customer", "reservation", "message_event")
# other callers' calls around now: the cooldown window of the report holds them all
OTHER_CALLS = """
INSERT INTO call (restaurant_id, source, external_id, direction, disposition, caller_raw,
                  caller_phone_number, occurred_at, outcome, decided_at)
SELECT $1, 'partner', 'other-' || n, 'inbound', 'missed', '+3361' || lpad(n::text, 7, '0'),
       '+3361' || lpad(n::text, 7, '0'), now() - n * interval '1 second', 'SKIPPED_COOLDOWN', now()
FROM generate_series(1, 2000) AS n
"""


Statement = tuple[str, tuple[Any, ...]]


@pytest.fixture
async def unanalyzed_url(pg_server_url: str) -> AsyncIterator[str]:
    """A database of its own whose tables are never analyzed: autovacuum is off for them."""
    async with fresh_database(pg_server_url, "ringback_plans") as url:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            for table in LARGE_TABLES:
                await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        finally:
            await conn.close()
        yield url


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(path__regex=r"/[^/]+/messages").mock(side_effect=graph_ok)
        yield router


async def statements_of_a_report(url: str) -> list[Statement]:
    """Every statement with arguments that one warm partner report ran, as it ran them."""
    engine = engine_for(url)
    try:
        restaurant_id, tokens = await create_tenant(engine, TokenKind.PARTNER)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(OTHER_CALLS, restaurant_id)
    finally:
        await conn.close()
    seen: list[Statement] = []
    counting = False

    def log(record: Any) -> None:
        if counting and record.args:
            seen.append((record.query, tuple(record.args)))

    container = await build_container(make_settings(url), start_worker=False, graph=POSTER)

    container.database.add_query_logger(log)
    headers = {"Authorization": f"Bearer {tokens[TokenKind.PARTNER]}"}
    try:
        transport = httpx.ASGITransport(app=create_app(container.settings, container))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def report(number: str) -> httpx.Response:
                return await client.post(
                    "/api/partner/v1/missed-calls",
                    json={"caller_phone_number": number},
                    headers=headers,
                )

            # a booked caller too: their report runs the decision again on the reservation
            booked = random_mobile()
            start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            booking = {
                "external_id": "booked",
                "start_at": start.isoformat(),
                "party_size": 2,
                "status": "CONFIRMED",
                "customer": {"phone_number": booked},
            }
            put = await client.put("/api/partner/v1/reservations", headers=headers, json=[booking])
            assert put.status_code == 200, put.text
            assert (await report(random_mobile())).status_code == 201  # warm: caches, imports
            counting = True
            replies = [await report(random_mobile()), await report(booked)]
            counting = False
    finally:
        await container.aclose()
    assert [r.json()["data"]["outcome"] for r in replies] == ["SENT", "SENT"], replies[1].text
    assert replies[1].json()["data"]["template_type"] == "MISSED_CALL_WITH_RESERVATION"
    return seen


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        inner = ",".join('"' + str(item).replace('"', '\\"') + '"' for item in value)
        return _literal("{" + inner + "}")
    if isinstance(value, dt.datetime | dt.date | uuid.UUID | bool | int | float | str):
        return "'" + str(value).replace("'", "''") + "'"
    raise TypeError(f"no literal for {type(value).__name__}")


async def generic_plan(conn: asyncpg.Connection, statement: Statement) -> dict[str, Any]:
    """The generic plan of ``statement`` as PostgreSQL makes it now, without running it."""
    sql, args = statement
    async with conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE probed AS {sql}")
        try:
            shown = await conn.fetchval(
                f"EXPLAIN (FORMAT JSON) EXECUTE probed({', '.join(map(_literal, args))})"
            )
        finally:
            await conn.execute("DEALLOCATE probed")
    plan: dict[str, Any] = json.loads(shown)[0]["Plan"]
    return plan


def scans(plan: dict[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    """(node type, relation, index) of every scan of a table in the plan."""
    if "Relation Name" in plan and "Scan" in plan["Node Type"]:
        yield plan["Node Type"], plan["Relation Name"], plan.get("Index Name")
    for child in plan.get("Plans", []):
        yield from scans(child)


async def test_a_reports_plans_read_the_callers_rows_on_tables_without_statistics(
    unanalyzed_url: str, graph: respx.MockRouter
) -> None:
    statements = await statements_of_a_report(unanalyzed_url)
    conn = await asyncpg.connect(asyncpg_dsn(unanalyzed_url))
    try:
        analyzed = await conn.fetchval(
            "SELECT count(*) FROM pg_stats WHERE tablename = ANY($1::text[])", list(LARGE_TABLES)
        )
        assert analyzed == 0, "the tables must have no statistics"
        plans = {sql: await generic_plan(conn, (sql, args)) for sql, args in statements}
    finally:
        await conn.close()

    assert any("ringback_caller_check" in sql for sql in plans), list(plans)
    assert len(plans) == 3, list(plans)  # the first decision, the decision again, the record
    for sql, plan in plans.items():
        for node, relation, _ in scans(plan):
            assert not (node == "Seq Scan" and relation in LARGE_TABLES), (relation, sql[:80])


OWN_CALL = """
INSERT INTO call (restaurant_id, source, external_id, direction, disposition, caller_raw,
                  caller_phone_number, occurred_at, outcome, decided_at)
VALUES ($1, 'partner', 'mine', 'inbound', 'missed', $2, $2, now() - interval '1 hour', 'SENT',
        now())
"""
# the backend's counters, which hold what it has not yet reported: read them before and after
CALL_INDEX_READS = """
SELECT c.relname, pg_stat_get_xact_tuples_returned(c.oid) AS tuples
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = 'call'::regclass
"""


async def index_reads(conn: asyncpg.Connection) -> dict[str, int]:
    """Index tuples read from ``call``, by index, as this backend counts them."""
    return {row["relname"]: row["tuples"] for row in await conn.fetch(CALL_INDEX_READS)}


async def test_the_cooldown_probe_reads_only_the_callers_calls_without_statistics(
    unanalyzed_url: str,
) -> None:
    engine = engine_for(unanalyzed_url)
    try:
        restaurant_id, _ = await create_tenant(engine, TokenKind.PARTNER)
    finally:
        await engine.dispose()
    caller = "+33612345678"
    conn = await asyncpg.connect(asyncpg_dsn(unanalyzed_url))
    try:
        await conn.execute(OTHER_CALLS, restaurant_id)
        customer_id = await conn.fetchval(
            "INSERT INTO customer (restaurant_id, phone_number) VALUES ($1, $2) RETURNING id",
            restaurant_id,
            caller,
        )
        # the caller's own earlier call, inside the window: the probe must find it
        await conn.execute(OWN_CALL, restaurant_id, caller)
        await conn.execute(
            "INSERT INTO message (restaurant_id, call_id, customer_id, to_phone_number,"
            " template_type, template_name, template_language, parameters, status,"
            " next_attempt_at)"
            " SELECT restaurant_id, id, $2, caller_phone_number, 'MISSED_CALL', 't', 'en',"
            " '[]'::jsonb, 'sent', now() FROM call WHERE restaurant_id = $1",
            restaurant_id,
            customer_id,
        )
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        now = dt.datetime.now(dt.UTC)
        window = dt.timedelta(hours=6)
        for _ in range(6):  # past PL/pgSQL's first custom plans: the kept plan is generic
            async with conn.transaction():
                before = await index_reads(conn)
                found = await conn.fetchval(
                    "SELECT ringback_caller_check($1, $2, $3, $4, $5, $6)",
                    f"{restaurant_id}:{caller}",
                    restaurant_id,
                    customer_id,
                    caller,
                    now - window,
                    now + window,
                )
                after = await index_reads(conn)
            read = {name: after[name] - before.get(name, 0) for name in after}
            assert found == "cooled"
            assert {name for name, tuples in read.items() if tuples} == {PHONE_INDEX}, read
            assert read[PHONE_INDEX] <= 2, read
        analyzed = await conn.fetchval(
            "SELECT count(*) FROM pg_stats WHERE tablename = ANY($1::text[])", list(LARGE_TABLES)
        )
        assert analyzed == 0, "the tables must have no statistics"
    finally:
        await conn.close()
