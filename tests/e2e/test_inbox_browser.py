"""The ``/ops/inbox`` conversations (SPEC §10) in a real headless Chromium (Debian's, driven by
Playwright) against the real ``ringback serve`` process and the fake Graph server: a customer's
signed WhatsApp webhook shows up without a reload, with its unread badge; opening the thread
reads it; a reply typed in the page reaches Graph as a text; the reply box says why it is
disabled (window closed, opted out) and shows a 409; customers' markup stays text.

Chromium must be installed at /usr/bin/chromium (``apt-get install chromium``); without it these
tests fail rather than skip. Playwright's own browser downloads are never used.

The module runs on a database of its own: the server's outbox worker serves its whole database,
and the missed calls here are reported to that server over HTTP (their templates reach the fake
Graph server, which gives them the provider ids the customers' replies quote).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from ringback.tenancy.model import TokenKind
from tests.conftest import DEFAULT_WHATSAPP, random_mobile
from tests.e2e.own_database import create_tenant, engine_for, own_database
from tests.e2e.processes import running_server
from tests.e2e.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS
from tests.fakegraph import FakeGraph, GraphRequest
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.sql]

APP_SECRET = "inbox-e2e-app-secret-3b9d"
ADMIN_TOKEN = "inbox-admin-token-0123456789abcdef"
# What the page promises ("within a few seconds", it polls every 2.5 s) waited for generously:
# the browser, the server process and PostgreSQL share a busy 2-core machine. Every wait returns
# as soon as its condition holds; none measures anything.
WAIT_MS = 30_000
# The screenshots kept in docs/ are refreshed on demand (RINGBACK_UPDATE_SCREENSHOTS=1), so an
# ordinary run leaves the checkout clean.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs"
    if os.environ.get("RINGBACK_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "ringback-inbox-screenshots"
)


# ---- the server, its database, its restaurants ---------------------------------------------------


@pytest.fixture(scope="module")
async def inbox_database(pg_server_url: str) -> AsyncIterator[str]:
    async with own_database(pg_server_url, "ringback_inbox") as url:
        yield url


@pytest.fixture(scope="module")
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


@pytest.fixture(scope="module")
async def server_url(
    inbox_database: str, fake_graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    env = {
        **os.environ,
        "DATABASE_URL": inbox_database,
        "WHATSAPP_API_BASE_URL": fake_graph.base_url,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "RINGBACK_RATE_LIMIT_PER_SECOND": "0",
        # a reply tells the send's result when the send is done within this: a deadline only a
        # hang reaches, on however loaded a machine
        "RINGBACK_INLINE_DISPATCH_TIMEOUT": str(SLOW_MACHINE_SECONDS),
        "RINGBACK_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    log = tmp_path_factory.mktemp("inbox") / "serve.log"
    async with running_server(env, log) as server:
        yield server.url


@dataclass
class Restaurant:
    id: int
    name: str
    phone_number_id: str
    ops_token: str
    partner_token: str


async def make_restaurant(database_url: str, name: str) -> Restaurant:
    """A restaurant on a WhatsApp business number of its own (webhooks reach it alone)."""
    phone_number_id = f"pn-{uuid.uuid4().hex[:12]}"
    engine = engine_for(database_url)
    try:
        restaurant_id, tokens = await create_tenant(
            engine,
            TokenKind.OPS,
            TokenKind.PARTNER,
            name=name,
            whatsapp={**DEFAULT_WHATSAPP, "phone_number_id": phone_number_id},
        )
    finally:
        await engine.dispose()
    return Restaurant(
        restaurant_id, name, phone_number_id, tokens[TokenKind.OPS], tokens[TokenKind.PARTNER]
    )


# ---- what the outside world sends ----------------------------------------------------------------


def http(server_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server_url, timeout=SLOW_MACHINE_SECONDS)


async def report_missed_call(
    server_url: str, fake_graph: FakeGraph, restaurant: Restaurant, number: str
) -> str:
    """A missed call through the partner API; returns the provider id of the template sent."""
    async with http(server_url) as client:
        reply = await client.post(
            "/api/partner/v1/missed-calls",
            json={"caller_phone_number": number, "external_call_id": uuid.uuid4().hex},
            headers={"Authorization": f"Bearer {restaurant.partner_token}"},
        )
    assert reply.status_code == 201, reply.text
    assert reply.json()["data"]["outcome"] == "SENT", reply.text
    sent = fake_graph.requests_to(number)
    assert sent[-1].provider_message_id is not None
    return sent[-1].provider_message_id


def unix(moment: dt.datetime | None) -> str:
    return str(int((moment or dt.datetime.now(dt.UTC)).timestamp()))


def customer_message(
    number: str,
    kind: str = "text",
    *,
    text: str | None = None,
    at: dt.datetime | None = None,
    context_id: str | None = None,
    **content: Any,
) -> dict[str, Any]:
    """One ``messages[]`` item as the Cloud API sends it, with a provider id of its own."""
    item: dict[str, Any] = {
        "from": number.lstrip("+"),
        "id": f"wamid.e2e-{uuid.uuid4().hex}",
        "timestamp": unix(at),
        "type": kind,
    }
    if kind == "text":
        item["text"] = {"body": text}
    item.update(content)
    if context_id is not None:
        item["context"] = {"from": "33185000000", "id": context_id}
    return item


def change(restaurant: Restaurant, value: dict[str, Any]) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "33185000000",
            "phone_number_id": restaurant.phone_number_id,
        },
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


async def deliver(server_url: str, body: dict[str, Any]) -> None:
    """A webhook signed as Meta signs it: HMAC-SHA256 of the raw body with the app secret."""
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    async with http(server_url) as client:
        reply = await client.post(
            "/webhooks/whatsapp",
            content=raw,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        )
    assert reply.status_code == 200, reply.text


async def customer_writes(
    server_url: str,
    restaurant: Restaurant,
    number: str,
    profile: str | None,
    *items: dict[str, Any],
) -> None:
    contacts = [{"profile": {"name": profile}, "wa_id": number.lstrip("+")}] if profile else []
    await deliver(server_url, change(restaurant, {"contacts": contacts, "messages": list(items)}))


async def status(server_url: str, restaurant: Restaurant, wamid: str, word: str) -> None:
    """A delivery receipt of one of our messages."""
    receipt = {"id": wamid, "status": word, "timestamp": unix(None), "recipient_id": "33600000000"}
    await deliver(server_url, change(restaurant, {"statuses": [receipt]}))


async def ops_get(server_url: str, restaurant: Restaurant, path: str) -> Any:
    async with http(server_url) as client:
        reply = await client.get(
            f"/api/ops/v1{path}", headers={"Authorization": f"Bearer {restaurant.ops_token}"}
        )
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


async def conversation_of(server_url: str, restaurant: Restaurant, number: str) -> Any:
    found = await ops_get(server_url, restaurant, f"/conversations?phone={number[1:]}")
    assert len(found) == 1, found
    return found[0]


def texts_sent_to(fake_graph: FakeGraph, number: str) -> list[GraphRequest]:
    return [r for r in fake_graph.requests_to(number) if r.body.get("type") == "text"]


def wait_for_text_to(fake_graph: FakeGraph, number: str) -> GraphRequest:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not texts_sent_to(fake_graph, number):
        if time.monotonic() > deadline:
            pytest.fail(f"no text reached the Graph API for {number}")
        time.sleep(0.05)
    return texts_sent_to(fake_graph, number)[0]


# ---- the browser ---------------------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is required at /usr/bin/chromium (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Browser, height: int = 900) -> Page:
    page = await browser.new_page(viewport={"width": 1440, "height": height})
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    return page


async def sign_in(page: Page, server_url: str, token: str, path: str = "/ops") -> None:
    """Open ``path`` without a session and sign in on the form it shows; it returns there."""
    await page.goto(f"{server_url}{path}")
    await submit_token(page, server_url, token, path)


async def submit_token(page: Page, server_url: str, token: str, path: str) -> None:
    """Sign in on the form the page shows, and wait to be back on ``path``."""
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server_url}{path}")


async def open_inbox(page: Page, server_url: str, restaurant: Restaurant) -> None:
    """Sign in with the restaurant's ops token and follow the nav from Calls to Inbox."""
    await sign_in(page, server_url, restaurant.ops_token)
    await expect(page.locator(".restaurant-name")).to_have_text(restaurant.name)
    await page.get_by_role("link", name="Inbox").click()
    await page.wait_for_url(f"{server_url}/ops/inbox")
    await expect(page.locator("body[data-conversations-loaded]")).to_have_count(1)


