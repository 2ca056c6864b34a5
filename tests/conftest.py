"""Test fixtures over a real PostgreSQL.

The server is ``TEST_DATABASE_URL`` when set, else an embedded PostgreSQL started for the session.
Each session creates its own uniquely named database, migrates it with alembic (so the migrations
are tested too) and drops it at the end; the server itself is never stopped.

Isolation: every test makes its own restaurant(s) through ``make_restaurant``, and everything the
relay stores is scoped by restaurant, so tests see only their own data even though the service
commits for real (which the concurrency tests need).
"""

from __future__ import annotations

import os
import random
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ringback.bootstrap import Container, build_container
from ringback.db.embedded import embedded_database_url
from ringback.settings import Settings
from ringback.tenancy.model import Restaurant, TokenKind, mint_token
from ringback.tenancy.stored import settings_from_columns
from tests.databases import fresh_database
from tests.graphmock import POSTER
from tests.waits import SLOW_MACHINE_SECONDS

GRAPH_BASE = "https://graph.test/v21.0"
ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A maintenance URL of the PostgreSQL server the suite runs on."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="ringback-pg-") as tmp:
        yield embedded_database_url(Path(tmp) / "pgdata", delete_on_exit=True)


@pytest.fixture(scope="session")
async def database_url(pg_server_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database of our own on that server, dropped at the end."""
    async with fresh_database(pg_server_url, "ringback_test") as url:
        yield url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "whatsapp_api_base_url": GRAPH_BASE,
        # a reply says SENT when the send is done within this: a deadline only a hang reaches
        # (tests of the deadline itself set their own)
        "inline_dispatch_timeout": SLOW_MACHINE_SECONDS,
        "rate_limit_per_second": 0,
        "retry_base_seconds": 0.05,
        "lease_seconds": 2,
        "worker_poll_seconds": 0.05,
        "graph_timeout_seconds": 2,
        "db_pool_size": 20,
        # the service's 1 s connect timeout answers 503 fast when PostgreSQL is down; on a busy
        # 2-core machine a healthy server can take longer to accept a burst of connections, and
        # no test here is about that (the down tests use a closed port: refused at once)
        "db_connect_timeout_seconds": SLOW_MACHINE_SECONDS,
        "db_pool_timeout_seconds": SLOW_MACHINE_SECONDS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def container(settings: Settings) -> AsyncIterator[Container]:
    built = await build_container(settings, start_worker=False, graph=POSTER)
    yield built
    await built.aclose()


DEFAULT_WHATSAPP: dict[str, Any] = {
    "phone_number_id": "1234567890",
    "access_token": "wa-access-token",
    "templates": {
        "MISSED_CALL": {"name": "missed_call", "language": "fr"},
        "MISSED_CALL_WITH_RESERVATION": {"name": "missed_call_resa", "language": "fr"},
        "CALLBACK_UNANSWERED": {"name": "callback_unanswered", "language": "fr"},
    },
    "fallback_first_name": "there",
}


@dataclass
class Tenant:
    """A restaurant made for one test, with a token of every kind."""

    restaurant: Restaurant
    tokens: dict[TokenKind, str] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.restaurant.id

    def auth(self, kind: TokenKind = TokenKind.PARTNER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[kind]}"}


MakeRestaurant = Callable[..., Awaitable[Tenant]]


@pytest.fixture
def make_restaurant(settings: Settings, container: Container) -> MakeRestaurant:
    store = container.tenancy

    async def make(**overrides: Any) -> Tenant:
        values: dict[str, Any] = {
            "name": "Chez Test",
            "slug": f"test-{uuid.uuid4().hex[:10]}",
            "country": "FR",
            "timezone": "Europe/Paris",
            "whatsapp": DEFAULT_WHATSAPP,
        }
        values.update(overrides)
        stored = await store.create_restaurant(settings_from_columns(values), slug=values["slug"])
        restaurant = await store.restaurant(stored.id)
        assert restaurant is not None
        tenant = Tenant(restaurant)
        for kind in TokenKind:
            token = mint_token(kind)
            await store.create_token(stored.id, kind, token, "test")
            tenant.tokens[kind] = token
        return tenant

    return make


def random_mobile(country_prefix: str = "+336") -> str:
    """A random French mobile number that phonenumbers accepts as valid and reachable."""
    from ringback.relay.phone import NumberVerdict, read_number

    while True:
        candidate = f"{country_prefix}{random.randint(10_000_000, 99_999_999)}"
        if read_number(candidate, "FR").verdict is NumberVerdict.REACHABLE:
            return candidate


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches the database is an ``sql`` test, whether or not its file says so:
    CI runs ``-m "sql or e2e"`` again on the second PostgreSQL, and a test that forgot its mark
    would silently run on one server only."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sql)
