"""Bad input to a form or a body we parse ourselves is answered in the door's shape, never a 500
(issue 13 item 5): the dashboard's sign-in form, Zoho's form, the Graph sandbox's JSON, and a client
that hangs up halfway through its body."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
import respx
from starlette.types import Message

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.api.ccai_support import basic
from tests.conftest import MakeRestaurant, Tenant, make_settings, random_mobile

pytestmark = pytest.mark.sql

ORIGIN = {"Origin": "http://test"}  # the sign-in page's own origin (SPEC §2)
FORM = "application/x-www-form-urlencoded"
ELEVEN_FIELDS = "token=x&a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1"  # the audit's request


def signin_form_error(reply: httpx.Response, status: int) -> None:
    """The sign-in page again, with an error, and no session."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert 'name="token"' in reply.text
    assert 'role="alert"' in reply.text
    assert "ringback_ops" not in reply.headers.get("set-cookie", "")


async def test_eleven_form_fields_answer_the_signin_page_with_an_error(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        reply = await client.post(
            "/ops/login", content=ELEVEN_FIELDS, headers={**ORIGIN, "Content-Type": FORM}
        )
    signin_form_error(reply, 400)
    assert "could not be read" in reply.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param("&".join(f"f{n}=1" for n in range(20_000)).encode(), FORM, id="a_flood"),
        pytest.param(b"token=rb_ops_\xff\xfe", FORM, id="not_utf8"),
        pytest.param(b"token=a&token=b", FORM, id="token_twice"),
        pytest.param(
            b'--b\r\nContent-Disposition: form-data; name="token"\r\n\r\nx\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
            id="multipart",
        ),
        pytest.param(b'{"token": "x"}', "application/json", id="json"),
    ],
)
async def test_an_unreadable_signin_form_answers_the_signin_page_with_an_error(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    reply = await client.post(
        "/ops/login", content=content, headers={**ORIGIN, "Content-Type": content_type}
    )
    signin_form_error(reply, 400)


async def test_the_token_is_still_read_beside_a_few_other_fields(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    token = quote(tenant.tokens[TokenKind.OPS], safe="")
    reply = await client.post(
        "/ops/login",
        content=f"remember=on&token={token}&lang=fr",
        headers={**ORIGIN, "Content-Type": f"{FORM}; charset=UTF-8"},
    )
    assert reply.status_code == 303
    assert reply.cookies.get("ringback_ops")
    client.cookies.clear()


async def sign_in(client: httpx.AsyncClient, token: str, next_page: str) -> httpx.Response:
    """The sign-in form as the page posts it: the token, and the page to return to."""
    return await client.post(
        "/ops/login",
        content=f"token={quote(token, safe='')}&next={quote(next_page, safe='')}",
        headers={**ORIGIN, "Content-Type": FORM},
    )


@pytest.mark.parametrize("page", ["/ops", "/ops/inbox"])
async def test_a_page_asking_for_a_sign_in_is_where_the_sign_in_returns(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, page: str
) -> None:
    asked = await client.get(page)
    assert asked.status_code == 200
    assert f'<input type="hidden" name="next" value="{page}">' in asked.text
    tenant = await make_restaurant()

    reply = await sign_in(client, tenant.tokens[TokenKind.OPS], page)

    assert reply.status_code == 303
    assert reply.headers["location"] == page
    assert reply.cookies.get("ringback_ops")
    client.cookies.clear()


@pytest.mark.parametrize(
    "next_page",
    ["https://evil.example/ops", "//evil.example/ops", "/ops/../admin", "/ops/inbox/", "", "x"],
)
async def test_a_sign_in_returns_to_no_page_but_the_dashboards_own(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, next_page: str
) -> None:
    """``next`` names one of the dashboard's pages exactly, or it is ``/ops``: never a redirect
    to another site."""
    tenant = await make_restaurant()
    reply = await sign_in(client, tenant.tokens[TokenKind.OPS], next_page)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/ops"
    client.cookies.clear()


async def test_a_refused_sign_in_keeps_the_page_to_return_to(client: httpx.AsyncClient) -> None:
    reply = await sign_in(client, "rb_ops_not-a-token", "/ops/inbox")
    signin_form_error(reply, 401)
    assert '<input type="hidden" name="next" value="/ops/inbox">' in reply.text


# --- Zoho's form -------------------------------------------------------------------------------


def zoho_form(**extra: str) -> str:
    fields = {
        "type": "received",
        "state": "missed",
        "id": uuid.uuid4().hex,
        "from": random_mobile(),
        "to": "+33140000000",
        "start_time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        **extra,
    }
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in fields.items())


async def zoho_post(
    client: httpx.AsyncClient,
    tenant: Tenant,
    content: bytes,
    content_type: str = FORM,
    query: str = "",
) -> httpx.Response:
    return await client.post(
        "/phonebridge/v3/callnotify" + (f"?{query}" if query else ""),
        content=content,
        headers={
            "Authorization": f"Zoho-oauthtoken {tenant.tokens[TokenKind.ZOHO]}",
            "Content-Type": content_type,
        },
    )


def invalid_param(reply: httpx.Response, param: str, says: str) -> None:
    assert reply.status_code == 400, reply.text
    answer = reply.json()
    assert answer["status"] == "error"
    assert answer["code"] == "INVALID_PARAM_VALUE"
    assert answer["details"] == {"params": [param]}
    assert says in answer["message"]


@pytest.mark.parametrize("count", [70, 30_000])
async def test_zoho_form_with_too_many_fields_is_named_as_such(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, count: int
) -> None:
    tenant = await make_restaurant()
    flood = "&".join(f"x{n}=1" for n in range(count))
    body = await zoho_post(client, tenant, f"{zoho_form()}&{flood}".encode())
    invalid_param(body, "body", "more than 64 parameters")
    # an URL holds fewer (httpx refuses one over 64 KiB): the query's flood stays under that
    query = await zoho_post(client, tenant, zoho_form().encode(), query=flood[:60_000])
    invalid_param(query, "query", "more than 64 parameters")


async def test_zoho_form_at_the_field_limit_is_read(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    form = zoho_form()
    padding = "&".join(f"x{n}=1" for n in range(64 - (form.count("&") + 1)))
    reply = await zoho_post(client, tenant, f"{form}&{padding}".encode())
    assert reply.json() == {"status": "success", "code": "SUCCESS"}


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=b", "application/json", "application/ld+json"]
)
async def test_zoho_body_in_another_encoding_is_named_as_such(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, content_type: str
) -> None:
    tenant = await make_restaurant()
    if content_type.startswith("multipart/"):
        content = b'--b\r\nContent-Disposition: form-data; name="type"\r\n\r\nreceived\r\n--b--\r\n'
    else:
        content = json.dumps({"type": "received", "state": "missed"}).encode()
    reply = await zoho_post(client, tenant, content, content_type)
    invalid_param(reply, "body", f"expected {FORM}")


# --- Other bodies we parse ourselves -------------------------------------------------------------


@pytest.fixture
async def sandboxed(database_url: str, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, sandbox=True), container)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        yield http


