"""The partner intake against a restaurant that already holds N calls (issue 15, SPEC §9): a
report must cost the same whatever the data, with statistics fresh or absent.

    python -m bench.intake_at_scale                     # 1,000,000 calls and their messages
    python -m bench.intake_at_scale --rows 5000         # smoke size (CI)
    python -m bench.intake_at_scale --database-url postgresql://postgres@127.0.0.1:5432/postgres

Three runs of the same reports through the real app in process (httpx over ASGI, the Graph API
mocked with respx, so every report is sent inline: ``SENT``), each on a database of its own on
that server (created and dropped; ``--keep`` keeps them):

- ``empty``: a fresh database, one restaurant and nothing else;
- ``absent``: the restaurant seeded by SQL (``bench/ops_bench.py``'s ``generate_series``: calls over
  365 days up to now, ~38 % of them with a message) on tables whose autovacuum is off and that were
  never analyzed — ``pg_stats`` holds nothing for them, as after a bulk load or a restore;
- ``fresh``: the same database right after ``ANALYZE``.

Each measured run starts after a ``CHECKPOINT`` (the seed's writes are not the reports'). Per
report it prints the pages the tables and indexes touched (``pg_statio_user_tables``: found in
shared buffers, or read from outside them), the tuples PostgreSQL read
(``pg_stat_user_tables.seq_tup_read`` and ``pg_stat_user_indexes.idx_tup_read`` deltas, the
indexes that read most), the round trips (every
statement the driver ran, counted by asyncpg's query logger) and req/s at ``--concurrency``
concurrent reports. Each report is a new caller (its own valid French mobile, none of the seeded
ones), as wrk's generator does; a report's reads may therefore differ between runs only if a plan
walks other callers' rows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from tests.graphmock import POSTER, mock_graph

from bench.ops_bench import SEED_CALLS, SEED_MESSAGES, with_database
from ringback.app import create_app
from ringback.bootstrap import build_container
from ringback.db.embedded import embedded_database_url
from ringback.settings import Settings

ADMIN = "admin-token-for-intake-at-scale-0123456789"
GRAPH = "https://graph.intake-at-scale.test/v21.0"
# the tables a report reads or writes: their autovacuum is off in the seeded database
TABLES = ("restaurant", "api_token", "customer", "reservation", "call", "message", "message_event")
STATS_FLUSH_SECONDS = 0.5  # after the last client's exit, for its counters to land


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def counters(url: str) -> dict[str, int]:
    """Tuples read so far in this database: one entry per index and per table's sequential
    scans. Waits until no other client is connected: a server process flushes its counters
    when it exits."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        for _ in range(100):
            others = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            if not others:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = await conn.fetch(
            "SELECT 'seq ' || relname AS name, seq_tup_read AS n FROM pg_stat_user_tables "
            "UNION ALL SELECT 'idx ' || indexrelname, idx_tup_read FROM pg_stat_user_indexes "
            # pages: found in shared buffers (hit) or read from outside them (read)
            "UNION ALL SELECT 'hit', sum(coalesce(heap_blks_hit, 0) + coalesce(idx_blks_hit, 0)"
            " + coalesce(toast_blks_hit, 0) + coalesce(tidx_blks_hit, 0))"
            " FROM pg_statio_user_tables "
            "UNION ALL SELECT 'read', sum(coalesce(heap_blks_read, 0) + coalesce(idx_blks_read, 0)"
            " + coalesce(toast_blks_read, 0) + coalesce(tidx_blks_read, 0))"
            " FROM pg_statio_user_tables"
        )
    finally:
        await conn.close()
    return {row["name"]: int(row["n"] or 0) for row in rows}