def item(page: Page, conversation_id: str) -> Locator:
    return page.locator(f'#conversations li[data-conversation-id="{conversation_id}"]')


# ---- the tests -----------------------------------------------------------------------------------


async def test_a_reply_appears_live_is_read_on_opening_and_is_answered_from_the_page(
    server_url: str, inbox_database: str, fake_graph: FakeGraph, browser: Browser
) -> None:
    restaurant = await make_restaurant(inbox_database, "Le Petit Bistrot")
    number = random_mobile()
    template_id = await report_missed_call(server_url, fake_graph, restaurant, number)
    page = await new_page(browser)
    await open_inbox(page, server_url, restaurant)
    await expect(page.locator("#conversations-empty")).to_be_visible()
    await page.evaluate("window.__sameDocument = true")

    # (1) The customer answers the missed-call text: the conversation shows up, unread.
    question = "Bonjour, vous avez une table pour 4 ce soir vers 20h ?"
    await customer_writes(
        server_url,
        restaurant,
        number,
        "Camille Martin",
        customer_message(number, text=question, context_id=template_id),
    )
    conversation = await conversation_of(server_url, restaurant, number)
    row = item(page, conversation["id"])
    await expect(row).to_contain_text("Camille Martin")
    await expect(row).to_contain_text(number)
    await expect(row).to_contain_text(question)
    await expect(row.locator(".unread-badge")).to_have_text("1")
    await expect(page.locator("#nav-unread")).to_have_text("1")
    assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    # (2) Opening the thread shows both ways in time order and reads it: the badge clears.
    await row.click()
    messages = page.locator("#messages li.msg")
    await expect(messages).to_have_count(2)
    await expect(messages.nth(0)).to_have_attribute("data-author", "template")
    await expect(messages.nth(0)).to_contain_text("Missed-call message")
    await expect(messages.nth(1)).to_have_attribute("data-author", "customer")
    await expect(messages.nth(1)).to_contain_text(question)
    await expect(messages.nth(1).locator(".m-reply-to")).to_contain_text(
        "Reply to your missed-call message"
    )
    await expect(page.locator("#thread-calls li")).to_have_count(1)
    await expect(row.locator(".unread-badge")).to_have_count(0)
    await expect(page.locator("#nav-unread")).to_be_hidden()
    read = await ops_get(server_url, restaurant, f"/conversations/{conversation['id']}")
    assert read["unread"] == 0

    # A message arriving in the open thread shows up in it (and is read: no badge stays).
    await customer_writes(
        server_url,
        restaurant,
        number,
        "Camille Martin",
        customer_message(
            number,
            "image",
            image={"id": "1003383421387256", "mime_type": "image/jpeg", "caption": "En terrasse ?"},
        ),
    )
    await expect(messages).to_have_count(3)
    await expect(messages.nth(2)).to_have_attribute("data-type", "image")
    await expect(messages.nth(2)).to_contain_text("Photo")
    await expect(messages.nth(2)).to_contain_text("image/jpeg")
    await expect(messages.nth(2)).to_contain_text("En terrasse ?")
    await expect(row).to_contain_text("Photo: En terrasse ?")
    await expect(row.locator(".unread-badge")).to_have_count(0)

    # The reply typed in the page reaches the Graph API as a text and shows in the thread.
    answer = "Bonjour Camille ! Oui, une table pour 4 à 20 h, en terrasse. À ce soir !"
    await expect(page.locator("#reply-text")).to_be_enabled()
    await expect(page.locator("#reply-blocked")).to_be_hidden()
    await page.fill("#reply-text", answer)
    await page.click("#reply-send")
    sent = wait_for_text_to(fake_graph, number)
    assert sent.body["type"] == "text"
    assert sent.body["text"]["body"] == answer
    assert sent.phone_number_id == restaurant.phone_number_id
    staff = page.locator("#messages li.msg.author-staff")
    await expect(staff).to_have_count(1)
    await expect(staff).to_contain_text(answer)
    await expect(staff).to_have_attribute("data-status", "sent")
    await expect(staff.locator(".m-status")).to_have_text("Sent")
    await expect(page.locator("#reply-text")).to_have_value("")
    await expect(row).to_contain_text("You: " + answer[:30])
    assert len(texts_sent_to(fake_graph, number)) == 1

    # A refusal from the API (409) is said in the page. Polling is paused (the page believes it
    # is hidden) so the box is still open when the customer is opted out behind its back.
    await page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})"
    )
    await expect(page.locator("body[data-poll=idle]")).to_have_count(1)
    async with http(server_url) as client:
        opted = await client.put(
            f"/api/ops/v1/customers/{conversation['customer']['id']}/opt-out",
            headers={"Authorization": f"Bearer {restaurant.ops_token}"},
        )
    assert opted.status_code == 200, opted.text
    await page.fill("#reply-text", "Une dernière chose…")
    await page.click("#reply-send")
    await expect(page.locator("#reply-error")).to_contain_text("Not sent")
    await expect(page.locator("#reply-error")).to_contain_text("opted out")
    await expect(page.locator("#reply-text")).to_be_disabled()
    await expect(page.locator("#reply-blocked")).to_contain_text("opted out")
    assert len(texts_sent_to(fake_graph, number)) == 1
    assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"


