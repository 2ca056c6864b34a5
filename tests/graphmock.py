"""respx for Ringback's Graph API client, which is its own (on aiohttp), not httpx's.

respx intercepts httpcore by default; this mocker intercepts ``GraphClient.post`` the way respx
intercepts httpcore: the call's arguments become an ``httpx.Request`` for respx's routes, the
route's ``httpx.Response`` (read whole) becomes the ``GraphReply`` the sender gets, and a route's
``side_effect`` exception is raised from ``post``. A request no route matches passes through to
the real client only when a route says so::

    with respx.mock(base_url=GRAPH_BASE, using=GRAPH_MOCKER) as graph: ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from respx.mocks import AbstractRequestMocker

from ringback.messages.graph_client import GraphReply


class GraphClientMocker(AbstractRequestMocker):
    name = "ringback-graph"
    targets = ["ringback.messages.graph_client.GraphClient"]  # noqa: RUF012 (respx's API)
    target_methods = ["post"]  # noqa: RUF012

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        return httpx.Request(
            "POST", kwargs["url"], content=kwargs["content"], headers=kwargs["headers"]
        )

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> GraphReply:
        return GraphReply(httpx_response.status_code, await httpx_response.aread())


GRAPH_MOCKER = GraphClientMocker.name


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
