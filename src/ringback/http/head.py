"""HEAD is GET without the content (RFC 9110 §9.3.2), on every route that serves GET.

Starlette's own routes add HEAD to GET; FastAPI's declare only the methods written, so without
this every GET route of the app answered HEAD with a 405 (a ``curl -I /healthz`` included).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """Pure ASGI: a HEAD request runs as GET; the reply keeps its status and headers (its
    ``Content-Length`` too) and loses its content."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # A copy: the server and the outer middleware read their own scope's method (the server
        # to know that the reply carries no content, the metrics to label the request HEAD).
        as_get = {**scope, "method": "GET"}

        async def without_content(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(as_get, receive, without_content)
        finally:
            if "route" in as_get:  # the metrics middleware labels the request by its route
                scope["route"] = as_get["route"]