async def test_sandbox_graph_answers_json_nested_too_deep_as_the_graph_api_would(
    sandboxed: httpx.AsyncClient,
) -> None:
    reply = await sandboxed.post(
        "/_sandbox/graph/v21.0/123/messages",
        content=b"[" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == 100


async def asgi_call_that_hangs_up(
    app: object, path: str, headers: list[tuple[bytes, bytes]]
) -> list[Message]:
    """One request whose client disconnects after the first chunk of its body."""
    incoming: list[Message] = [
        {"type": "http.request", "body": b"type=rece", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)  # type: ignore[operator]
    return sent


async def test_a_client_hanging_up_mid_body_is_no_server_error_on_any_door(
    settings: Settings,
    container: Container,
    make_restaurant: MakeRestaurant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = await make_restaurant()
    app = create_app(settings, container)
    form = (b"content-type", FORM.encode())
    doors = {
        "/ops/login": [form, (b"origin", b"http://test")],
        "/phonebridge/v3/callnotify": [
            form,
            (b"authorization", f"Zoho-oauthtoken {tenant.tokens[TokenKind.ZOHO]}".encode()),
        ],
        "/webhooks/whatsapp": [(b"content-type", b"application/json")],
        f"/webhooks/telnyx/{tenant.restaurant.slug}": [(b"content-type", b"application/json")],
        "/apps/api/v1/calls": [
            (b"content-type", b"application/json"),
            (b"authorization", basic(tenant)["Authorization"].encode()),
        ],
        "/api/partner/v1/missed-calls": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {tenant.tokens[TokenKind.PARTNER]}".encode()),
        ],
    }
    with caplog.at_level(logging.ERROR):
        for path, headers in doors.items():
            sent = await asgi_call_that_hangs_up(app, path, headers)
            start = next(m for m in sent if m["type"] == "http.response.start")
            assert start["status"] < 500, path
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