async def test_the_reply_box_says_why_it_is_closed_for_the_admin_too(
    server_url: str, inbox_database: str, fake_graph: FakeGraph, browser: Browser
) -> None:
    restaurant = await make_restaurant(inbox_database, "Brasserie du Port")
    late, stopped = random_mobile(), random_mobile()
    # (3) the customer's latest message is older than 24 h: the window is closed
    await customer_writes(
        server_url,
        restaurant,
        late,
        "Sofia Rossi",
        customer_message(
            late,
            text="Merci, à samedi !",
            at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=30),
        ),
    )
    # (4) the customer wrote STOP: opted out, window open or not
    await customer_writes(
        server_url, restaurant, stopped, "Lucas Petit", customer_message(stopped, text="STOP")
    )
    closed = await conversation_of(server_url, restaurant, late)
    out = await conversation_of(server_url, restaurant, stopped)
    assert closed["window_open_until"] is None
    assert out["customer"]["opted_out"] is True

    page = await new_page(browser)
    # The admin token: the picker, then the restaurant's calls, then its inbox (restaurant_id).
    await sign_in(page, server_url, ADMIN_TOKEN)
    await page.get_by_role("link", name=restaurant.name).click()
    await page.wait_for_url(f"{server_url}/ops?restaurant_id={restaurant.id}")
    await page.get_by_role("link", name="Inbox").click()
    await page.wait_for_url(f"{server_url}/ops/inbox?restaurant_id={restaurant.id}")
    rows = page.locator("#conversations li")
    await expect(rows).to_have_count(2)
    # newest activity first
    await expect(rows.nth(0)).to_have_attribute("data-conversation-id", out["id"])
    await expect(rows.nth(1)).to_have_attribute("data-conversation-id", closed["id"])
    await expect(rows.nth(0).locator(".tag")).to_have_text("Opted out")

    await rows.nth(1).click()
    await expect(page.locator("#thread-title")).to_have_text("Sofia Rossi")
    await expect(page.locator("#messages li.msg")).to_have_count(1)
    await expect(page.locator("#messages li.msg")).to_contain_text("Merci, à samedi !")
    blocked = page.locator("#reply-blocked")
    await expect(blocked).to_be_visible()
    await expect(blocked).to_contain_text("The 24-hour window closed")
    await expect(blocked).to_contain_text("WhatsApp only allows templates now")
    await expect(page.locator("#reply-text")).to_be_disabled()
    await expect(page.locator("#reply-send")).to_be_disabled()
    # opening it read it, as the admin (POST …/read with restaurant_id)
    await expect(rows.nth(1).locator(".unread-badge")).to_have_count(0)

    await rows.nth(0).click()
    await expect(page.locator("#thread-title")).to_have_text("Lucas Petit")
    await expect(page.locator("#messages li.msg")).to_contain_text(["STOP"])
    await expect(blocked).to_contain_text("opted out")
    await expect(blocked).not_to_contain_text("24-hour")
    await expect(page.locator("#reply-text")).to_be_disabled()
    await expect(page.locator("#reply-send")).to_be_disabled()
    assert texts_sent_to(fake_graph, late) == []
    assert texts_sent_to(fake_graph, stopped) == []


