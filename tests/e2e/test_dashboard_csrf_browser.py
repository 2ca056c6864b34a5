"""The dashboard's cross-site defence (SPEC §2) in a real Chromium against ``ringback serve``: our
own pages' sign-in, retry, opt-out and sign-out carry the ``Origin`` they need (the page's
``Referrer-Policy`` must not blank it), and a page of another origin on the same host — same *site*,
so the ``SameSite=Strict`` cookie goes with its form post — is refused and changes nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
import respx
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from ringback.bootstrap import Container
from ringback.db.tables import customer, message
from ringback.relay.model import Disposition
from ringback.tenancy.model import TokenKind
from tests.conftest import GRAPH_BASE, MakeRestaurant
from tests.e2e.test_dashboard_browser import (  # noqa: F401 - fixtures, shared with that test
    CHROMIUM,
    CHROMIUM_ARGS,
    fake_graph,
    seed,
    server_url,
)
from tests.graphmock import mock_graph

pytestmark = [pytest.mark.e2e, pytest.mark.sql]

# Generous: the browser, the server process and PostgreSQL share a busy 2-core machine.
WAIT_MS = 30_000


class _ForgedPages(BaseHTTPRequestHandler):
    """Another origin on the same host (another port): pages that post forms to the dashboard."""

    pages: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def forger() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForgedPages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def forged_post(action: str) -> str:
    return (
        f'<form id="f" method="post" action="{action}"><input name="x" value="1"></form>'
        '<script>document.getElementById("f").submit();</script>'
    )


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    """The in-process relay that seeds the call: the Graph API refuses it for good."""
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(path__regex=r"/[^/]+/messages").mock(
            return_value=httpx.Response(
                400, json={"error": {"code": 131026, "message": "Message undeliverable"}}
            )
        )
        yield router


async def message_status(container: Container, message_id: int) -> str:
    async with container.engine.connect() as conn:
        query = select(message.c.status).where(message.c.id == message_id)
        return str((await conn.execute(query)).scalar_one())


async def opted_out(container: Container, customer_id: int) -> bool:
    async with container.engine.connect() as conn:
        query = select(customer.c.opted_out_at).where(customer.c.id == customer_id)
        return (await conn.execute(query)).scalar_one() is not None


async def eventually(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not await check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.1)


async def test_the_dashboard_acts_from_its_own_pages_and_a_sibling_origin_cannot(
    server_url: str,  # noqa: F811 - the shared fixture
    forger: str,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is required at /usr/bin/chromium (apt-get install chromium)")
    tenant = await make_restaurant(name="Bistrot Prudent")
    failed = await seed(container, tenant, 0.5, disposition=Disposition.MISSED)
    assert failed.outcome is not None
    assert failed.outcome.value == "FAILED"
    assert failed.message_id is not None
    assert failed.customer_id is not None
    retry_url = f"{server_url}/api/ops/v1/messages/{failed.message_id}/retry"
    _ForgedPages.pages = {
        "/retry": forged_post(retry_url),
        "/logout": forged_post(f"{server_url}/ops/logout"),
    }

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context()  # one cookie jar for both tabs
            context.set_default_timeout(WAIT_MS)
            page = await context.new_page()
            await page.goto(f"{server_url}/ops")
            await page.fill("input[name=token]", tenant.tokens[TokenKind.OPS])
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{server_url}/ops")
            await expect(page.locator(".restaurant-name")).to_have_text(
                "Bistrot Prudent", timeout=WAIT_MS
            )

            # A sibling origin's forged posts: the browser sends the cookie, the server refuses.
            forged = await context.new_page()
            async with forged.expect_response(retry_url) as refused:
                await forged.goto(f"{forger}/retry")
            assert (await refused.value).status == 403
            assert await message_status(container, failed.message_id) == "failed"
            async with forged.expect_response(f"{server_url}/ops/logout") as refused:
                await forged.goto(f"{forger}/logout")
            assert (await refused.value).status == 403
            await page.reload()
            await expect(page.locator(".restaurant-name")).to_have_text(
                "Bistrot Prudent", timeout=WAIT_MS
            )

            # The dashboard's own retry and opt-out (fetch with the cookie) are applied.
            await page.locator(f'tr[data-call-id="{failed.call_id}"]').click()
            await page.get_by_role("button", name="Retry message").click()
            await eventually(
                lambda: _not_failed(container, failed.message_id), "the retry was applied"
            )
            await page.get_by_role("button", name="Stop messaging this customer").click()
            await eventually(
                lambda: opted_out(container, failed.customer_id), "the opt-out was applied"
            )

            # And its own sign-out form ends the session.
            await page.click("#drawer-close")
            await page.get_by_role("button", name="Sign out").click()
            await expect(page.locator("input[name=token]")).to_be_visible(timeout=WAIT_MS)
            after = await page.request.get(f"{server_url}/api/ops/v1/calls")
            assert after.status == 401
        finally:
            await browser.close()


async def _not_failed(container: Container, message_id: int | None) -> bool:
    assert message_id is not None
    return await message_status(container, message_id) != "failed"


async def test_behind_a_tls_proxy_the_forwarded_scheme_is_part_of_the_own_origin(
    server_url: str,  # noqa: F811 - the shared fixture
    make_restaurant: MakeRestaurant,
) -> None:
    """uvicorn trusts ``X-Forwarded-Proto`` from loopback: the proxy's https is the origin."""
    tenant = await make_restaurant()
    form = {"token": tenant.tokens[TokenKind.OPS]}
    proxied = {"X-Forwarded-Proto": "https"}
    host = server_url.removeprefix("http://")
    async with httpx.AsyncClient(base_url=server_url, timeout=WAIT_MS / 1000) as http:
        plain = await http.post("/ops/login", data=form, headers={**proxied, "Origin": server_url})
        tls = await http.post(
            "/ops/login", data=form, headers={**proxied, "Origin": f"https://{host}"}
        )
    assert plain.status_code == 403
    assert tls.status_code == 303
    assert "Secure" in tls.headers["set-cookie"]
