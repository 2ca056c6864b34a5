"""The inbox at scale (issue 16, SPEC §10): one restaurant with N conversations and M inbound
messages seeded by SQL (``generate_series``), then the conversations API measured through the
real app in process (httpx over ASGI, no network), beside the target.

    python -m bench.conversations_at_scale            # 100,000 conversations, 1,000,000 messages
    python -m bench.conversations_at_scale --conversations 2000 --messages 20000   # smoke (CI)
    python -m bench.conversations_at_scale --database-url postgresql://postgres@127.0.0.1:5432/postgres

A database of its own is created on that server and dropped at the end (``--keep`` keeps it).
Figures are medians of ``--runs`` timed runs after one warm-up: the inbox's first page, a page
10,000 conversations deep (walked by cursor), ``unread=true`` (``--unread`` of them unread),
``phone``, one thread (its messages and the customer's calls), the read mark, and one webhook
storing a message in an existing conversation and one opening a new conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import hmac
import json
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

from bench.ops_bench import SEED_CALLS, SEED_MESSAGES, timed, with_database
from ringback.app import create_app
from ringback.bootstrap import build_container
from ringback.db.embedded import embedded_database_url
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind, hash_token, mint_token

TARGET_LIST_MS = 20.0
TARGET_THREAD_MS = 50.0
APP_SECRET = "conversations-bench-secret"
PHONE_NUMBER_ID = "bench-conversations-pnid"
INBOX = "/api/ops/v1/conversations"

# Customers '+3361' || 7 digits (as bench/ops_bench.py's calls name them), one conversation each,
# the newest activity spread over 90 days; every ``unread_every``-th one has unread messages.
SEED_CONVERSATIONS = """
WITH c AS (
  INSERT INTO customer (restaurant_id, phone_number, name)
  SELECT $1, '+3361' || lpad(g::text, 7, '0'), CASE WHEN g % 3 = 0 THEN 'Client ' || g END
  FROM generate_series(0, $2::bigint - 1) AS g
  RETURNING id, phone_number
)
INSERT INTO conversation (restaurant_id, customer_id, profile_name, last_direction, last_type,
                          last_text, last_at, last_inbound_at, unread_count, read_at,
                          created_at, updated_at)
SELECT $1, c.id, 'Profile ' || c.id, 'inbound', 'text', 'Bonjour, une table ce soir ?',
       t.at, t.at, CASE WHEN c.id % $3::bigint = 0 THEN 1 + c.id % 3 ELSE 0 END,
       CASE WHEN c.id % $3::bigint = 0 THEN NULL ELSE t.at END, t.at - interval '30 days', t.at
FROM c, LATERAL (
  SELECT now() - ((c.id * 2654435761) % 7776000) * interval '1 second' AS at
) AS t
"""

# M inbound messages, spread over the conversations, each before its conversation's last one.
SEED_MESSAGES_IN = """
WITH conv AS (
  SELECT id, updated_at, row_number() OVER (ORDER BY id) - 1 AS k
  FROM conversation WHERE restaurant_id = $1
), n AS (
  SELECT g, g % $3::bigint AS k, g / $3::bigint AS step FROM generate_series(0, $2::bigint - 1) g
)
INSERT INTO conversation_message (restaurant_id, conversation_id, direction, type, text,
                                  provider_message_id, sent_at, created_at)
SELECT $1, conv.id, 'inbound', CASE WHEN n.g % 10 = 0 THEN 'image' ELSE 'text' END,
       'Message ' || n.g, 'wamid.bench.' || n.g, t.at, t.at
