"""Cross-site request forgery on the dashboard (SPEC §2, issue 13 item 7): ``POST /ops/login``,
``POST /ops/logout`` and every state-changing ``/api/ops/v1`` call signed by the ``ringback_ops``
cookie need an ``Origin`` (else a ``Referer``) of the request's own origin, else 403; a Bearer
header is not affected."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import respx
from sqlalchemy import select

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.db.tables import customer, message
from ringback.relay.model import CallEvent, Direction, Disposition, Source
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.conftest import MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql

OWN = "http://test"
SAME_ORIGIN = {"Origin": OWN}
CROSS_SITE: dict[str, dict[str, str]] = {
    "another_site": {"Origin": "http://evil.example"},
    "opaque_origin": {"Origin": "null"},
    "neither_header": {},
    "another_scheme": {"Origin": "https://test"},
    "another_port": {"Origin": "http://test:8080"},
    "a_subdomain": {"Origin": "http://evil.test"},
    "not_a_url": {"Origin": "test"},
    "a_bad_port": {"Origin": "http://test:99999"},
    "cross_site_referer": {"Referer": "http://evil.example/page"},
    "origin_wins_over_referer": {"Origin": "http://evil.example", "Referer": f"{OWN}/ops"},
}
OWN_ORIGIN: dict[str, dict[str, str]] = {
    "origin": {"Origin": OWN},
    "origin_with_the_default_port": {"Origin": "HTTP://Test:80"},
    "referer_when_no_origin": {"Referer": f"{OWN}/ops?restaurant_id=1"},
}


@dataclass
class Failed:
    """A restaurant signed in on the dashboard, with a message that failed for good."""

    tenant: Tenant
    message_id: int
    customer_id: int


def graph_refuses(graph: respx.MockRouter) -> None:
    graph.post(path__regex=r"/[^/]+/messages").mock(
        return_value=httpx.Response(
            400, json={"error": {"code": 131026, "message": "Message undeliverable"}}
        )
    )


async def sign_in(client: httpx.AsyncClient, token: str) -> str:
    reply = await client.post("/ops/login", data={"token": token}, headers=SAME_ORIGIN)
    assert reply.status_code == 303, reply.text
    return reply.cookies["ringback_ops"]


@pytest.fixture
async def failed(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> AsyncIterator[Failed]:
    tenant = await make_restaurant()
    graph_refuses(graph)
    event = CallEvent(
        source=Source.PARTNER,
        external_id=None,
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=random_mobile(),
        occurred_at=dt.datetime.now(dt.UTC),
    )
    decision = await container.relay.handle(tenant.restaurant, event)
    assert decision.outcome is not None
    assert decision.outcome.value == "FAILED"
    assert decision.message_id is not None
    assert decision.customer_id is not None
    await sign_in(client, tenant.tokens[TokenKind.OPS])  # the client keeps the cookie
    yield Failed(tenant, decision.message_id, decision.customer_id)
    client.cookies.clear()


async def state(container: Container, found: Failed) -> tuple[str, bool]:
    """The message's status and whether its customer is opted out."""
    async with container.engine.connect() as conn:
        status = (
            await conn.execute(select(message.c.status).where(message.c.id == found.message_id))
        ).scalar_one()
        opted_out = (
            await conn.execute(
                select(customer.c.opted_out_at).where(customer.c.id == found.customer_id)
            )
        ).scalar_one()
    return str(status), opted_out is not None


def actions(found: Failed) -> dict[str, tuple[str, str]]:
    return {
        "retry": ("POST", f"/api/ops/v1/messages/{found.message_id}/retry"),
        "opt_out": ("PUT", f"/api/ops/v1/customers/{found.customer_id}/opt-out"),
        "opt_in": ("DELETE", f"/api/ops/v1/customers/{found.customer_id}/opt-out"),
    }


def forbidden(reply: httpx.Response) -> None:
    assert reply.status_code == 403, reply.text
    error = reply.json()["error"]
    assert error["code"] == "FORBIDDEN"
    assert error["request_id"] == reply.headers["x-request-id"]
    assert "Origin" in error["message"]


@pytest.mark.parametrize("action", ["retry", "opt_out", "opt_in"])
@pytest.mark.parametrize("headers", list(CROSS_SITE))
async def test_a_cookie_signed_change_from_another_origin_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, container: Container, failed: Failed, action: str, headers: str
) -> None:
    if action == "opt_in":  # something to undo first, by a Bearer call
        put = await client.put(
            actions(failed)["opt_out"][1], headers=failed.tenant.auth(TokenKind.OPS)
        )
        assert put.status_code == 200
    before = await state(container, failed)
    method, url = actions(failed)[action]
    reply = await client.request(method, url, headers=CROSS_SITE[headers])
    forbidden(reply)
    assert await state(container, failed) == before