async def test_a_customers_markup_is_shown_as_text(
    server_url: str, inbox_database: str, browser: Browser
) -> None:
    restaurant = await make_restaurant(inbox_database, "Chez Prudence")
    number = random_mobile()
    markup = '<img src=x onerror="window.__pwned=1">'
    name = "<b onmouseover=alert(1)>Mallory</b>"
    page = await new_page(browser)
    await open_inbox(page, server_url, restaurant)
    await customer_writes(
        server_url,
        restaurant,
        number,
        name,
        customer_message(number, text=markup),
        customer_message(
            number,
            "document",
            document={
                "id": "55",
                "mime_type": "text/html",
                "filename": "<script>window.__pwned=2</script>.html",
                "caption": "<a href=javascript:alert(1)>menu</a>",
            },
        ),
    )
    row = page.locator("#conversations li")
    await expect(row).to_have_count(1)
    await expect(row.locator(".conv-name")).to_have_text(name)
    await row.click()
    messages = page.locator("#messages li.msg")
    await expect(messages).to_have_count(2)
    await expect(messages.nth(0).locator(".m-text")).to_have_text(markup)
    await expect(messages.nth(1).locator(".m-file")).to_have_text(
        "<script>window.__pwned=2</script>.html"
    )
    await expect(messages.nth(1).locator(".m-text")).to_have_text(
        "<a href=javascript:alert(1)>menu</a>"
    )
    await expect(page.locator("#thread-title")).to_have_text(name)
    injected = "#conversations img, #messages img, #messages a, #messages script, main b"
    assert await page.locator(injected).count() == 0
    assert await page.evaluate("window.__pwned") is None


