"""A partner report's database round trips, counted on the driver (DESIGN.md habit 10).

A report is two, on autocommit connections (no BEGIN, no COMMIT): the decision statement (which
finds or creates the caller's customer, takes the caller's lock and commits alone), then — after
the inline send — the statement that records the send, which also looks for a status webhook kept
for its message id (a second one runs only when one was kept). A caller with a reservation of the
window costs one more: the first decision finds it and writes nothing, and the verdict is made
again on it (``RelayService._decide_missed``).
The caller's token costs none once its process has authenticated it: it is served from the
per-process cache (tenancy/token_cache.py). Every statement the driver runs is counted, on every
pooled connection, through asyncpg's own query logger. (Seven before issue 15: the token, BEGIN
and COMMIT, the match of the caller, and the look for kept receipts as a statement of its own.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import Container, build_container
from ringback.tenancy.model import TokenKind
from tests.api.conftest import graph_ok
from tests.conftest import GRAPH_BASE, MakeRestaurant, Tenant, make_settings, random_mobile
from tests.graphmock import POSTER, mock_graph

pytestmark = pytest.mark.sql

ROUND_TRIPS_OF_A_SENT_REPORT = 2


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
    built = await build_container(make_settings(database_url), start_worker=False, graph=POSTER)
    statements.watch(built)
    yield built
    await built.aclose()


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(path__regex=r"/[^/]+/messages").mock(side_effect=graph_ok)
        yield router


async def put_caller(client: httpx.AsyncClient, tenant: Tenant, kind: str) -> str:
    """A number to report: no customer's, a customer's, or a customer's with a reservation."""
    number = random_mobile()
    headers = tenant.auth(TokenKind.PARTNER)
    if kind == "customer":
        customers = [{"phone_number": number, "name": "Ada Lovelace"}]
        put = await client.put("/api/partner/v1/customers", headers=headers, json=customers)
        assert put.status_code == 200, put.text
    elif kind == "booked":
        start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        reservation = {
            "external_id": f"r-{number}",
            "start_at": start.isoformat(),
            "party_size": 2,
            "status": "CONFIRMED",
            "customer": {"phone_number": number, "name": "Ada Lovelace"},
        }
        put = await client.put("/api/partner/v1/reservations", headers=headers, json=[reservation])
        assert put.status_code == 200, put.text
    return number


@pytest.mark.parametrize(
    ("kind", "round_trips", "template_type"),
    [
        ("new", ROUND_TRIPS_OF_A_SENT_REPORT, "MISSED_CALL"),
        ("customer", ROUND_TRIPS_OF_A_SENT_REPORT, "MISSED_CALL"),
        # the decision finds the reservation, writes nothing, and is made again on it
        ("booked", ROUND_TRIPS_OF_A_SENT_REPORT + 1, "MISSED_CALL_WITH_RESERVATION"),
    ],
)
async def test_the_round_trips_of_a_partner_report_sent_inline(
    watched: Container,
    statements: Statements,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    kind: str,
    round_trips: int,
    template_type: str,
) -> None:
    tenant = await make_restaurant()
    app = create_app(watched.settings, watched)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def report(number: str) -> httpx.Response:
            return await client.post(
                "/api/partner/v1/missed-calls",
                json={"caller_phone_number": number},
                headers=tenant.auth(TokenKind.PARTNER),
            )

        # both callers first: the driver logs a statement after it ran, so the counted report
        # must follow other work (the warm one) for none of the PUTs' to be counted with it
        warm_number, number = [await put_caller(client, tenant, kind) for _ in range(2)]
        warm = await report(warm_number)  # the driver prepares each statement once per connection
        assert warm.status_code == 201, warm.text
        statements.counting = True
        counted = await report(number)
        statements.counting = False
    data = counted.json()["data"]
    assert (data["outcome"], data["template_type"]) == ("SENT", template_type)
    assert len(statements.seen) == round_trips, "\n".join(statements.seen)