async def checkpoint(url: str) -> None:
    """Write out what came before the measured run (the seed's 1,000,000 rows are over a GB of
    WAL): a checkpoint it started would otherwise run during the measured reports and slow
    them for a cost that is not theirs."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def analyzed_tables(url: str) -> int:
    conn = await asyncpg.connect(_dsn(url))
    try:
        count = await conn.fetchval(
            "SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = 'public' "
            "AND tablename = ANY($1::text[])",
            list(TABLES),
        )
    finally:
        await conn.close()
    return int(count)


async def seed(url: str, restaurant_id: int, rows: int, days: float) -> float:
    """``rows`` calls of the restaurant and their messages, by SQL; statistics left untouched."""
    started = time.perf_counter()
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("SET statement_timeout = 0")
        customers = max(10, rows // 20)
        await conn.execute(
            "INSERT INTO customer (restaurant_id, phone_number) SELECT $1, '+3361' || "
            "lpad(g::text, 7, '0') FROM generate_series(0, $2::bigint - 1) g",
            restaurant_id,
            customers,
        )
        first_customer = await conn.fetchval(
            "SELECT min(id) FROM customer WHERE restaurant_id = $1", restaurant_id
        )
        spacing = days * 86_400 / rows
        await conn.execute(SEED_CALLS, restaurant_id, rows, customers, spacing, first_customer)
        await conn.execute(SEED_MESSAGES, restaurant_id)
    finally:
        await conn.close()
    return time.perf_counter() - started


class Intake:
    """The real app in process with a partner restaurant; counts the driver's statements."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statements = 0
        self.counting = False
        self.numbers = itertools.count(1)

    def _log(self, _record: Any) -> None:
        if self.counting:
            self.statements += 1

    async def __aenter__(self) -> Intake:
        settings = Settings(
            _env_file=None,
            database_url=self.url,
            admin_token=ADMIN,
            whatsapp_api_base_url=GRAPH,
            rate_limit_per_second=0,
            # a report is SENT unless a send hangs: the bench measures the database, not a deadline
            inline_dispatch_timeout=30,
            db_statement_timeout_seconds=120,
        )
        self.container = await build_container(settings, start_worker=False, graph=POSTER)

        self.container.database.add_query_logger(self._log)
        self.graph = mock_graph(base_url=GRAPH)
        router = self.graph.__enter__()
        router.post(path__regex=r"/[^/]+/messages").mock(side_effect=self._graph_ok)
        app = create_app(settings, self.container)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        self.graph.__exit__(None, None, None)
        await self.container.aclose()

    def _graph_ok(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"messages": [{"id": f"wamid.{uuid.uuid4().hex}"}]})

    async def make_restaurant(self) -> int:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        made = await self.http.post(
            "/api/admin/v1/restaurants",
            headers=auth,
            json={
                "name": "Scale Bistro",
                "country": "FR",
                "timezone": "Europe/Paris",
                "whatsapp": {
                    "phone_number_id": "1",
                    "access_token": "t",
                    "templates": {"MISSED_CALL": {"name": "missed_call", "language": "fr"}},
                },
            },
        )
        assert made.status_code == 201, made.text
        restaurant_id = int(made.json()["data"]["id"])
        token = await self.http.post(
            f"/api/admin/v1/restaurants/{restaurant_id}/tokens",
            headers=auth,
            json={"kind": "partner"},
        )
        assert token.status_code == 201, token.text
        self.partner = {"Authorization": f"Bearer {token.json()['data']['token']}"}
        return restaurant_id

    async def report(self) -> None:
        # +33 67 … : a valid French mobile no seeded caller has (they are +33 61 …)
        number = f"+3367{next(self.numbers):07d}"
        reply = await self.http.post(
            "/api/partner/v1/missed-calls",
            headers=self.partner,
            json={"caller_phone_number": number, "external_call_id": f"scale-{number}"},
        )
        assert reply.status_code == 201, reply.text
        outcome = reply.json()["data"]["outcome"]
        assert outcome == "SENT", outcome

    async def run(self, reports: int, concurrency: int) -> float:
        """``reports`` reports from ``concurrency`` concurrent clients; the elapsed seconds."""
        left = iter(range(reports))

        async def client() -> None:
            for _ in left:
                await self.report()

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return time.perf_counter() - started