async def staff_reply(
    server_url: str, restaurant: Restaurant, conversation_id: str, text: str
) -> str:
    """A reply sent through the API (as another member of staff would); its provider id."""
    async with http(server_url) as client:
        reply = await client.post(
            f"/api/ops/v1/conversations/{conversation_id}/messages",
            json={"text": text},
            headers={"Authorization": f"Bearer {restaurant.ops_token}"},
        )
    assert reply.status_code == 201, reply.text
    wamid: str = reply.json()["data"]["provider_message_id"]
    return wamid


async def next_second() -> None:
    """Provider timestamps are whole seconds: the next message is stamped after the last."""
    await asyncio.sleep(1.1)


async def test_screenshots_of_the_inbox_and_a_thread(
    server_url: str, inbox_database: str, fake_graph: FakeGraph, browser: Browser
) -> None:
    """A realistic inbox, kept as docs/inbox.png and docs/inbox-thread.png when
    RINGBACK_UPDATE_SCREENSHOTS=1."""
    restaurant = await make_restaurant(inbox_database, "Le Petit Bistrot")
    now = dt.datetime.now(dt.UTC)
    lucas, sofia, thomas, caller, camille = (random_mobile() for _ in range(5))
    await customer_writes(
        server_url,
        restaurant,
        lucas,
        "Lucas Petit",
        customer_message(lucas, text="STOP", at=now - dt.timedelta(days=3, hours=2)),
    )
    await customer_writes(
        server_url,
        restaurant,
        sofia,
        "Sofia Rossi",
        customer_message(
            sofia,
            text="Merci pour hier soir, tout était parfait !",
            at=now - dt.timedelta(hours=30),
        ),
    )
    await customer_writes(
        server_url,
        restaurant,
        thomas,
        "Thomas Bernard",
        customer_message(
            thomas,
            text="Est-ce que vous avez des plats sans gluten ?",
            at=now - dt.timedelta(hours=2, minutes=12),
        ),
    )
    await customer_writes(
        server_url,
        restaurant,
        caller,
        None,
        customer_message(
            caller,
            "audio",
            at=now - dt.timedelta(minutes=47),
            audio={"id": "88412", "mime_type": "audio/ogg; codecs=opus", "voice": True},
        ),
        customer_message(
            caller, text="Rappelez-moi svp, c'est pour samedi", at=now - dt.timedelta(minutes=46)
        ),
    )
    # Camille: the missed call's template, her answer to it, a reply, a photo, her thanks.
    template = await report_missed_call(server_url, fake_graph, restaurant, camille)
    await status(server_url, restaurant, template, "read")
    await next_second()
    await customer_writes(
        server_url,
        restaurant,
        camille,
        "Camille Martin",
        customer_message(
            camille,
            text="Bonjour ! Oui, vous avez une table pour 4 ce soir vers 20h ?",
            context_id=template,
        ),
    )
    conversation = await conversation_of(server_url, restaurant, camille)
    await next_second()
    answer = await staff_reply(
        server_url,
        restaurant,
        conversation["id"],
        "Bonjour Camille ! Oui, nous avons une table pour 4 à 20 h. "
        "Plutôt en salle ou en terrasse ?",
    )
    await status(server_url, restaurant, answer, "read")
    await next_second()
    await customer_writes(
        server_url,
        restaurant,
        camille,
        "Camille Martin",
        customer_message(
            camille,
            "image",
            image={
                "id": "1003383421387256",
                "mime_type": "image/jpeg",
                "caption": "En terrasse, comme sur la photo, si c'est possible",
            },
        ),
    )
    await next_second()
    await customer_writes(
        server_url,
        restaurant,
        camille,
        "Camille Martin",
        customer_message(camille, text="C'est pour un anniversaire", context_id=answer),
    )

    page = await new_page(browser)
    await open_inbox(page, server_url, restaurant)
    rows = page.locator("#conversations li")
    await expect(rows).to_have_count(5)
    await expect(rows.nth(0)).to_contain_text("Camille Martin")
    await expect(rows.nth(0).locator(".unread-badge")).to_have_text("3")
    await expect(rows.nth(1).locator(".unread-badge")).to_have_text("2")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "inbox.png"))

    await rows.nth(0).click()
    messages = page.locator("#messages li.msg")
    await expect(messages).to_have_count(5)
    await expect(page.locator("#messages li.msg.author-staff")).to_have_attribute(
        "data-status", "read"
    )
    await expect(rows.nth(0).locator(".unread-badge")).to_have_count(0)
    await page.fill("#reply-text", "Parfait, c'est noté : terrasse, 20 h, 4 personnes. ")
    await page.screenshot(path=str(SCREENSHOTS / "inbox-thread.png"))


