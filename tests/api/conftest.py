"""In-process HTTP fixtures: the real app and a respx stand-in for the Graph API."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.settings import Settings
from tests.conftest import GRAPH_BASE
from tests.graphmock import mock_graph

_ids = itertools.count(1)


def graph_ok(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": f"wamid.test{next(_ids)}"}],
        },
    )


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    """The Graph API, answering every template message with a fresh wamid."""
    with mock_graph(base_url=GRAPH_BASE, assert_all_called=False) as router:
        router.post(path__regex=r"/[^/]+/messages").mock(side_effect=graph_ok)
        yield router


@pytest.fixture
async def client(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def sent_bodies(graph: respx.MockRouter) -> list[dict[str, object]]:
    return [json.loads(call.request.content) for call in graph.calls]
