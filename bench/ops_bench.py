"""Operations queries at scale (SPEC §9): seeds N calls in one restaurant by SQL, then measures the
ops API through the real app (in process, no network) beside the targets.

    python bench/ops_bench.py                 # 1,000,000 calls on a fresh embedded PostgreSQL
    python bench/ops_bench.py --rows 5000     # smoke size (CI)
    python bench/ops_bench.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

A database of its own is created on that server and dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
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

from ringback.app import create_app
from ringback.bootstrap import build_container
from ringback.db.embedded import embedded_database_url
from ringback.db.migrate import upgrade_to_head
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind, hash_token, mint_token

TARGET_PAGE_MS = 20.0
TARGET_FILTER_MS = 50.0
TARGET_STATS_MS = 300.0
TARGET_CSV_MB = 50.0

# Pseudo-random but repeatable per row: Knuth's multiplicative hash of the series number.
SEED_CALLS = """
WITH g AS (
  SELECT n, (n * 2654435761) % 4294967296 AS h FROM generate_series(1, $2::bigint) AS n
), r AS (
  SELECT n,
         h % 10 AS p_source,
         (h / 10) % 20 AS p_direction,
         (h / 200) % 100 AS p_disposition,
         (h / 20000) % 100 AS p_outcome,
         (h / 2000000) % 100 AS p_recovered,
         h % $3::bigint AS p_customer
  FROM g
), c AS (
  SELECT n, p_customer, p_recovered,
         CASE WHEN p_source < 4 THEN 'partner' WHEN p_source < 7 THEN 'zoho'
              WHEN p_source < 9 THEN 'ccai' ELSE 'telnyx' END AS source,
         CASE WHEN p_direction = 0 THEN 'outbound' ELSE 'inbound' END AS direction,
         CASE WHEN p_disposition < 60 THEN 'missed' WHEN p_disposition < 90 THEN 'answered'
              ELSE 'other' END AS disposition,
         CASE WHEN p_outcome < 55 THEN 'SENT' WHEN p_outcome < 60 THEN 'QUEUED'
              WHEN p_outcome < 63 THEN 'FAILED' WHEN p_outcome < 73 THEN 'SKIPPED_COOLDOWN'
              WHEN p_outcome < 80 THEN 'SKIPPED_HIDDEN_NUMBER'
              WHEN p_outcome < 84 THEN 'SKIPPED_INVALID_NUMBER'
              WHEN p_outcome < 87 THEN 'SKIPPED_NOT_MOBILE' WHEN p_outcome < 88 THEN 'SKIPPED_STALE'
              WHEN p_outcome < 90 THEN 'SKIPPED_SUPPRESSED'
              ELSE 'SKIPPED_COOLDOWN' END AS outcome,
         now() - (n * $4::double precision) * interval '1 second' AS occurred_at
  FROM r
)
INSERT INTO call (restaurant_id, source, external_id, direction, disposition, caller_raw,
                  caller_phone_number, customer_id, occurred_at, outcome, template_type,
                  recovered_at, replied_at, decided_at, created_at, updated_at)
SELECT $1, source, 'bench-' || n, direction, disposition,
       CASE WHEN outcome = 'SKIPPED_HIDDEN_NUMBER' AND disposition = 'missed' THEN 'anonymous'
            ELSE '+3361' || lpad(p_customer::text, 7, '0') END,
       CASE WHEN outcome = 'SKIPPED_HIDDEN_NUMBER' AND disposition = 'missed' THEN 'anonymous'
            ELSE '+3361' || lpad(p_customer::text, 7, '0') END,
       CASE WHEN outcome = 'SKIPPED_HIDDEN_NUMBER' AND disposition = 'missed' THEN NULL
            ELSE $5::bigint + p_customer END,
       occurred_at,
       CASE WHEN disposition = 'missed' THEN outcome END,
       CASE WHEN disposition = 'missed' AND outcome IN ('SENT', 'QUEUED', 'FAILED')
            THEN 'MISSED_CALL' END,
       CASE WHEN disposition = 'missed' AND p_recovered < 15
            THEN occurred_at + interval '10 minutes' END,
       CASE WHEN disposition = 'missed' AND outcome = 'SENT' AND p_recovered >= 15
                 AND p_recovered < 35
            THEN occurred_at + interval '20 minutes' END,
       CASE WHEN disposition = 'missed' THEN occurred_at END,
       occurred_at, occurred_at
FROM c
"""

SEED_MESSAGES = """
INSERT INTO message (restaurant_id, call_id, customer_id, to_phone_number, template_type,
                     template_name, template_language, parameters, status, attempts,
                     next_attempt_at, provider_message_id, last_error, created_at, updated_at)