async def measure(
    url: str, label: str, restaurant: Callable[[Intake], Awaitable[int]], args: argparse.Namespace
) -> dict[str, Any]:
    """One run. A first app sets the restaurant up and warms the process (imports, caches) and
    the tables' pages; it is closed, so that its server processes exit and flush their counters
    (an idle one may keep them up to 10 s). A second app makes the measured reports on
    connections of its own (each prepares its statements once: the plans the run keeps), and is
    closed before the counters are read again."""
    async with Intake(url) as setup:
        await restaurant(setup)
        await setup.run(args.concurrency * 4, args.concurrency)
    await checkpoint(url)
    before = await counters(url)
    async with Intake(url) as intake:
        intake.partner = setup.partner
        intake.numbers = setup.numbers
        intake.counting = True
        seconds = await intake.run(args.reports, args.concurrency)
        intake.counting = False
        statements = intake.statements
    after = await counters(url)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    pages = {name: delta.pop(name, 0) / args.reports for name in ("hit", "read")}
    reads = {name: n / args.reports for name, n in delta.items() if n}
    return {
        "pages_hit": pages["hit"],
        "pages_read": pages["read"],
        "label": label,
        "analyzed_tables": await analyzed_tables(url),
        "reports": args.reports,
        "req_per_s": args.reports / seconds,
        "round_trips": statements / args.reports,
        "seq_tup_read": sum(n for name, n in reads.items() if name.startswith("seq ")),
        "idx_tup_read": sum(n for name, n in reads.items() if name.startswith("idx ")),
        "reads": reads,
    }


async def run_all(server: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    async def empty(url: str) -> list[dict[str, Any]]:
        return [await measure(url, "empty", Intake.make_restaurant, args)]

    async def seeded(url: str) -> list[dict[str, Any]]:
        conn = await asyncpg.connect(_dsn(url))
        try:
            for table in TABLES:
                await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        finally:
            await conn.close()
        seeded_in: list[float] = []
        made: list[int] = []

        async def seeded_restaurant(intake: Intake) -> int:
            made.append(await intake.make_restaurant())
            seeded_in.append(await seed(url, made[0], args.rows, args.days))
            return made[0]

        absent = await measure(url, "absent", seeded_restaurant, args)
        absent["seed_seconds"] = seeded_in[0]

        conn = await asyncpg.connect(_dsn(url))
        try:
            await conn.execute("ANALYZE")
        finally:
            await conn.close()

        async def same_restaurant(intake: Intake) -> int:
            token = await intake.http.post(
                f"/api/admin/v1/restaurants/{made[0]}/tokens",
                headers={"Authorization": f"Bearer {ADMIN}"},
                json={"kind": "partner"},
            )
            assert token.status_code == 201, token.text
            intake.partner = {"Authorization": f"Bearer {token.json()['data']['token']}"}
            intake.numbers = itertools.count(10 * (args.reports + args.concurrency * 4))
            return made[0]

        fresh = await measure(url, "fresh", same_restaurant, args)
        return [absent, fresh]

    return [
        *await with_database(server, args.keep, empty),
        *await with_database(server, args.keep, seeded),
    ]


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    seeded = next(r for r in results if r["label"] == "absent")
    out = [
        f"intake at scale: {args.rows:,} calls in one restaurant "
        f"(seeded in {seeded['seed_seconds']:.1f} s), {args.reports:,} reports per run, "
        f"{args.concurrency} concurrent",
        f"  machine: {platform.node()} · {os.cpu_count()} cores · {platform.platform()}",
        f"  date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"  {'run':<8} {'analyzed':>8} {'req/s':>8} {'round trips':>12} "
        f"{'idx tuples':>11} {'seq tuples':>11} {'pages hit':>10} {'pages read':>11}"
        "   (per report)",
    ]
    for r in results:
        out.append(
            f"  {r['label']:<8} {r['analyzed_tables']:>8} {r['req_per_s']:>8.1f} "
            f"{r['round_trips']:>12.2f} {r['idx_tup_read']:>11.2f} {r['seq_tup_read']:>11.2f}"
            f" {r['pages_hit']:>10.2f} {r['pages_read']:>11.2f}"
        )
    for r in results:
        top = sorted(r["reads"].items(), key=lambda item: -item[1])[:6]
        shown = ", ".join(f"{name} {n:.2f}" for name, n in top)
        out.append(f"  {r['label']} reads: {shown}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=365.0, help="the calls span this many days")
    parser.add_argument("--reports", type=int, default=2000, help="measured reports per run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ringback-scale-") as tmp:
        server = args.database_url or embedded_database_url(
            Path(tmp) / "pgdata", delete_on_exit=True
        )
        results = asyncio.run(run_all(server, args))
    print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
