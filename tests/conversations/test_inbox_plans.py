"""The inbox reads what it needs and nothing more (SPEC §10, issue 16's scale): on a restaurant
with thousands of conversations and fresh statistics, each read's plan walks the index made for
it — never a scan of a whole table. (bench/conversations_at_scale.py times them at 100,000.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.dialects import postgresql

from ringback.bootstrap import Container
from ringback.conversations import queries
from ringback.conversations.model import InboxFilters
from tests.conftest import MakeRestaurant, Tenant

pytestmark = pytest.mark.sql

CONVERSATIONS = 20_000
SEED = """
WITH c AS (
  INSERT INTO customer (restaurant_id, phone_number)
  SELECT :r, '+3369' || lpad(g::text, 7, '0') FROM generate_series(0, :n - 1) AS g
  RETURNING id
), v AS (
  INSERT INTO conversation (restaurant_id, customer_id, unread_count, updated_at)
  SELECT :r, id, CASE WHEN id % 50 = 0 THEN 1 ELSE 0 END, now() - id * interval '1 minute'
  FROM c RETURNING id, updated_at
)
INSERT INTO conversation_message (restaurant_id, conversation_id, direction, type, text,
                                  provider_message_id, sent_at)
SELECT :r, v.id, 'inbound', 'text', 'm', 'wamid.plans-' || v.id || '-' || k, v.updated_at
FROM v, generate_series(1, 3) AS k
"""


@pytest.fixture
async def crowded(container: Container, make_restaurant: MakeRestaurant) -> Tenant:
    tenant = await make_restaurant()
    async with container.engine.begin() as conn:
        await conn.execute(text(SEED), {"r": tenant.id, "n": CONVERSATIONS})
    async with container.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("customer", "conversation", "conversation_message"):
            await autocommit.execute(text(f"ANALYZE {table}"))
    return tenant


async def plan(container: Container, statement: Select[Any]) -> dict[str, Any]:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    sql = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    async with container.engine.connect() as conn:
        found = await conn.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}"))
    document = found if isinstance(found, list) else json.loads(found)
    root: dict[str, Any] = document[0]["Plan"]
    return root


def scans(node: dict[str, Any]) -> set[tuple[str, str]]:
    """(node type, index or table) of every scan in the plan."""
    found: set[tuple[str, str]] = set()
    if "Scan" in node["Node Type"]:
        found.add((node["Node Type"], node.get("Index Name") or node.get("Relation Name", "")))
    for child in node.get("Plans", ()):
        found |= scans(child)
    return found


def indexes(node: dict[str, Any]) -> set[str]:
    return {name for kind, name in scans(node) if "Index" in kind}


def no_seq_scans(node: dict[str, Any]) -> bool:
    return not any(kind == "Seq Scan" for kind, _ in scans(node))


async def test_the_inbox_pages_walk_their_index(container: Container, crowded: Tenant) -> None:
    first = await plan(container, queries.inbox_page(crowded.id, InboxFilters(), None, 51))
    unread = await plan(
        container, queries.inbox_page(crowded.id, InboxFilters(unread=True), None, 51)
    )

    assert "ix_conversation_inbox" in indexes(first)
    assert "ix_conversation_unread" in indexes(unread)
    assert no_seq_scans(first)
    assert no_seq_scans(unread)


async def test_the_phone_filter_finds_the_customer_by_their_unique_number(
    container: Container, crowded: Tenant
) -> None:
    filters = InboxFilters(phone="+33690001234")

    found = await plan(container, queries.inbox_page(crowded.id, filters, None, 51))

    assert "uq_customer_restaurant_id_phone_number" in indexes(found)
    assert no_seq_scans(found)


async def test_a_thread_reads_its_own_messages_only(container: Container, crowded: Tenant) -> None:
    async with container.engine.connect() as conn:
        conversation_id = await conn.scalar(
            text("SELECT min(id) FROM conversation WHERE restaurant_id = :r"), {"r": crowded.id}
        )

    found = await plan(container, queries.thread_entries(conversation_id))

    assert "ix_conversation_message_conversation_id_sent_at_id" in indexes(found)
    assert no_seq_scans(found)
