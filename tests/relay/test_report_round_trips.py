"""A partner report's database round trips, counted on the driver (DESIGN.md habit 10).

A report is three, on autocommit connections (no BEGIN, no COMMIT): the statement that matches
the caller, the decision statement (which takes the caller's lock and commits alone), then —
after the inline send — the statement that records the send, which also looks for a status
webhook kept for its message id (a second one runs only when one was kept).
The caller's token costs none once its process has authenticated it: it is served from the
per-process cache (tenancy/token_cache.py). Every statement the driver runs is counted, on every
pooled connection, through asyncpg's own query logger. (Seven before issue 15: the token, BEGIN
and COMMIT, and the look for kept receipts as a statement of its own.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import Container, build_container
from ringback.tenancy.model import TokenKind
from tests.api.conftest import graph_ok
from tests.conftest import GRAPH_BASE, MakeRestaurant, make_settings, random_mobile
from tests.graphmock import GRAPH_MOCKER

pytestmark = pytest.mark.sql

ROUND_TRIPS_OF_A_SENT_REPORT = 3


class Statements:
    """Every statement the driver runs on the engine's connections while ``counting``."""

    def __init__(self) -> None:
        self.counting = False
        self.seen: list[str] = []

    def log(self, record: Any) -> None:
        if self.counting:
            self.seen.append(" ".join(str(record.query).split())[:50])

    def watch(self, container: Container) -> None:
        container.database.add_query_logger(self.log)


@pytest.fixture
def statements() -> Statements:
    return Statements()


@pytest.fixture
async def watched(database_url: str, statements: Statements) -> AsyncIterator[Container]:
    """A container of its own, watched before its pool opens its first connection."""
    built = await build_container(make_settings(database_url), start_worker=False)
    statements.watch(built)
    yield built
    await built.aclose()


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GRAPH_BASE, assert_all_called=False, using=GRAPH_MOCKER) as router:
        router.post(path__regex=r"/[^/]+/messages").mock(side_effect=graph_ok)
        yield router


async def test_a_partner_report_sent_inline_costs_three_round_trips(
    watched: Container,
    statements: Statements,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    app = create_app(watched.settings, watched)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def report() -> httpx.Response:
            return await client.post(
                "/api/partner/v1/missed-calls",
                json={"caller_phone_number": random_mobile()},
                headers=tenant.auth(TokenKind.PARTNER),
            )

        warm = await report()  # the driver prepares each statement once per connection
        assert warm.status_code == 201, warm.text
        statements.counting = True
        counted = await report()
        statements.counting = False
    assert counted.json()["data"]["outcome"] == "SENT"
    assert len(statements.seen) == ROUND_TRIPS_OF_A_SENT_REPORT, "\n".join(statements.seen)