async def test_the_inbox_page_is_the_sign_in_page_without_a_session(server_url: str) -> None:
    async with http(server_url) as client:
        page = await client.get("/ops/inbox")
        script = await client.get("/ops/static/inbox.js")
        common = await client.get("/ops/static/common.js")
    assert page.status_code == 200
    assert 'action="/ops/login"' in page.text
    assert "conversations" not in page.text.lower()
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text
    assert common.status_code == 200
    assert "innerHTML" not in common.text


async def test_signing_in_from_the_inbox_returns_to_the_inbox(
    server_url: str, inbox_database: str, browser: Browser
) -> None:
    """A link to the inbox opened without a session shows the sign-in form; signing in there
    lands on the inbox, not on the calls."""
    restaurant = await make_restaurant(inbox_database, "Chez Retour")
    page = await new_page(browser)
    await sign_in(page, server_url, restaurant.ops_token, "/ops/inbox")
    await expect(page.locator(".restaurant-name")).to_have_text(restaurant.name)
    await expect(page.locator("body[data-conversations-loaded]")).to_have_count(1)
    await page.close()


async def test_with_unread_only_a_read_conversation_leaves_the_list_once_another_is_opened(
    server_url: str, inbox_database: str, browser: Browser
) -> None:
    restaurant = await make_restaurant(inbox_database, "Chez Filtre")
    first, second = random_mobile(), random_mobile()
    await customer_writes(
        server_url, restaurant, first, "Ada", customer_message(first, text="Une table ?")
    )
    await customer_writes(
        server_url, restaurant, second, "Bob", customer_message(second, text="Ce soir ?")
    )
    ada = (await conversation_of(server_url, restaurant, first))["id"]
    bob = (await conversation_of(server_url, restaurant, second))["id"]
    page = await new_page(browser)
    await open_inbox(page, server_url, restaurant)
    await page.check("#only-unread")
    rows = page.locator("#conversations li")
    await expect(rows).to_have_count(2)

    await item(page, ada).locator("button").click()
    # read now, and still listed: it is the one open
    await expect(item(page, ada).locator(".unread-badge")).to_have_count(0)
    await expect(page.locator("body[data-last-read]")).to_have_attribute("data-last-read", ada)
    await expect(rows).to_have_count(2)

    await item(page, bob).locator("button").click()
    await expect(page.locator("body[data-last-read]")).to_have_attribute("data-last-read", bob)
    await expect(rows).to_have_count(1)
    await expect(rows.nth(0)).to_have_attribute("data-conversation-id", bob)

    await page.uncheck("#only-unread")
    await expect(rows).to_have_count(2)
    await page.close()


async def test_an_inbox_whose_session_ends_shows_the_sign_in_form_and_returns_to_it(
    server_url: str, inbox_database: str, browser: Browser
) -> None:
    """The next poll after the session ended is a 401: the page loads itself again, which is
    then the sign-in form, and signing in there comes back to the inbox."""
    restaurant = await make_restaurant(inbox_database, "Chez Expire")
    page = await new_page(browser)
    await open_inbox(page, server_url, restaurant)
    await page.context.clear_cookies()
    await expect(page.locator("input[name=token]")).to_be_visible()
    assert page.url == f"{server_url}/ops/inbox"
    await submit_token(page, server_url, restaurant.ops_token, "/ops/inbox")
    await expect(page.locator("body[data-conversations-loaded]")).to_have_count(1)
    await page.close()
