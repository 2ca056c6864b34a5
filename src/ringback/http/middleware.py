"""Pure ASGI middleware: request ids on every reply, the 256 KiB body limit, last-resort errors."""

from __future__ import annotations

import re
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringback.http.errors import (
    BodyTooLargeError,
    log_failure,
    payload_too_large,
    render,
    to_api_error,
)
from ringback.http.logs import request_id_var

_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class EdgeMiddleware:
    """Echo a sane ``X-Request-ID`` (else mint one) and refuse bodies over the limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_ID.match(candidate):
                    request_id = candidate
            elif name == b"content-length":
                length = value
        # 32 random hex digits, as uuid4().hex gives, without building a UUID on every request
        request_id = request_id or secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)  # for every log line of this request (api/logs.py)
        header = (b"x-request-id", request_id.encode())

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        limit = self.max_body_bytes
        # bytes.isdigit() takes ASCII digits only; int() refuses more than 4300 of them (a
        # ValueError, hence a 500), and a length that long is over any limit.
        over_limit = (
            length is not None and length.isdigit() and (len(length) > 19 or int(length) > limit)
        )
        if over_limit:
            response = render(Request(scope), payload_too_large(limit))
            await response(scope, receive, send_with_id)
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLargeError(limit)
            return message

        try:
            await self.app(scope, counted_receive, send_with_id)
        except Exception as error:
            # The last line of defence: whatever escaped the routes becomes a reply in the door's
            # shape (503 when the database is gone, else a 500 without internals).
            if started:
                raise
            request = Request(scope)
            api_error = to_api_error(error)
            log_failure(request, api_error, error)
            await render(request, api_error)(scope, receive, send_with_id)
