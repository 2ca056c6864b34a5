"""A 405 names every method its path serves in ``Allow``, in the door's error shape; HEAD is served
wherever GET is (issue 13, item 8).

The installed FastAPI nests each included router in a route of its own: the walk that built
``Allow`` from the app's top-level routes found no methods there and sent ``allow:`` empty.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.http.metrics import PrometheusMetrics
from ringback.settings import Settings
from tests.api.ccai_support import basic, make_ccai_restaurant
from tests.conftest import MakeRestaurant

pytestmark = pytest.mark.sql

NATIVE = "native"
ZOHO = "zoho"
CCAI = "ccai"

# (method refused, path, the door's shape, what Allow must say)
REFUSED: list[tuple[str, str, str, str]] = [
    ("DELETE", "/api/partner/v1/me", NATIVE, "GET, HEAD"),
    ("GET", "/api/partner/v1/missed-calls", NATIVE, "POST"),
    ("POST", "/api/partner/v1/customers", NATIVE, "PUT"),
    ("POST", "/api/partner/v1/reservations", NATIVE, "PUT"),
    ("DELETE", "/api/partner/v1/reservations/1", NATIVE, "GET, HEAD"),
    ("DELETE", "/api/ops/v1/calls", NATIVE, "GET, HEAD"),
    ("POST", "/api/ops/v1/calls.csv", NATIVE, "GET, HEAD"),
    ("PUT", "/api/ops/v1/calls/1", NATIVE, "GET, HEAD"),
    ("POST", "/api/ops/v1/stats", NATIVE, "GET, HEAD"),
    ("GET", "/api/ops/v1/messages/1/retry", NATIVE, "POST"),
    ("GET", "/api/ops/v1/customers/1/opt-out", NATIVE, "DELETE, PUT"),
    ("PUT", "/api/admin/v1/restaurants", NATIVE, "GET, HEAD, POST"),
    ("DELETE", "/api/admin/v1/restaurants/1", NATIVE, "GET, HEAD, PATCH"),
    ("GET", "/api/admin/v1/restaurants/1/tokens", NATIVE, "POST"),
    ("GET", "/api/admin/v1/tokens/1", NATIVE, "DELETE"),
    ("POST", "/ops", NATIVE, "GET, HEAD"),
    ("PUT", "/ops/login", NATIVE, "POST"),
    ("GET", "/ops/logout", NATIVE, "POST"),
    ("POST", "/ops/static/ops.js", NATIVE, "GET, HEAD"),
    ("PUT", "/webhooks/whatsapp", NATIVE, "GET, HEAD, POST"),
    ("GET", "/webhooks/telnyx/some-slug", NATIVE, "POST"),
    ("POST", "/healthz", NATIVE, "GET, HEAD"),
    ("POST", "/readyz", NATIVE, "GET, HEAD"),
    ("POST", "/metrics", NATIVE, "GET, HEAD"),
    ("POST", "/openapi.json", NATIVE, "GET, HEAD"),
    ("GET", "/phonebridge/v3/callnotify", ZOHO, "POST"),
    ("GET", "/apps/api/v1/calls", CCAI, "POST"),
    ("PUT", "/apps/api/v1/calls/1", CCAI, "PATCH"),
    ("PUT", "/apps/api/v1/calls/1/customer_flag", CCAI, "GET, HEAD, PATCH"),
    ("PUT", "/manager/api/v1/calls", CCAI, "GET, HEAD"),
    ("DELETE", "/manager/api/v1/calls/1", CCAI, "GET, HEAD"),
    ("POST", "/manager/api/v1/settings/organization", CCAI, "GET, HEAD"),
    # OPTIONS is not served (no CORS): a 405 that says what is
    ("OPTIONS", "/api/partner/v1/me", NATIVE, "GET, HEAD"),
    ("OPTIONS", "/phonebridge/v3/callnotify", ZOHO, "POST"),
    ("OPTIONS", "/manager/api/v1/calls", CCAI, "GET, HEAD"),
]


def in_door_shape(reply: httpx.Response, door: str) -> bool:
    body: dict[str, Any] = reply.json()
    if door == ZOHO:
        return (body["status"], body["code"]) == ("error", "METHOD_NOT_ALLOWED")
    if door == CCAI:
        return body == {"message": "Method not allowed"}
    error: dict[str, Any] = body["error"]
    return (error["code"], error["request_id"]) == (
        "METHOD_NOT_ALLOWED",
        reply.headers.get("x-request-id"),
    )


@pytest.mark.parametrize(("method", "path", "door", "allow"), REFUSED)
async def test_a_405_names_every_method_of_its_path_in_the_doors_shape(
    client: httpx.AsyncClient, method: str, path: str, door: str, allow: str
) -> None:
    reply = await client.request(method, path)
    assert reply.status_code == 405, reply.text
    assert reply.headers["allow"] == allow
    assert in_door_shape(reply, door), reply.text


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", template)


async def test_every_documented_path_answers_a_405_listing_its_documented_methods(
    client: httpx.AsyncClient,
) -> None:
    """Whatever the routes: every path of the OpenAPI document, a method it does not declare."""
    document = (await client.get("/openapi.json")).json()
    assert document["paths"]
    for template, operations in document["paths"].items():
        declared = {m.upper() for m in operations if m in {"get", "post", "put", "patch", "delete"}}
        served = declared | ({"HEAD"} if "GET" in declared else set())
        refused = next(m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m not in declared)
        reply = await client.request(refused, concrete(template))
        assert reply.status_code == 405, (template, refused, reply.text)
        assert reply.headers["allow"] == ", ".join(sorted(served)), template


async def test_head_answers_as_get_without_the_content(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    for path, headers in [
        ("/healthz", {}),
        ("/api/partner/v1/me", tenant.auth()),
        ("/ops", {}),
    ]:
        got = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert (head.status_code, got.status_code) == (200, 200), path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]


async def test_head_keeps_the_errors_of_get(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    unauthorized = await client.head("/api/partner/v1/me")
    assert unauthorized.status_code == 401
    assert unauthorized.headers["www-authenticate"] == "Bearer"
    assert unauthorized.content == b""
    missing = await client.head("/manager/api/v1/calls/999999999", headers=basic(tenant))
    assert missing.status_code == 404
    refused = await client.head("/api/partner/v1/missed-calls")
    assert (refused.status_code, refused.headers["allow"], refused.content) == (405, "POST", b"")


async def test_head_requests_are_counted_as_head_on_their_route(
    settings: Settings, container: Container, make_restaurant: MakeRestaurant
) -> None:
    metrics = PrometheusMetrics()
    app = create_app(settings, container, metrics=metrics)
    tenant = await make_restaurant()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        assert (await client.head("/api/partner/v1/me", headers=tenant.auth())).status_code == 200
        scrape = (await client.get("/metrics")).text
    assert re.search(
        r'ringback_http_requests_total\{method="HEAD",route="/api/partner/v1/me",status="200"\} 1',
        scrape,
    ), scrape
