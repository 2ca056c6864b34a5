"""GraphClient on real sockets: what goes out, what comes back, and each failure as httpx's
exception (the sender reads those; respx raises the same ones in the other tests)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from ringback.bootstrap import build_graph_client
from ringback.messages.graph_client import GraphClient, GraphReply
from ringback.settings import Settings

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HEADERS = {"Authorization": "Bearer secret-token", "Content-Type": "application/json"}


@dataclass
class RawServer:
    """A loopback HTTP/1.1 server whose every connection runs ``script``; it keeps each
    request's head and body."""

    script: Script
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    port: int = 0

    async def read_request(self, reader: asyncio.StreamReader) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.heads.append(head)
        self.bodies.append(await reader.readexactly(length))

    def url(self, path: str = "/v21.0/123/messages") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def reply(status: int, body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n" % (status, len(body))
    return head + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], Awaitable[RawServer]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> RawServer:
        raw = RawServer(script)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await raw.script(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        raw.port = server.sockets[0].getsockname()[1]
        return raw

    yield start
    for server in servers:
        server.close()


def client_with(timeout: float = 5.0) -> GraphClient:
    return build_graph_client(Settings(_env_file=None, graph_timeout_seconds=timeout))


async def post(client: GraphClient, url: str, content: bytes = b'{"a":1}') -> GraphReply:
    try:
        return await client.post(url, content, HEADERS)
    finally:
        await client.aclose()


async def test_the_body_and_headers_go_out_as_given_and_the_reply_comes_back_whole(
    serve: Callable[[Script], Awaitable[RawServer]],
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(reply(200, b'{"messages":[{"id":"wamid.1"}]}'))
        await writer.drain()

    raw = await serve(answer)
    result = await post(client_with(), raw.url(), b'{"to":"33612345678"}')
    assert result == GraphReply(200, b'{"messages":[{"id":"wamid.1"}]}')
    assert result.is_success
    assert raw.heads[0].startswith(b"POST /v21.0/123/messages HTTP/1.1\r\n")
    head = raw.heads[0].lower()
    assert b"\r\nauthorization: bearer secret-token\r\n" in head
    assert b"\r\ncontent-type: application/json\r\n" in head
    assert raw.bodies == [b'{"to":"33612345678"}']


async def test_a_gzip_reply_is_decoded(serve: Callable[[Script], Awaitable[RawServer]]) -> None:
    payload = json.dumps({"error": {"code": 131000}}).encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(reply(500, gzip.compress(payload), b"Content-Encoding: gzip"))
        await writer.drain()

    raw = await serve(answer)
    result = await post(client_with(), raw.url())
    assert result == GraphReply(500, payload)
    assert not result.is_success


async def test_a_redirect_is_not_followed(serve: Callable[[Script], Awaitable[RawServer]]) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(reply(302, b"", b"Location: /elsewhere"))
        await writer.drain()

    raw = await serve(answer)
    result = await post(client_with(), raw.url())
    assert result.status == 302
    assert len(raw.heads) == 1


async def test_a_reply_slower_than_the_timeout_is_a_read_timeout(
    serve: Callable[[Script], Awaitable[RawServer]],
) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        await reader.read()  # no reply: the connection stays open until the client gives up

    raw = await serve(hang)
    with pytest.raises(httpx.ReadTimeout):
        await post(client_with(timeout=0.2), raw.url())


async def test_a_refused_connection_is_a_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens on the port any more
    with pytest.raises(httpx.ConnectError):
        await post(client_with(), f"http://127.0.0.1:{port}/v21.0/123/messages")


async def test_a_connection_closed_without_a_reply_is_a_remote_protocol_error(
    serve: Callable[[Script], Awaitable[RawServer]],
) -> None:
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)

    raw = await serve(close)
    with pytest.raises(httpx.RemoteProtocolError):
        await post(client_with(), raw.url())


async def test_a_reply_cut_short_is_a_read_error(
    serve: Callable[[Script], Awaitable[RawServer]],
) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"messages":')
        await writer.drain()

    raw = await serve(cut)
    with pytest.raises(httpx.ReadError):
        await post(client_with(), raw.url())


async def test_a_url_aiohttp_cannot_use_is_an_unsupported_protocol() -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        await post(client_with(), "ftp://127.0.0.1/v21.0/123/messages")


async def test_one_session_serves_every_request_until_closed(
    serve: Callable[[Script], Awaitable[RawServer]],
) -> None:
    """Connections are kept alive between sends (every report sends inline)."""
    connections = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(3):
            await raw.read_request(reader)
            writer.write(reply(200, b"{}"))
            await writer.drain()

    raw = await serve(answer)
    client = client_with()
    try:
        for _ in range(3):
            assert (await client.post(raw.url(), b"{}", HEADERS)).status == 200
    finally:
        await client.aclose()
    assert connections == 1
    assert len(raw.bodies) == 3