@pytest.mark.parametrize("headers", list(OWN_ORIGIN))
async def test_a_cookie_signed_change_from_the_dashboard_itself_is_applied(
    client: httpx.AsyncClient, container: Container, failed: Failed, headers: str
) -> None:
    retried = await client.post(actions(failed)["retry"][1], headers=OWN_ORIGIN[headers])
    assert retried.status_code == 200, retried.text
    opted = await client.put(actions(failed)["opt_out"][1], headers=OWN_ORIGIN[headers])
    assert opted.status_code == 200, opted.text
    assert await state(container, failed) == ("queued", True)
    back = await client.delete(actions(failed)["opt_in"][1], headers=OWN_ORIGIN[headers])
    assert back.json()["data"]["opted_out"] is False


async def test_a_bearer_call_needs_no_origin_even_beside_the_cookie(
    client: httpx.AsyncClient, container: Container, failed: Failed
) -> None:
    bearer = failed.tenant.auth(TokenKind.OPS)
    assert client.cookies.get("ringback_ops")  # sent too: the Authorization header decides
    retried = await client.post(actions(failed)["retry"][1], headers=bearer)
    assert retried.status_code == 200, retried.text
    opted = await client.put(
        actions(failed)["opt_out"][1], headers={**bearer, **CROSS_SITE["another_site"]}
    )
    assert opted.status_code == 200, opted.text
    assert await state(container, failed) == ("queued", True)


async def test_cookie_signed_reads_need_no_origin(
    client: httpx.AsyncClient, failed: Failed
) -> None:
    listed = await client.get("/api/ops/v1/calls", headers=CROSS_SITE["another_site"])
    assert listed.status_code == 200
    assert (await client.get("/api/ops/v1/stats")).status_code == 200


async def test_no_cookie_and_no_origin_is_still_unauthorized(
    client: httpx.AsyncClient, failed: Failed
) -> None:
    client.cookies.clear()
    reply = await client.post(actions(failed)["retry"][1])
    assert reply.status_code == 401


# --- sign-in and sign-out ------------------------------------------------------------------------


@pytest.mark.parametrize("headers", list(CROSS_SITE))
async def test_a_sign_in_from_another_origin_is_refused_without_a_session(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, headers: str
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        "/ops/login", data={"token": tenant.tokens[TokenKind.OPS]}, headers=CROSS_SITE[headers]
    )
    assert reply.status_code == 403
    assert reply.headers["content-type"].startswith("text/html")
    assert 'name="token"' in reply.text
    assert 'role="alert"' in reply.text
    assert "ringback_ops" not in reply.headers.get("set-cookie", "")


@pytest.mark.parametrize("headers", list(OWN_ORIGIN))
async def test_a_sign_in_from_the_sign_in_page_starts_a_session(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, headers: str
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        "/ops/login", data={"token": tenant.tokens[TokenKind.OPS]}, headers=OWN_ORIGIN[headers]
    )
    assert reply.status_code == 303
    assert reply.cookies.get("ringback_ops")
    client.cookies.clear()


@pytest.mark.parametrize("headers", list(CROSS_SITE))
async def test_a_sign_out_from_another_origin_is_refused_and_the_session_lives_on(
    client: httpx.AsyncClient, failed: Failed, headers: str
) -> None:
    reply = await client.post("/ops/logout", headers=CROSS_SITE[headers])
    assert reply.status_code == 403
    assert 'role="alert"' in reply.text
    assert "ringback_ops" not in reply.headers.get("set-cookie", "")
    assert (await client.get("/api/ops/v1/calls")).status_code == 200


async def test_a_sign_out_from_the_dashboard_ends_the_session(
    client: httpx.AsyncClient, failed: Failed
) -> None:
    jar = dict(client.cookies)
    reply = await client.post("/ops/logout", headers=OWN_ORIGIN["referer_when_no_origin"])
    assert reply.status_code == 303
    client.cookies.clear()
    client.cookies.update(jar)  # a stolen copy of the cookie no longer works either
    assert (await client.get("/api/ops/v1/calls")).status_code == 401


# --- the request's own origin is the one it was addressed to -------------------------------------


@pytest.mark.parametrize(
    ("base_url", "own", "other"),
    [
        ("https://ops.example", "https://ops.example:443", "http://ops.example"),
        ("http://ops.example:8000", "http://ops.example:8000", "http://ops.example"),
        ("http://[::1]:8000", "http://[::1]:8000", "http://[::1]:8001"),
    ],
)
async def test_own_origin_is_scheme_host_and_port_as_addressed(
    settings: Settings,
    container: Container,
    make_restaurant: MakeRestaurant,
    base_url: str,
    own: str,
    other: str,
) -> None:
    tenant = await make_restaurant()
    token = {"token": tenant.tokens[TokenKind.OPS]}
    transport = httpx.ASGITransport(app=create_app(settings, container))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        refused = await http.post("/ops/login", data=token, headers={"Origin": other})
        accepted = await http.post("/ops/login", data=token, headers={"Origin": own})
    assert refused.status_code == 403
    assert accepted.status_code == 303
