"""GraphClient: the Graph API's HTTP client — one POST with its body in memory, on aiohttp.

Every report sends its message inline, so this client is on the intake's hot path. Under it,
aiohttp's connection pool and parser: httpcore's pool and pure-Python parser cost 2.9 ms of CPU
per request at 32 concurrent sends against 0.6 ms for aiohttp (docs/PERFORMANCE.md). Over it,
nothing: the sender hands it a URL, the body's bytes and two headers, and gets back the status
and the body's bytes (``GraphReply``). httpx's request and response models, which the sender
used to build around aiohttp (through httpx-aiohttp's transport), cost more CPU than aiohttp's own
request: ``bench/graph_send.py`` (32 concurrent sends to a local fake Graph API) measured about
165 µs of CPU per send through them, 100 µs for aiohttp alone (issue 15).

Tests give the sender another ``GraphPoster`` (``build_container(graph=...)``):
``tests/graphmock.py``'s turns each POST into an ``httpx.Request`` for respx's routes and the
route's ``httpx.Response`` into a ``GraphReply``, with nothing patched. So failures speak httpx's
exceptions, which a route's ``side_effect`` raises too: a timeout is
``httpx.TimeoutException`` (``ConnectTimeout`` while connecting, else ``ReadTimeout``), a
refused or unreachable host ``httpx.ConnectError``, a connection lost or a broken reply
``RemoteProtocolError`` or ``ReadError``, a URL aiohttp cannot use ``UnsupportedProtocol``; the
sender reads any of them as a transient failure.

What it keeps of an HTTP client's behaviour, on purpose: no redirect is followed; the reply's
content coding is decoded (aiohttp's default); no cookie is kept — one client serves every
restaurant, and a cookie the Graph API set on one restaurant's request would go out with the
next restaurant's (the session's jar is a dummy one); the timeout bounds every call as httpx's
did: ``connect`` the socket's connect, ``read`` each read, ``pool`` the wait for a pooled
connection (aiohttp has no write timeout: the body is one small write).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from yarl import URL


@dataclass(frozen=True, slots=True)
class GraphReply:
    """The Graph API's answer: its HTTP status and its body, decoded from any content coding."""

    status: int
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


class GraphPoster(Protocol):
    """What the sender needs of an HTTP client: ``GraphClient``, or a test's stand-in."""

    async def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> GraphReply: ...


def _httpx_error(error: Exception) -> httpx.TransportError:
    """aiohttp's exception (or a bare timeout) as the httpx exception of the same failure."""
    message = str(error) or type(error).__name__
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(error, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(error, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message)
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    return httpx.ReadError(message)  # a connection reset, a reply cut short


class GraphClient:
    """POSTs to the Graph API on one aiohttp session, built lazily (it belongs to the running
    event loop) from ``session``; ``timeout`` bounds every call."""

    def __init__(
        self, session: Callable[[], aiohttp.ClientSession], timeout: httpx.Timeout
    ) -> None:
        self._new_session = session
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout.pool, sock_connect=timeout.connect, sock_read=timeout.read
        )
        self._urls: dict[str, URL] = {}  # one per business number, parsed once

    def _url(self, url: str) -> URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 10_000:  # bounded, whatever the number of business numbers
                self._urls.clear()
            parsed = self._urls[url] = URL(url)
        return parsed

    async def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> GraphReply:
        """POST ``content`` to ``url`` with ``headers``; the reply read whole."""
        session = self._session
        if session is None:
            session = self._session = self._new_session()
        try:
            async with session.post(
                self._url(url),
                data=content,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout,
            ) as reply:
                return GraphReply(reply.status, await reply.read())
        except (aiohttp.ClientError, TimeoutError) as error:
            raise _httpx_error(error) from error

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
