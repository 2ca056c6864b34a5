"""respx's routes as the Graph API of the tests, through an injected client (DESIGN §6: fakes at
narrow seams, never a patch by import path).

The sender takes its HTTP client as a ``GraphPoster`` (``messages/graph_client.py``); a test's
container is built with ``POSTER`` (``build_container(..., graph=POSTER)``), which turns each POST
into an ``httpx.Request`` and has it answered by the respx router it is pointed at: the route's
``httpx.Response`` becomes the ``GraphReply`` the sender gets, a route's ``side_effect``
exception is raised from ``post`` (the sender reads httpx's exceptions, as it reads the real
client's), and respx records every call. ``mock_graph`` is ``respx.mock`` with no patching, the
router pointed at by ``POSTER`` while the block runs::

    with mock_graph(base_url=GRAPH_BASE) as graph: ...

A POST while no router is pointed at fails the test, as respx fails a request nothing mocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import respx

from ringback.messages.graph_client import GraphReply


class RespxGraph:
    """A ``GraphPoster`` answered by a respx router (``answering``)."""

    def __init__(self) -> None:
        self._routers: list[respx.Router] = []

    @contextmanager
    def answering(self, router: respx.Router) -> Iterator[None]:
        """Point this client at ``router`` for the block (the innermost block wins)."""
        self._routers.append(router)
        try:
            yield
        finally:
            self._routers.remove(router)

    async def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> GraphReply:
        if not self._routers:
            raise AssertionError(f"a Graph API request with no mock_graph block: POST {url}")
        request = httpx.Request("POST", url, content=content, headers=dict(headers))
        response = await self._routers[-1].async_handler(request)
        return GraphReply(response.status_code, await response.aread())


POSTER = RespxGraph()
"""The Graph API client of every container the tests build (``tests/conftest.py``)."""


@contextmanager
def mock_graph(**options: Any) -> Iterator[respx.MockRouter]:
    """``respx.mock(**options)`` that patches nothing: ``POSTER`` sends to its routes."""
    with respx.mock(using=None, **options) as router, POSTER.answering(router):
        yield router


class HttpxGraph:
    """The sender's client on an httpx transport: a test stands an ASGI app (the sandbox) behind
    the sender this way."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._client = httpx.AsyncClient(transport=transport)

    async def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> GraphReply:
        response = await self._client.post(url, content=content, headers=dict(headers))
        return GraphReply(response.status_code, response.content)


def graph_error(code: int, status: int = 400) -> httpx.Response:
    """A Graph API error reply with WhatsApp error ``code``."""
    return httpx.Response(
        status,
        json={"error": {"message": f"(#{code}) scripted", "type": "OAuthException", "code": code}},
    )
