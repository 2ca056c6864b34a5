"""WhatsAppCloudSender against a mocked Graph API (respx routes answering the client it is given,
``tests/graphmock.py``) and the in-process sandbox (SPEC §3)."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import httpx
import pytest
import respx
from fastapi import FastAPI

from ringback.bootstrap import build_graph_client
from ringback.messages.graph import WhatsAppCloudSender
from ringback.messages.ports import ClaimedMessage
from ringback.messages.sandbox import router as sandbox_router
from ringback.settings import Settings
from tests.graphmock import POSTER, HttpxGraph, graph_error, mock_graph

BASE = "https://graph.test/v21.0"
PHONE_NUMBER_ID = "1234567890"
ENDPOINT = f"{BASE}/{PHONE_NUMBER_ID}/messages"
TRANSIENT_CODES = [1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004]


def claimed(**overrides: object) -> ClaimedMessage:
    values: dict[str, object] = {
        "id": 1,
        "lease_token": uuid.uuid4(),
        "attempts": 1,
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": "EAAG-secret-access-token",
        "to_phone_number": "+33612345678",
        "template_name": "missed_call_resa",
        "template_language": "fr",
        "parameters": ["Chez Test", "Marie", "2026-05-10", "20:30", "4"],
    }
    values.update(overrides)
    return ClaimedMessage(**values)  # type: ignore[arg-type]


def accepted(provider_id: str = "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBI") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": "33612345678", "wa_id": "33612345678"}],
            "messages": [{"id": provider_id}],
        },
    )


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    """The Graph API as routes, answering the sender's injected client."""
    with mock_graph(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sender(graph: respx.MockRouter) -> WhatsAppCloudSender:
    return WhatsAppCloudSender(POSTER, BASE)


# --- the request ---------------------------------------------------------------------------------


async def test_message_is_posted_to_the_phone_number_ids_messages_endpoint(
    graph: respx.MockRouter, sender: WhatsAppCloudSender
) -> None:
    route = graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=accepted())
    await sender.send(claimed())
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == ENDPOINT


async def test_request_body_is_the_template_message_with_the_number_without_its_plus(
    graph: respx.MockRouter, sender: WhatsAppCloudSender
) -> None:
    route = graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=accepted())
    await sender.send(claimed())
    assert json.loads(route.calls.last.request.content) == {
        "messaging_product": "whatsapp",
        "to": "33612345678",
        "type": "template",
        "template": {
            "name": "missed_call_resa",
            "language": {"code": "fr"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Chez Test"},
                        {"type": "text", "text": "Marie"},
                        {"type": "text", "text": "2026-05-10"},
                        {"type": "text", "text": "20:30"},
                        {"type": "text", "text": "4"},
                    ],
                }
            ],
        },
    }
    assert route.calls.last.request.headers["content-type"] == "application/json"


async def test_one_sender_posts_each_business_number_to_its_own_endpoint(
    graph: respx.MockRouter, sender: WhatsAppCloudSender
) -> None:
    first = graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=accepted())
    second = graph.post("/5550001111/messages").mock(return_value=accepted())
    for number_id in (PHONE_NUMBER_ID, "5550001111", PHONE_NUMBER_ID):
        await sender.send(claimed(phone_number_id=number_id))
    assert (first.call_count, second.call_count) == (2, 1)


class _CookieSettingGraph(http.server.BaseHTTPRequestHandler):
    """A Graph API stand-in on a real socket that sets a cookie on every reply."""

    cookies_seen: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).cookies_seen.append(self.headers.get("Cookie"))
        body = json.dumps(accepted().json()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "session=restaurant-a; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_a_cookie_the_graph_api_sets_is_never_sent_with_another_request() -> None:
    """The service's one client (bootstrap.build_graph_client) serves every restaurant:
    the aiohttp session under it must forget cookies. A real socket: respx would stand in
    for the aiohttp layer."""
    _CookieSettingGraph.cookies_seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CookieSettingGraph)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # a host name: aiohttp keeps no cookie of an IP-address host, whatever its jar
        base = f"http://localhost:{server.server_address[1]}/v21.0"
        client = build_graph_client(Settings(_env_file=None))
        try:
            sender = WhatsAppCloudSender(client, base)
            first = await sender.send(claimed(access_token="token-of-restaurant-a"))
            second = await sender.send(claimed(access_token="token-of-restaurant-b"))
        finally:
            await client.aclose()
    finally:
        server.shutdown()
        server.server_close()
    assert first.provider_message_id
    assert second.provider_message_id
    assert _CookieSettingGraph.cookies_seen == [None, None]