FROM n JOIN conv USING (k), LATERAL (
  SELECT conv.updated_at - n.step * interval '7 minutes' AS at
) AS t
"""


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seed(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The restaurant, its conversations, messages and calls; returns what the timings need."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("SET statement_timeout = 0")
        restaurant_id = await conn.fetchval(
            "INSERT INTO restaurant (slug, name, country, timezone, whatsapp) VALUES "
            "($1, 'Bench Bistro', 'FR', 'Europe/Paris', $2::jsonb) RETURNING id",
            f"bench-{uuid.uuid4().hex[:8]}",
            json.dumps({"phone_number_id": PHONE_NUMBER_ID, "access_token": "bench"}),
        )
        token = mint_token(TokenKind.OPS)
        await conn.execute(
            "INSERT INTO api_token (restaurant_id, kind, name, token_hash) VALUES ($1, 'ops', "
            "'bench', $2)",
            restaurant_id,
            hash_token(token),
        )
        started = time.perf_counter()
        await conn.execute(SEED_CONVERSATIONS, restaurant_id, args.conversations, args.unread)
        await conn.execute(SEED_MESSAGES_IN, restaurant_id, args.messages, args.conversations)
        first_customer = await conn.fetchval(
            "SELECT min(id) FROM customer WHERE restaurant_id = $1", restaurant_id
        )
        spacing = 90 * 86_400 / max(1, args.calls)
        await conn.execute(
            SEED_CALLS, restaurant_id, args.calls, args.conversations, spacing, first_customer
        )
        await conn.execute(SEED_MESSAGES, restaurant_id)
        seeded = time.perf_counter() - started
        for table in ("customer", "conversation", "conversation_message", "call", "message"):
            await conn.execute(f"VACUUM ANALYZE {table}")
        # a conversation deep in the list, with calls: for the phone filter and the thread
        sample = await conn.fetchrow(
            "WITH called AS (SELECT v.id, cu.phone_number, v.updated_at FROM conversation v "
            "JOIN customer cu ON cu.id = v.customer_id WHERE v.restaurant_id = $1 AND EXISTS "
            "(SELECT 1 FROM call WHERE call.customer_id = v.customer_id)) "
            "SELECT id, phone_number FROM called ORDER BY updated_at "
            "OFFSET (SELECT count(*) / 2 FROM called) LIMIT 1",
            restaurant_id,
        )
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM conversation WHERE restaurant_id = $1) AS conversations,"
            " (SELECT count(*) FROM conversation_message WHERE restaurant_id = $1) AS messages,"
            " (SELECT count(*) FROM conversation WHERE restaurant_id = $1 AND unread_count > 0)"
            " AS unread, (SELECT count(*) FROM call WHERE restaurant_id = $1) AS calls,"
            " (SELECT count(*) FROM conversation_message WHERE conversation_id = $2) AS in_thread,"
            " (SELECT count(*) FROM call c JOIN conversation v ON v.customer_id = c.customer_id"
            "  WHERE v.id = $2) AS thread_calls",
            restaurant_id,
            sample["id"],
        )
    finally:
        await conn.close()
    return {
        "restaurant_id": int(restaurant_id),
        "token": token,
        "conversation_id": int(sample["id"]),
        "phone": str(sample["phone_number"]),
        "seed_seconds": seeded,
        **{key: int(value) for key, value in dict(counts).items()},
    }


def _webhook(sender: str) -> bytes:
    item = {
        "from": sender.lstrip("+"),
        "id": f"wamid.bench-{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "Encore une question"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "33185000000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": sender.lstrip("+")}],
        "messages": [item],
    }
    body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}
    return json.dumps(body).encode()


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    seeded = await seed(url, args)
    settings = Settings(
        _env_file=None,
        database_url=url,
        rate_limit_per_second=0,
        whatsapp_app_secret=APP_SECRET,
        db_statement_timeout_seconds=120,
    )
    container = await build_container(settings, start_worker=False)
    app = create_app(settings, container)
    headers = {"Authorization": f"Bearer {seeded['token']}"}
    results: dict[str, Any] = {**seeded}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as http:

            async def get(path: str, **params: Any) -> dict[str, Any]:
                reply = await http.get(path, params=params, headers=headers)
                assert reply.status_code == 200, reply.text
                body: dict[str, Any] = reply.json()
                return body

            async def post(path: str, raw: bytes, extra: dict[str, str]) -> None:
                reply = await http.post(path, content=raw, headers=extra)
                assert reply.status_code in (200, 204), reply.text

            def timing(work: Callable[[], Awaitable[Any]]) -> Awaitable[float]:
                return timed(work, args.runs)

            results["first_page_ms"] = await timing(lambda: get(INBOX))
            cursor, depth = None, 0
            target = min(10_000, max(0, seeded["conversations"] - 50))
            while depth < target:
                page = await get(
                    INBOX, limit=min(100, target - depth), **({"cursor": cursor} if cursor else {})
                )
                depth += len(page["data"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            deep = {"cursor": cursor} if cursor else {}
            results["deep_rows"] = depth
            results["deep_page_ms"] = await timing(lambda: get(INBOX, **deep))
            results["unread_ms"] = await timing(lambda: get(INBOX, unread="true"))
            results["phone_ms"] = await timing(lambda: get(INBOX, phone=seeded["phone"]))
            thread = f"{INBOX}/{seeded['conversation_id']}"
            results["thread_ms"] = await timing(lambda: get(thread))
            results["read_ms"] = await timing(lambda: post(f"{thread}/read", b"", headers))

            async def webhook(sender: Callable[[], str]) -> None:
                raw = _webhook(sender())
                sign = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
                extra = {"Content-Type": "application/json", "X-Hub-Signature-256": sign}
                await post("/webhooks/whatsapp", raw, extra)

            fresh = iter(range(10**6))
            results["webhook_existing_ms"] = await timing(lambda: webhook(lambda: seeded["phone"]))
            results["webhook_new_ms"] = await timing(
                lambda: webhook(lambda: f"+3362{next(fresh):07d}")
            )
    finally:
        await container.aclose()
    return results


def report(r: dict[str, Any]) -> str:
    def line(name: str, value: float, target: float | None) -> str:
        if target is None:
            return f"  {name:<44} {value:8.1f} ms"
        verdict = "ok" if value <= target else "OVER"
        return f"  {name:<44} {value:8.1f} ms (target < {target:g} ms)  {verdict}"

    return "\n".join(
        [
            f"conversations bench: {r['conversations']:,} conversations, {r['messages']:,} "
            f"inbound messages, {r['calls']:,} calls in one restaurant "
            f"(seeded in {r['seed_seconds']:.1f} s)",
            f"  machine: {platform.node()} · {os.cpu_count()} cores · {platform.platform()}",
            f"  date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
            line("inbox, first page (50)", r["first_page_ms"], TARGET_LIST_MS),
            line(f"inbox, page {r['deep_rows']:,} deep", r["deep_page_ms"], TARGET_LIST_MS),
            line(f"inbox, unread=true ({r['unread']:,} unread)", r["unread_ms"], TARGET_LIST_MS),
            line("inbox, phone", r["phone_ms"], TARGET_LIST_MS),
            line(
                f"thread ({r['in_thread']} messages, {r['thread_calls']} calls)",
                r["thread_ms"],
                TARGET_THREAD_MS,
            ),
            line("read mark (POST …/read)", r["read_ms"], None),
            line("webhook, a message in an existing conversation", r["webhook_existing_ms"], None),
            line("webhook, a message opening a conversation", r["webhook_new_ms"], None),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=100_000, help="calls of those customers")
    parser.add_argument(
        "--unread", type=int, default=20, help="one conversation in this many is unread"
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per figure (median)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ringback-bench-") as tmp:
        server = args.database_url or embedded_database_url(
            Path(tmp) / "pgdata", delete_on_exit=True
        )
        results = asyncio.run(with_database(server, args.keep, lambda url: measure(url, args)))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
