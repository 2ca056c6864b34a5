"""The partner intake's short way: ``POST /api/partner/v1/missed-calls`` without FastAPI's routing.

A report is the hot path of the service (SPEC §9 measures it against a framework-free floor). Under
load, FastAPI's own layers — the exception middlewares, the router's matching through the included
routers, the request/response wrappers and the dependency solver — cost more of the server's CPU
than the report's own work outside the database (issue 15: py-spy, docs/PERFORMANCE.md). This
middleware serves a report that is certain to be read the same way by the route — a JSON body
that ``MissedCallIn`` accepts — by calling the route's own function with the same dependencies
(the partner authenticator, the relay), and answers what they raise with the app's own error
reply (``http.errors.error_reply``).

Everything else goes to the app untouched, with the body it already read replayed: a body that is
not JSON, or that the model refuses, another content type, another path or method. So every error
of the door keeps the shape, the order of checks (the token before the fields) and the wording the
route gives, because the route gives it; the route also stays the OpenAPI description. It sits
inside the edge and metrics middlewares, which still give every reply its request id, the body
limit, the last-resort error reply and its metrics (labelled with the route, as FastAPI's routing
labels it).
"""

from __future__ import annotations

import json
from collections import deque

from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringback.doors.partner.auth import partner_token
from ringback.doors.partner.router import report_missed_call, router
from ringback.doors.partner.schemas import MissedCallIn
from ringback.http import deps
from ringback.http.errors import HANDLED_ERRORS, error_reply


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return value.partition(b";")[0].strip().lower() == b"application/json"
    return False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` as if nothing had been read: the messages read first, then the live ones."""
    pending = deque(messages)

    async def replayed() -> Message:
        if pending:
            return pending.popleft()
        return await receive()

    return replayed


def _route() -> BaseRoute:
    for route in router.routes:
        if getattr(route, "endpoint", None) is report_missed_call:
            return route
    raise LookupError("the partner router has no missed-call route")


class PartnerIntake:
    """Pure ASGI: serves a well-formed missed-call report, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = _route()
        self.path: str = getattr(self.route, "path")  # noqa: B009 - BaseRoute declares no path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] != "POST"
            or scope.get("root_path")
            or not _is_json(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":  # the client left: the route says so
                await self.app(scope, _replay(read, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            body = MissedCallIn.model_validate(json.loads(b"".join(chunks)))
        except Exception:  # whatever this cannot read, the route answers
            await self.app(scope, _replay(read, receive), send)
            return
        scope["route"] = self.route  # the metrics label the request by its route
        request = Request(scope, receive)
        try:
            caller = await partner_token(request, deps.tenancy(request))
            response = await report_missed_call(body, caller, deps.relay(request))
        except HANDLED_ERRORS as error:
            response = await error_reply(request, error)
        await response(scope, receive, send)