async def test_request_carries_the_restaurant_access_token_as_a_bearer_token(
    graph: respx.MockRouter, sender: WhatsAppCloudSender
) -> None:
    route = graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=accepted())
    await sender.send(claimed())
    assert route.calls.last.request.headers["authorization"] == "Bearer EAAG-secret-access-token"


async def test_base_url_with_a_trailing_slash_gives_the_same_endpoint(
    graph: respx.MockRouter,
) -> None:
    route = graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=accepted())
    await WhatsAppCloudSender(POSTER, BASE + "/").send(claimed())
    assert str(route.calls.last.request.url) == ENDPOINT


# --- accepted ------------------------------------------------------------------------------------


async def test_accepted_message_returns_the_provider_message_id(
    graph: respx.MockRouter, sender: WhatsAppCloudSender
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=accepted("wamid.ABC123"))
    result = await sender.send(claimed())
    assert result.accepted
    assert result.provider_message_id == "wamid.ABC123"
    assert result.error is None


async def test_success_reply_without_a_message_id_is_not_taken_as_accepted(
    graph: respx.MockRouter, sender: WhatsAppCloudSender
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(
        return_value=httpx.Response(200, json={"messaging_product": "whatsapp"})
    )
    result = await sender.send(claimed())
    assert not result.accepted
    assert result.error


# --- transient failures --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_http_5xx_is_a_transient_failure(
    graph: respx.MockRouter, sender: WhatsAppCloudSender, status: int
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(
        return_value=httpx.Response(status, text="<html>Service Unavailable</html>")
    )
    result = await sender.send(claimed())
    assert not result.accepted
    assert result.transient
    assert result.error == f"HTTP {status}"


@pytest.mark.parametrize(
    "timeout",
    [
        httpx.ConnectTimeout("connect"),
        httpx.ReadTimeout("read"),
        httpx.WriteTimeout("write"),
        httpx.PoolTimeout("pool"),
    ],
    ids=lambda exc: type(exc).__name__,
)
async def test_timeout_is_a_transient_failure(
    graph: respx.MockRouter, sender: WhatsAppCloudSender, timeout: httpx.TimeoutException
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(side_effect=timeout)
    result = await sender.send(claimed())
    assert not result.accepted
    assert result.transient
    assert result.error == "timeout"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
    ids=lambda exc: type(exc).__name__,
)
async def test_network_error_is_a_transient_failure(
    graph: respx.MockRouter, sender: WhatsAppCloudSender, error: httpx.TransportError
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(side_effect=error)
    result = await sender.send(claimed())
    assert not result.accepted
    assert result.transient
    assert result.error == f"network: {type(error).__name__}"


@pytest.mark.parametrize("code", TRANSIENT_CODES)
async def test_each_transient_whatsapp_code_is_a_transient_failure(
    graph: respx.MockRouter, sender: WhatsAppCloudSender, code: int
) -> None:
    status = 429 if code == 130429 else 400
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=graph_error(code, status))
    result = await sender.send(claimed())
    assert not result.accepted
    assert result.transient
    assert result.error == f"HTTP {status} code {code}: (#{code}) scripted"


# --- permanent failures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"), [(131026, 400), (100, 400), (190, 401), (132001, 404), (131047, 400)]
)
async def test_any_other_whatsapp_code_is_a_permanent_failure(
    graph: respx.MockRouter, sender: WhatsAppCloudSender, code: int, status: int
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=graph_error(code, status))
    result = await sender.send(claimed())
    assert not result.accepted
    assert not result.transient
    assert result.error == f"HTTP {status} code {code}: (#{code}) scripted"


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(400, json={}),
        httpx.Response(400, json={"error": {"message": "Bad request"}}),
        httpx.Response(403, text="Forbidden"),
        httpx.Response(404, text="<html>Not Found</html>"),
        httpx.Response(429, text="Too Many Requests"),
    ],
    ids=["empty-json", "no-code", "403-text", "404-html", "429-text"],
)
async def test_4xx_without_an_error_code_is_a_permanent_failure(
    graph: respx.MockRouter, sender: WhatsAppCloudSender, reply: httpx.Response
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=reply)
    result = await sender.send(claimed())
    assert not result.accepted
    assert not result.transient
    assert result.error is not None
    assert result.error.startswith(f"HTTP {reply.status_code}")


