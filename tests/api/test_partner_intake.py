"""The partner intake's short way (``doors/partner/intake.py``): a well-formed report is served
without the app's routing; everything else reaches the route with its body as it was sent."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.doors.partner.intake import PartnerIntake
from ringback.http.ratelimit import TokenBuckets
from ringback.settings import Settings
from tests.conftest import MakeRestaurant, Tenant, make_settings, random_mobile

pytestmark = pytest.mark.sql
URL = "/api/partner/v1/missed-calls"


class Route:
    """Stands for the app behind the short way: keeps what reaches it, answers 299."""

    def __init__(self) -> None:
        self.received: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            self.received.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"the route"})

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.received)


class Exchange:
    """One request put to the short way by hand, and its reply."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            self.body += message.get("body", b"")

    def json(self) -> Any:
        return json.loads(self.body)


async def put(
    app: FastAPI,
    route: Route,
    messages: list[Message],
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = URL,
) -> tuple[Exchange, Scope]:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("test", 80),
        "client": ("127.0.0.1", 50000),
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "app": app,  # where the dependencies find the services, as in the app
        "state": {"request_id": "intake-test"},
    }
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    exchange = Exchange()
    await PartnerIntake(route)(scope, receive, exchange.send)
    return exchange, scope


def whole(body: bytes) -> list[Message]:
    return [{"type": "http.request", "body": body, "more_body": False}]


def json_headers(tenant: Tenant) -> dict[str, str]:
    return {**tenant.auth(), "Content-Type": "application/json"}


@pytest.fixture
def app(settings: Settings, container: Container) -> FastAPI:
    return create_app(settings, container)


async def test_a_well_formed_report_is_served_without_the_route(
    app: FastAPI, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    route = Route()
    body = json.dumps({"caller_phone_number": random_mobile(), "external_call_id": "short-1"})
    exchange, scope = await put(app, route, whole(body.encode()), json_headers(tenant))
    assert route.received == []
    assert exchange.status == 201
    assert exchange.json()["data"]["outcome"] == "SENT"
    assert len(graph.calls) == 1
    assert scope["route"].path == URL  # what the metrics label the request with


async def test_a_body_in_several_parts_is_read_whole(
    app: FastAPI, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    route = Route()
    body = json.dumps({"caller_phone_number": random_mobile()}).encode()
    parts: list[Message] = [
        {"type": "http.request", "body": body[:7], "more_body": True},
        {"type": "http.request", "body": body[7:], "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    exchange, _ = await put(app, route, parts, json_headers(tenant))
    assert route.received == []
    assert exchange.status == 201


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"caller_phone_number": ', "application/json"),  # not JSON
        (b'{"caller_phone_number": 33612345678}', "application/json"),  # the model refuses it
        (b'["+33612345678"]', "application/json"),
        (b"", "application/json"),
        (b'{"caller_phone_number": "+33612345678"}', "text/plain"),
        (b'{"caller_phone_number": "+33612345678"}', "application/vnd.api+json"),
        (b'{"caller_phone_number": "+33612345678"}', ""),
    ],
)
async def test_what_it_cannot_read_reaches_the_route_with_its_body(
    app: FastAPI, make_restaurant: MakeRestaurant, body: bytes, content_type: str
) -> None:
    tenant = await make_restaurant()
    route = Route()
    headers = {**tenant.auth(), **({"Content-Type": content_type} if content_type else {})}
    parts: list[Message] = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    exchange, _ = await put(app, route, parts, headers)
    assert exchange.status == 299
    assert route.body == body
    assert route.received[-1]["more_body"] is False


@pytest.mark.parametrize(
    ("method", "path"), [("GET", URL), ("PUT", URL), ("POST", URL + "/"), ("POST", "/api/x")]
)
async def test_other_requests_reach_the_app_unread(
    app: FastAPI, make_restaurant: MakeRestaurant, method: str, path: str
) -> None:
    tenant = await make_restaurant()
    route = Route()
    body = json.dumps({"caller_phone_number": random_mobile()}).encode()
    exchange, _ = await put(app, route, whole(body), json_headers(tenant), method=method, path=path)
    assert exchange.status == 299
    assert route.body == body


async def test_a_client_gone_before_the_end_of_its_body_is_the_routes_to_answer(
    app: FastAPI, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    route = Route()
    parts: list[Message] = [
        {"type": "http.request", "body": b'{"caller_phone', "more_body": True},
        {"type": "http.disconnect"},
    ]
    exchange, _ = await put(app, route, parts, json_headers(tenant))
    assert exchange.status == 299
    assert route.received == parts


async def test_a_bad_token_is_refused_before_the_fields_are_read(
    client: httpx.AsyncClient,
) -> None:
    for body in ({"caller_phone_number": random_mobile()}, {"caller_phone_number": 5}):
        reply = await client.post(URL, headers={"Authorization": "Bearer nope"}, json=body)
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "UNAUTHORIZED"
        assert reply.headers["www-authenticate"].startswith("Bearer")
        assert len(reply.headers["x-request-id"]) == 32


async def test_reports_are_rate_limited_per_token(
    database_url: str,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    app = create_app(make_settings(database_url, rate_limit_per_second=1), container)
    limits: TokenBuckets = app.state.rate_limits
    # the clock stands still, so no token comes back however slowly the machine runs these
    app.state.rate_limits = TokenBuckets(limits.rate, limits.burst, clock=lambda: 0.0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        replies = [
            await http.post(URL, headers=tenant.auth(), json={"caller_phone_number": m})
            for m in (random_mobile(), random_mobile(), random_mobile())
        ]
    assert [r.status_code for r in replies] == [201, 201, 429]
    assert replies[2].json()["error"]["code"] == "RATE_LIMITED"
    assert int(replies[2].headers["retry-after"]) >= 1
    assert len(graph.calls) == 2  # the refused report decided nothing


async def test_a_report_that_conflicts_with_its_key_is_409_in_the_envelope(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    first = {"caller_phone_number": random_mobile(), "external_call_id": "conflict-1"}
    again = {**first, "caller_phone_number": random_mobile()}
    assert (await client.post(URL, headers=tenant.auth(), json=first)).status_code == 201
    reply = await client.post(URL, headers={**tenant.auth(), "X-Request-ID": "r-9"}, json=again)
    assert reply.status_code == 409
    error = reply.json()["error"]
    assert error["code"] == "IDEMPOTENCY_CONFLICT"
    assert error["request_id"] == "r-9"
    assert reply.headers["x-request-id"] == "r-9"
