"""The ``/ops`` dashboard in a real headless browser (Debian's Chromium driven by Playwright)
against the real ``ringback serve`` process: sign in, see the seeded calls, filter, open a
call's timeline.

Chromium must be installed at /usr/bin/chromium (``apt-get install chromium``); without it this test
fails rather than skips. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import respx
from playwright.async_api import async_playwright, expect
from sqlalchemy import func, update

from ringback.bootstrap import Container
from ringback.db.tables import call, message
from ringback.relay.model import CallEvent, Decision, Direction, Disposition, Source
from ringback.tenancy.model import TokenKind
from tests.api.conftest import graph_ok
from tests.conftest import GRAPH_BASE, MakeRestaurant, Tenant, random_mobile
from tests.e2e.processes import running_server
from tests.fakegraph import FakeGraph
from tests.graphmock import mock_graph
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.sql]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The screenshots kept in docs/ are refreshed on demand (RINGBACK_UPDATE_SCREENSHOTS=1), so an
# ordinary run leaves the checkout clean.
SCREENSHOT = (
    Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
    if os.environ.get("RINGBACK_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "ringback-dashboard.png"
)


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    """The Graph API of the in-process relay that seeds the calls."""
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(path__regex=r"/[^/]+/messages").mock(side_effect=graph_ok)
        yield router


@pytest.fixture(scope="module")
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


@pytest.fixture(scope="module")
async def server_url(
    database_url: str, fake_graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WHATSAPP_API_BASE_URL": fake_graph.base_url,
        "RINGBACK_RATE_LIMIT_PER_SECOND": "0",
        "RINGBACK_ADMIN_TOKEN": "dashboard-admin-token-0123456789",
    }
    log = tmp_path_factory.mktemp("dashboard") / "serve.log"
    async with running_server(env, log) as server:
        yield server.url


async def seed(
    container: Container,
    tenant: Tenant,
    hours_ago: float,
    *,
    number: str | None = None,
    disposition: Disposition = Disposition.MISSED,
    source: Source = Source.PARTNER,
) -> Decision:
    event = CallEvent(
        source=source,
        external_id=f"dash-{uuid.uuid4().hex[:10]}",
        direction=Direction.INBOUND,
        disposition=disposition,
        raw_number=number or random_mobile(),
        occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago),
    )
    return await container.relay.handle(tenant.restaurant, event)


async def test_manager_signs_in_sees_calls_filters_and_opens_a_timeline(
    server_url: str,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat before anything starts
        pytest.fail("Debian's chromium is required at /usr/bin/chromium (apt-get install chromium)")
    tenant = await make_restaurant(name="Le Petit Bistrot", max_call_age_hours=24 * 8)
    # A week of calls: texted callers, a few who were called back (recovered), hidden numbers.
    decisions: list[Decision] = []
    for index in range(18):
        hours = 3 + index * 9.1
        number = random_mobile()
        decisions.append(
            await seed(
                container,
                tenant,
                hours,
                number=number,
                source=Source.ZOHO if index % 3 else Source.PARTNER,
            )
        )
        if index % 4 == 0:
            await seed(
                container, tenant, hours - 0.5, number=number, disposition=Disposition.ANSWERED
            )
    # Delivery receipts as the WhatsApp webhook would record them: most delivered, some read;
    # and the callers who wrote back (SPEC §10: the webhook marks their call replied).
    replied = decisions[1::6]
    async with container.engine.begin() as conn:
        for n, decision in enumerate(decisions):
            status = ("read", "delivered", "delivered", "sent")[n % 4]
            await conn.execute(
                update(message).where(message.c.id == decision.message_id).values(status=status)
            )
        for decision in replied:
            await conn.execute(
                update(call).where(call.c.id == decision.call_id).values(replied_at=func.now())
            )
    hidden = await seed(container, tenant, 1.5, number="anonymous")
    newest = await seed(container, tenant, 0.2)
    total = 18 + 5 + 2

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 1100})
            # the browser, the server process and PostgreSQL may share a busy 2-core machine:
            # every wait (actions and assertions alike) is one only a hang reaches
            page.set_default_timeout(SLOW_MACHINE_SECONDS * 1000)
            expect.set_options(timeout=SLOW_MACHINE_SECONDS * 1000)
            await page.goto(f"{server_url}/ops")
            await expect(page.locator("h1")).to_contain_text("missed call")
            await page.fill("input[name=token]", tenant.tokens[TokenKind.OPS])
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{server_url}/ops")
            await expect(page.locator(".restaurant-name")).to_have_text("Le Petit Bistrot")

            rows = page.locator("#calls tbody tr")
            await expect(rows).to_have_count(total)
            await expect(rows.first).to_contain_text(newest.caller_phone_number)
            await expect(page.locator("#kpi-calls")).to_have_text(str(total))
            await expect(page.locator("#chart svg rect.bar").first).to_be_visible()

            await page.select_option("select[name=outcome]", "SKIPPED_HIDDEN_NUMBER")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("anonymous")
            await expect(rows.first).to_have_attribute("data-call-id", str(hidden.call_id))
            await page.select_option("select[name=outcome]", "")
            await page.select_option("select[name=recovered]", "true")
            await expect(rows).to_have_count(5)
            await page.click("button[type=reset]")
            await expect(rows).to_have_count(total)
            await page.select_option("select[name=replied]", "true")
            await expect(rows).to_have_count(len(replied))
            for decision in replied:
                row = page.locator(f'tr[data-call-id="{decision.call_id}"]')
                await expect(row).to_have_count(1)
            await page.select_option("select[name=replied]", "false")
            await expect(rows).to_have_count(total - len(replied))
            await page.click("button[type=reset]")
            await expect(rows).to_have_count(total)

            await page.screenshot(path=str(SCREENSHOT), full_page=False)

            await page.locator(f'tr[data-call-id="{newest.call_id}"]').click()
            drawer = page.locator("#drawer")
            await expect(drawer).to_have_class("drawer open")
            timeline = page.locator("#timeline li")
            await expect(timeline).to_have_count(3)
            await expect(timeline.last).to_contain_text("sent")
            await expect(page.locator("#drawer-title")).to_contain_text(newest.caller_phone_number)
            await page.screenshot(path=str(SCREENSHOT.with_name("dashboard-call.png")))
        finally:
            await browser.close()