@pytest.mark.parametrize(
    "payload", [[], ["error"], {"error": "bad"}, {"error": None}, "oops"], ids=repr
)
async def test_4xx_reply_that_is_json_but_not_a_graph_error_is_a_permanent_failure(
    graph: respx.MockRouter, sender: WhatsAppCloudSender, payload: object
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(return_value=httpx.Response(400, json=payload))
    result = await sender.send(claimed())
    assert not result.accepted
    assert not result.transient
    assert result.error == "HTTP 400"


async def test_long_graph_error_messages_are_cut_to_300_characters(
    graph: respx.MockRouter, sender: WhatsAppCloudSender
) -> None:
    graph.post(f"/{PHONE_NUMBER_ID}/messages").mock(
        return_value=httpx.Response(400, json={"error": {"code": 100, "message": "x" * 1000}})
    )
    result = await sender.send(claimed())
    assert result.error == "HTTP 400 code 100: " + "x" * 300


# --- the sandbox stand-in ------------------------------------------------------------------------


@pytest.fixture
def sandbox_transport() -> httpx.ASGITransport:
    app = FastAPI()
    app.include_router(sandbox_router, prefix="/_sandbox/graph")
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def sandbox_client(
    sandbox_transport: httpx.ASGITransport,
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sandbox_transport, base_url="http://sandbox") as client:
        yield client


async def test_sandbox_accepts_the_senders_message_like_the_graph_api(
    sandbox_transport: httpx.ASGITransport,
) -> None:
    sender = WhatsAppCloudSender(
        HttpxGraph(sandbox_transport), "http://sandbox/_sandbox/graph/v21.0"
    )
    first = await sender.send(claimed())
    second = await sender.send(claimed())
    assert first.provider_message_id is not None
    assert first.provider_message_id.startswith("wamid.sandbox.")
    assert second.provider_message_id != first.provider_message_id


async def test_sandbox_answers_with_the_graph_reply_shape(
    sandbox_client: httpx.AsyncClient,
) -> None:
    response = await sandbox_client.post(
        f"/_sandbox/graph/v21.0/{PHONE_NUMBER_ID}/messages",
        json={"messaging_product": "whatsapp", "to": "33612345678", "type": "template"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "33612345678", "wa_id": "33612345678"}]
    assert body["messages"][0]["id"].startswith("wamid.sandbox.")
    assert len(body["messages"][0]["id"]) == len("wamid.sandbox.") + 32


async def test_sandbox_logs_the_message_but_never_the_access_token(
    sandbox_transport: httpx.ASGITransport, caplog: pytest.LogCaptureFixture
) -> None:
    sender = WhatsAppCloudSender(
        HttpxGraph(sandbox_transport), "http://sandbox/_sandbox/graph/v21.0"
    )
    with caplog.at_level(logging.INFO, logger="ringback.sandbox"):
        result = await sender.send(claimed())
    records = [r for r in caplog.records if r.name == "ringback.sandbox"]
    assert len(records) == 1
    logged = records[0].getMessage() + repr(records[0].__dict__)
    assert "33612345678" in logged
    assert "missed_call_resa" in logged
    assert str(result.provider_message_id) in logged
    assert "EAAG-secret-access-token" not in logged
    assert "Bearer" not in logged


async def test_sandbox_refuses_a_body_that_is_not_json_with_a_graph_error(
    sandbox_client: httpx.AsyncClient,
) -> None:
    response = await sandbox_client.post(
        f"/_sandbox/graph/v21.0/{PHONE_NUMBER_ID}/messages",
        content=b"not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
