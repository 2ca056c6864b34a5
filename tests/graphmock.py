"""respx for Ringback's Graph API client, whose transport is httpx-aiohttp's, not httpcore.

respx intercepts httpcore by default; this mocker intercepts ``AiohttpTransport`` the same way
(a request no route matches passes through to the real transport only when a route says so)::

    with respx.mock(base_url=GRAPH_BASE, using=GRAPH_MOCKER) as graph: ...
"""

from __future__ import annotations

from typing import Any

import httpx
from respx.mocks import AbstractRequestMocker


class AiohttpTransportMocker(AbstractRequestMocker):
    name = "httpx-aiohttp"
    targets = ["httpx_aiohttp.transport.AiohttpTransport"]  # noqa: RUF012 (respx's API)
    target_methods = ["handle_async_request"]  # noqa: RUF012

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        request: httpx.Request = kwargs["request"]
        return request

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> httpx.Response:
        return httpx_response


GRAPH_MOCKER = AiohttpTransportMocker.name


def graph_error(code: int, status: int = 400) -> httpx.Response:
    """A Graph API error reply with WhatsApp error ``code``."""
    return httpx.Response(
        status,
        json={"error": {"message": f"(#{code}) scripted", "type": "OAuthException", "code": code}},
    )
