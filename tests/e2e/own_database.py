"""A migrated database of one test module alone, on the suite's PostgreSQL server.

Every outbox worker serves its whole database: a worker started by a test would also send the
messages other tests left queued in the session database (and theirs would eat its scripted
Graph replies). Process tests that count Graph requests, or that let a fuzzer loose, use their own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ringback.db.tx import Database
from ringback.settings import to_asyncpg_url
from ringback.tenancy.model import TokenKind, mint_token
from ringback.tenancy.repository import TenancyRepository
from ringback.tenancy.stored import settings_from_columns
from tests.conftest import DEFAULT_WHATSAPP
from tests.databases import fresh_database


@asynccontextmanager
async def own_database(pg_server_url: str, prefix: str) -> AsyncIterator[str]:
    """Create and migrate a fresh database; yields its URL; drops it afterwards."""
    async with fresh_database(pg_server_url, prefix) as url:
        yield url


def engine_for(url: str) -> AsyncEngine:
    """An engine without a pool, so that it never holds a connection between statements."""
    return create_async_engine(to_asyncpg_url(url), poolclass=NullPool)


async def create_tenant(
    engine: AsyncEngine, *kinds: TokenKind, **overrides: Any
) -> tuple[int, dict[TokenKind, str]]:
    """A restaurant (WhatsApp configured like the suite's) and one token of each kind asked."""
    store = TenancyRepository(Database(engine))
    values: dict[str, Any] = {
        "name": "Chez Test",
        "slug": f"test-{uuid.uuid4().hex[:10]}",
        "country": "FR",
        "timezone": "Europe/Paris",
        "whatsapp": DEFAULT_WHATSAPP,
        **overrides,
    }
    stored = await store.create_restaurant(settings_from_columns(values), slug=values["slug"])
    tokens = {kind: mint_token(kind) for kind in kinds}
    for kind, token in tokens.items():
        await store.create_token(stored.id, kind, token, "test")
    return stored.id, tokens
