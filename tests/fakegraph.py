"""A fake WhatsApp Graph API on a real loopback socket, for tests that cross process boundaries.

``FakeGraph`` serves ``POST /{version}/{phone_number_id}/messages`` with uvicorn in a background
thread. It records every request and answers like the Graph API: 200 with a unique ``wamid`` unless
a scripted reply is queued (HTTP 500, a Graph error JSON, or a hang past the client's timeout)::

    with FakeGraph() as graph:
        graph.error_next(code=130429, status=429)      # the next request is throttled
        env = {"WHATSAPP_API_BASE_URL": graph.base_url}
        ...
        graph.wait_for_requests(2)
        assert [r.to for r in graph.requests] == ["33612345678"] * 2

``GET /_fakegraph/requests`` returns what was recorded as JSON, for a process that cannot reach the
object. ``python -m tests.fakegraph --port 9000`` runs it on its own (benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.waits import SLOW_MACHINE_SECONDS

ReplyKind = Literal["ok", "http_error", "graph_error", "hang"]


@dataclass(frozen=True)
class ScriptedReply:
    kind: ReplyKind
    status: int = 200
    code: int | None = None
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class GraphRequest:
    """One request the fake received, with what it answered."""

    version: str
    phone_number_id: str
    authorization: str | None
    body: Any
    reply: ReplyKind
    status: int
    provider_message_id: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def to(self) -> str | None:
        return self.body.get("to") if isinstance(self.body, dict) else None


class FakeGraph:
    """The fake server. Thread-safe: tests script and read, the server thread answers."""

    def __init__(self, *, version: str = "v21.0", host: str = "127.0.0.1", port: int = 0) -> None:
        self.version = version
        self._host = host
        self._port = port
        self._lock = threading.Condition()
        self._script: deque[ScriptedReply] = deque()
        self._requests: list[GraphRequest] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(
            routes=[
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
                Route("/_fakegraph/requests", self._recorded, methods=["GET"]),
            ]
        )

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("FakeGraph is not started")
        return int(self._socket.getsockname()[1])

    @property
    def origin(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``WHATSAPP_API_BASE_URL`` should be, e.g. ``http://127.0.0.1:PORT/v21.0``."""
        return f"{self.origin}/{self.version}"

    def start(self, timeout: float = SLOW_MACHINE_SECONDS) -> FakeGraph:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        sock.listen(128)
        self._socket = sock
        # No log_config, log_level or access_log=False: each would reconfigure the logging of the
        # whole process (uvicorn.access set to WARNING or cut off), and the tests that read log
        # lines afterwards in the same process would see none.
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level=None,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fakegraph", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeGraph did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- scripting -----------------------------------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 500) -> None:
        """The next ``n`` requests answer ``status`` with a body that is not Graph JSON."""
        self._queue(n, ScriptedReply("http_error", status=status, message="Internal Server Error"))

    def error_next(
        self, n: int = 1, *, code: int = 130429, status: int = 400, message: str | None = None
    ) -> None:
        """The next ``n`` requests answer ``{"error": {"code": code, ...}}`` with ``status``.

        Transient: 130429 (throughput, usually with 429), 131000, 131016, ...; permanent: 131026
        (not on WhatsApp), 100 (invalid parameter), 190 (bad token, 401).
        """
        text = message or f"(#{code}) scripted Graph API error"
        self._queue(n, ScriptedReply("graph_error", status=status, code=code, message=text))

    def hang_next(self, seconds: float, n: int = 1) -> None:
        """The next ``n`` requests answer 200 only after ``seconds`` (past the client's timeout)."""
        self._queue(n, ScriptedReply("hang", seconds=seconds))

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()

    def _queue(self, n: int, reply: ScriptedReply) -> None:
        with self._lock:
            self._script.extend([reply] * n)

    # --- reading -------------------------------------------------------------------------------

    @property
    def requests(self) -> list[GraphRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, to: str) -> list[GraphRequest]:
        """Requests for one recipient (``to`` with or without its ``+``)."""
        digits = to.lstrip("+")
        return [r for r in self.requests if r.to == digits]

    def wait_for_requests(
        self, count: int, timeout: float = SLOW_MACHINE_SECONDS
    ) -> list[GraphRequest]:
        """Block until at least ``count`` requests arrived; raises TimeoutError otherwise."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} requests after {timeout}s")
            return list(self._requests)

    # --- the ASGI side -------------------------------------------------------------------------

    def _next_reply(self) -> ScriptedReply:
        with self._lock:
            return self._script.popleft() if self._script else ScriptedReply("ok")

    def _record(self, request: GraphRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    async def _messages(self, request: Request) -> Response:
        version = str(request.path_params["version"])
        phone_number_id = str(request.path_params["phone_number_id"])
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        reply = self._next_reply()
        response, provider_id = self._answer(reply, body)
        self._record(
            GraphRequest(
                version=version,
                phone_number_id=phone_number_id,
                authorization=request.headers.get("authorization"),
                body=body,
                reply=reply.kind,
                status=response.status_code,
                provider_message_id=provider_id,
            )
        )
        if reply.kind == "hang":
            await self._hang(reply.seconds)
        return response

    def _answer(self, reply: ScriptedReply, body: Any) -> tuple[Response, str | None]:
        if reply.kind == "http_error":
            return Response(reply.message, status_code=reply.status, media_type="text/html"), None
        if reply.kind == "graph_error":
            error = {
                "message": reply.message,
                "type": "OAuthException",
                "code": reply.code,
                "fbtrace_id": uuid.uuid4().hex[:12],
            }
            return JSONResponse({"error": error}, status_code=reply.status), None
        to = str(body.get("to", "")) if isinstance(body, dict) else ""
        provider_id = f"wamid.fake.{next(self._ids)}.{uuid.uuid4().hex}"
        payload = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
            "messages": [{"id": provider_id}],
        }
        return JSONResponse(payload), provider_id

    async def _hang(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            await asyncio.sleep(0.02)

    async def _recorded(self, request: Request) -> Response:
        return JSONResponse([asdict(r) for r in self.requests])


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake WhatsApp Graph API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    graph = FakeGraph(host=args.host, port=args.port)
    with graph:
        print(f"fake Graph API at {graph.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