SELECT restaurant_id, id, customer_id, caller_phone_number, template_type, 'missed_call', 'fr',
       '["Bench Bistro"]'::jsonb,
       CASE outcome WHEN 'QUEUED' THEN 'queued' WHEN 'FAILED' THEN 'failed'
            ELSE (ARRAY['sent', 'delivered', 'delivered', 'read', 'read'])[1 + id % 5] END,
       CASE outcome WHEN 'FAILED' THEN 8 ELSE 1 END,
       occurred_at,
       CASE WHEN outcome = 'SENT' THEN 'wamid.bench.' || id END,
       CASE WHEN outcome = 'FAILED' THEN 'HTTP 400 code 131026' END,
       occurred_at, occurred_at + interval '2 seconds'
FROM call
WHERE restaurant_id = $1 AND outcome IN ('SENT', 'QUEUED', 'FAILED')
"""


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seed(url: str, rows: int, days: float) -> tuple[int, str, str]:
    """A restaurant with ``rows`` calls over ``days``: (restaurant id, ops token, a phone)."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        restaurant_id = await conn.fetchval(
            "INSERT INTO restaurant (slug, name, country, timezone, whatsapp) VALUES "
            "($1, 'Bench Bistro', 'FR', 'Europe/Paris', '{}'::jsonb) RETURNING id",
            f"bench-{uuid.uuid4().hex[:8]}",
        )
        token = mint_token(TokenKind.OPS)
        await conn.execute(
            "INSERT INTO api_token (restaurant_id, kind, name, token_hash) VALUES ($1, 'ops', "
            "'bench', $2)",
            restaurant_id,
            hash_token(token),
        )
        customers = max(10, rows // 20)
        first_customer = await conn.fetchval(
            "INSERT INTO customer (restaurant_id, phone_number) SELECT $1, '+3361' || "
            "lpad(g::text, 7, '0') FROM generate_series(0, $2::bigint - 1) g RETURNING id",
            restaurant_id,
            customers,
        )
        first_customer = await conn.fetchval(
            "SELECT min(id) FROM customer WHERE restaurant_id = $1", restaurant_id
        )
        spacing = days * 86_400 / rows
        await conn.execute(SEED_CALLS, restaurant_id, rows, customers, spacing, first_customer)
        await conn.execute(SEED_MESSAGES, restaurant_id)
        await conn.execute("VACUUM ANALYZE call")
        await conn.execute("VACUUM ANALYZE message")
        await conn.execute("VACUUM ANALYZE customer")
        phone = await conn.fetchval(
            "SELECT caller_phone_number FROM call WHERE restaurant_id = $1 AND customer_id IS "
            "NOT NULL ORDER BY id LIMIT 1",
            restaurant_id,
        )
    finally:
        await conn.close()
    return int(restaurant_id), token, str(phone)


async def timed(work: Callable[[], Awaitable[Any]], runs: int) -> float:
    """Median wall time in ms of ``runs`` runs after one warm-up."""
    await work()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def stream_csv(app: Any, token: str) -> tuple[int, int, float]:
    """Drive the ASGI app directly so the body is consumed as it streams (an httpx ASGI transport
    would buffer it); returns (bytes, lines, peak RSS growth in MB)."""
    before = rss_mb()
    peak = before
    received = 0
    lines = 0
    chunks = 0
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/ops/v1/calls.csv",
        "raw_path": b"/api/ops/v1/calls.csv",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal received, lines, chunks, peak
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            received += len(body)
            lines += body.count(b"\n")
            chunks += 1
            if chunks % 50 == 0:
                peak = max(peak, rss_mb())

    await app(scope, receive, send)
    peak = max(peak, rss_mb())
    return received, lines, peak - before


async def measure(url: str, rows: int, days: float, runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    _restaurant_id, token, phone = await seed(url, rows, days)
    seed_seconds = time.perf_counter() - started
    settings = Settings(
        _env_file=None,
        database_url=url,
        rate_limit_per_second=0,
        db_statement_timeout_seconds=120,
    )
    container = await build_container(settings, start_worker=False)
    app = create_app(settings, container)
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {"rows": rows, "seed_seconds": seed_seconds}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def get(path: str, **params: Any) -> dict[str, Any]:
                reply = await http.get(path, params=params, headers=headers)
                assert reply.status_code == 200, reply.text
                body: dict[str, Any] = reply.json()
                return body

            results["first_page_ms"] = await timed(lambda: get("/api/ops/v1/calls"), runs)
            # Walk to 10,000 rows deep by cursor, then time the page there.
            cursor = None
            depth = 0
            deep_target = min(10_000, max(0, rows - 50))
            while depth < deep_target:
                step = min(500, deep_target - depth)
                params: dict[str, Any] = {"limit": step}
                if cursor:
                    params["cursor"] = cursor
                page = await get("/api/ops/v1/calls", **params)
                depth += len(page["data"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            deep_params = {"cursor": cursor} if cursor else {}
            results["deep_page_rows"] = depth
            results["deep_page_ms"] = await timed(
                lambda: get("/api/ops/v1/calls", **deep_params), runs
            )
            now = dt.datetime.now(dt.UTC)
            filters: dict[str, dict[str, str]] = {
                "source=telnyx": {"source": "telnyx"},
                "direction=outbound": {"direction": "outbound"},
                "disposition=answered": {"disposition": "answered"},
                "outcome=SENT": {"outcome": "SENT"},
                "outcome=SKIPPED_STALE (1%)": {"outcome": "SKIPPED_STALE"},
                "message_status=failed": {"message_status": "failed"},
                "message_status=queued": {"message_status": "queued"},
                "phone": {"phone": phone},
                "from/to (one day, 30 days ago)": {
                    "from": (now - dt.timedelta(days=31)).isoformat(),
                    "to": (now - dt.timedelta(days=30)).isoformat(),
                },
                "recovered=true": {"recovered": "true"},
                "recovered=false": {"recovered": "false"},
                "replied=true": {"replied": "true"},
                "replied=false": {"replied": "false"},
            }
            results["filters_ms"] = {}
            for name, query in filters.items():
                results["filters_ms"][name] = await timed(
                    lambda q=query: get("/api/ops/v1/calls", **q),  # type: ignore[misc]
                    runs,
                )
            stats_from = (now - dt.timedelta(days=30)).isoformat()
            results["stats_30d_ms"] = await timed(
                lambda: get("/api/ops/v1/stats", **{"from": stats_from}), runs
            )
            results["stats_30d_hourly_ms"] = await timed(
                lambda: get("/api/ops/v1/stats", **{"from": stats_from, "bucket": "hour"}), runs
            )
        csv_started = time.perf_counter()
        size, lines, growth = await stream_csv(app, token)
        results["csv_seconds"] = time.perf_counter() - csv_started
        results["csv_bytes"] = size
        results["csv_lines"] = lines
        results["csv_peak_rss_growth_mb"] = growth
    finally:
        await container.aclose()
    return results


def report(results: dict[str, Any]) -> str:
    def line(name: str, value: float, target: float, unit: str) -> str:
        verdict = "ok" if value <= target else "OVER"
        return f"  {name:<38} {value:9.1f} {unit:<3} (target < {target:g} {unit})  {verdict}"

    out = [
        f"ops bench: {results['rows']:,} calls in one restaurant "
        f"(seeded in {results['seed_seconds']:.1f} s)",
        f"  machine: {platform.node()} · {os.cpu_count()} cores · {platform.platform()}",
        f"  date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        line("first page (50)", results["first_page_ms"], TARGET_PAGE_MS, "ms"),
        line(
            f"page {results['deep_page_rows']:,} rows deep",
            results["deep_page_ms"],
            TARGET_PAGE_MS,
            "ms",
        ),
    ]
    for name, value in results["filters_ms"].items():
        out.append(line(f"filter {name}", value, TARGET_FILTER_MS, "ms"))
    out.append(line("stats, 30 days by day", results["stats_30d_ms"], TARGET_STATS_MS, "ms"))
    out.append(
        line("stats, 30 days by hour", results["stats_30d_hourly_ms"], TARGET_STATS_MS, "ms")
    )
    out.append(
        line("CSV peak memory growth", results["csv_peak_rss_growth_mb"], TARGET_CSV_MB, "MB")
    )
    out.append(
        f"  CSV: {results['csv_lines'] - 1:,} rows, {results['csv_bytes'] / 1e6:.1f} MB "
        f"in {results['csv_seconds']:.1f} s"
    )
    return "\n".join(out)


async def with_database(server_url: str, keep: bool, work: Callable[[str], Awaitable[Any]]) -> Any:
    name = f"ringback_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        return await work(url)
    finally:
        if not keep:
            admin = await asyncpg.connect(_dsn(server_url))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=365.0, help="the calls span this many days")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per figure (median)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ringback-bench-") as tmp:
        server = args.database_url or embedded_database_url(
            Path(tmp) / "pgdata", delete_on_exit=True
        )
        results = asyncio.run(
            with_database(
                server, args.keep, lambda url: measure(url, args.rows, args.days, args.runs)
            )
        )
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
