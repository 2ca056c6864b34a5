"""The CCAI edge: HTTP Basic, the per-restaurant rate limit, and every error as {"message": …}."""

from __future__ import annotations

import base64
from typing import Any, NoReturn

import httpx
import pytest

from ringback.app import create_app
from ringback.bootstrap import Container, build_container
from ringback.doors.ccai.queries import CcaiCalls
from ringback.http.ratelimit import TokenBuckets
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.api.ccai_support import (
    APPS,
    MANAGER,
    basic,
    ccai,
    created,
    inbound_body,
    make_ccai_restaurant,
)
from tests.conftest import MakeRestaurant, Tenant, make_settings, random_mobile
from tests.graphmock import POSTER

pytestmark = pytest.mark.sql
__all__ = ["ccai"]

ORGANIZATION = f"{MANAGER}/settings/organization"


def raw_basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


def assert_unauthorized(reply: httpx.Response) -> None:
    assert reply.status_code == 401
    assert reply.json() == {"message": "Unauthorized"}
    assert reply.headers["www-authenticate"] == "Basic"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{APPS}/calls", inbound_body("+33612345678")),
        ("PATCH", f"{APPS}/calls/1", {"status": "failed"}),
        ("GET", f"{APPS}/calls/1/customer_flag", None),
        ("PATCH", f"{APPS}/calls/1/customer_flag", {"bad_actor": True}),
        ("GET", f"{MANAGER}/calls", None),
        ("GET", f"{MANAGER}/calls/1", None),
        ("GET", ORGANIZATION, None),
    ],
)
async def test_every_route_needs_basic_credentials(
    ccai: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    assert_unauthorized(await ccai.request(method, path, json=body))


async def test_wrong_credentials_are_refused(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    other = await make_ccai_restaurant(make_restaurant)
    slug, token = tenant.restaurant.slug, tenant.tokens[TokenKind.CCAI]
    refused = [
        basic(tenant, token="rb_ccai_not-a-real-token"),
        basic(tenant, slug=other.restaurant.slug),
        basic(tenant, token=other.tokens[TokenKind.CCAI]),
        basic(tenant, token=tenant.tokens[TokenKind.PARTNER]),
        basic(tenant, token=tenant.tokens[TokenKind.OPS]),
        raw_basic(f"{slug}{token}"),
        raw_basic(f":{token}"),
        {"Authorization": "Basic %%%not-base64%%%"},
        {"Authorization": f"Bearer {token}"},
    ]
    for headers in refused:
        assert_unauthorized(await ccai.get(ORGANIZATION, headers=headers))
    assert (await ccai.get(ORGANIZATION, headers=basic(tenant))).status_code == 200


async def test_revoked_ccai_token_is_refused(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    store = container.tenancy
    token = "rb_ccai_" + "x" * 43 + random_mobile()
    token_id = await store.create_token(tenant.id, TokenKind.CCAI, token, "to revoke")
    assert (await ccai.get(ORGANIZATION, headers=basic(tenant, token=token))).status_code == 200
    assert await store.revoke_token(token_id)
    assert_unauthorized(await ccai.get(ORGANIZATION, headers=basic(tenant, token=token)))


class StoppedClock:
    """The rate limiter's clock, moved by the test alone: no token comes back while a loaded
    machine runs the requests slowly, so what is refused does not depend on how fast they ran."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rate_limited_app(
    settings: Settings, container: Container, clock: StoppedClock
) -> httpx.AsyncClient:
    app = create_app(settings, container)
    limits: TokenBuckets = app.state.ccai_rate_limits
    app.state.ccai_rate_limits = TokenBuckets(limits.rate, limits.burst, clock=clock)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_each_restaurant_gets_its_own_ccai_rate_limit(
    database_url: str, container: Container, make_restaurant: MakeRestaurant
) -> None:
    busy = await make_ccai_restaurant(make_restaurant)
    quiet = await make_ccai_restaurant(make_restaurant)
    settings = make_settings(database_url, ccai_rate_limit_per_second=3)
    async with rate_limited_app(settings, container, StoppedClock()) as http:
        statuses = [
            (await http.get(ORGANIZATION, headers=basic(busy))).status_code for _ in range(3)
        ]
        limited = await http.get(ORGANIZATION, headers=basic(busy))
        other = await http.get(ORGANIZATION, headers=basic(quiet))
    assert statuses == [200] * 3
    assert limited.status_code == 429
    assert limited.json() == {"message": "Too many requests"}
    assert int(limited.headers["retry-after"]) >= 1
    assert other.status_code == 200


async def test_default_ccai_rate_limit_is_ten_per_second(
    settings: Settings, container: Container, make_restaurant: MakeRestaurant
) -> None:
    assert settings.ccai_rate_limit_per_second == 10
    tenant = await make_ccai_restaurant(make_restaurant)
    clock = StoppedClock()
    async with rate_limited_app(settings, container, clock) as http:

        async def statuses(count: int) -> list[int]:
            return [
                (await http.get(ORGANIZATION, headers=basic(tenant))).status_code
                for _ in range(count)
            ]

        # ten at once, then one more per tenth of a second
        assert await statuses(20) == [200] * 10 + [429] * 10
        clock.now += 0.1
        assert await statuses(2) == [200, 429]
        clock.now += 1.0
        assert await statuses(11) == [200] * 10 + [429]


async def test_body_over_256_kib_is_request_too_large(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    body = {**inbound_body(random_mobile()), "padding": "x" * (256 * 1024)}
    reply = await ccai.post(f"{APPS}/calls", json=body, headers=basic(tenant))
    assert (reply.status_code, reply.json()) == (413, {"message": "Request too large"})


async def test_unknown_routes_and_methods_answer_in_ccai_shape(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await ccai.get(f"{APPS}/agents", headers=basic(tenant))
    assert (reply.status_code, reply.json()) == (404, {"message": "Not found"})
    reply = await ccai.get(f"{MANAGER}/nothing/here", headers=basic(tenant))
    assert (reply.status_code, reply.json()) == (404, {"message": "Not found"})
    reply = await ccai.delete(f"{APPS}/calls", headers=basic(tenant))
    assert (reply.status_code, reply.json()) == (405, {"message": "Method not allowed"})


async def test_unexpected_failure_is_a_500_without_internals(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)

    async def boom(*_: object) -> NoReturn:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(CcaiCalls, "list_calls", boom)
    reply = await ccai.get(f"{MANAGER}/calls", headers=basic(tenant))
    assert (reply.status_code, reply.json()) == (500, {"message": "Internal server error"})
    assert "secret" not in reply.text


async def test_database_down_is_a_503() -> None:
    settings = make_settings("postgresql://postgres@127.0.0.1:1/none")
    down = await build_container(settings, start_worker=False, graph=POSTER)
    app = create_app(settings, down)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            reply = await http.get(ORGANIZATION, headers=raw_basic("some-slug:rb_ccai_x"))
    finally:
        await down.aclose()
    assert (reply.status_code, reply.json()) == (503, {"message": "Service unavailable"})
    assert reply.headers["retry-after"] == "1"


async def test_replies_carry_a_request_id(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant: Tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    assert data["id"] > 0
    reply = await ccai.get(ORGANIZATION, headers={**basic(tenant), "X-Request-ID": "ccai-1"})
    assert reply.headers["x-request-id"] == "ccai-1"
