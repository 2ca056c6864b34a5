"""One table from exceptions to replies. Native APIs answer the envelope of SPEC §4; a compat door
registers its own renderer for its path prefix, so the same exception reads right on every door."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http import HTTPMethod
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from ringback.db.errors import translate
from ringback.errors import (
    Conflict,
    DatabaseUnavailable,
    IdempotencyConflict,
    NotFound,
    UnstorableText,
    WindowClosed,
)

log = logging.getLogger("ringback.http")


@dataclass
class ApiError(Exception):
    """An error reply: HTTP status, machine code, human message, optional details and headers."""

    status: int
    code: str
    message: str
    details: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class BodyTooLargeError(Exception):
    """Raised while reading a body that grows past the limit (chunked uploads)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


def unauthorized(
    message: str = "Missing or invalid credentials", challenge: str = "Bearer"
) -> ApiError:
    """A 401 whose ``WWW-Authenticate`` names the scheme the door takes (RFC 9110 §11.6.1)."""
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": challenge})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


def not_found(message: str = "Not found") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def validation_error(details: list[dict[str, str]], message: str = "Invalid request") -> ApiError:
    return ApiError(422, "VALIDATION_ERROR", message, details=details)


def payload_too_large(limit: int) -> ApiError:
    return ApiError(413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {limit} bytes")


def unavailable() -> ApiError:
    return ApiError(
        503,
        "UNAVAILABLE",
        "The database is unavailable; retry shortly",
        headers={"Retry-After": "1"},
    )


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def native_error(request: Request, error: ApiError) -> Response:
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "request_id": request_id_of(request),
            "details": error.details,
        }
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers)


Renderer = Callable[[Request, ApiError], Response]
_RENDERERS: list[tuple[str, Renderer]] = []


def register_renderer(prefix: str, renderer: Renderer) -> None:
    """A door with its own error shape (Zoho, CCAI) claims its path prefix."""
    _RENDERERS.append((prefix, renderer))
    _RENDERERS.sort(key=lambda item: -len(item[0]))


def render(request: Request, error: ApiError) -> Response:
    if not error.message.isascii():
        # A message may quote the input: an unpaired surrogate in it would break the JSON reply.
        printable = error.message.encode("utf-8", "backslashreplace").decode("utf-8")
        error = replace(error, message=printable)
    path = request.url.path
    for prefix, renderer in _RENDERERS:
        if path.startswith(prefix):
            return renderer(request, error)
    return native_error(request, error)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _from_validation(error: RequestValidationError) -> ApiError:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return ApiError(400, "MALFORMED_REQUEST", "The body is not valid JSON")
    details = [
        {"field": _field(tuple(p.get("loc", ()))), "message": str(p.get("msg", ""))}
        for p in problems
    ]
    return validation_error(details)


def to_api_error(error: BaseException) -> ApiError:
    """The one mapping from what the code raises to what the client reads."""
    if isinstance(error, ApiError):
        return error
    too_large = error if isinstance(error, BodyTooLargeError) else error.__cause__
    if isinstance(too_large, BodyTooLargeError):
        return payload_too_large(too_large.limit)
    if isinstance(error, RequestValidationError):
        return _from_validation(error)
    if isinstance(error, ClientDisconnect):
        # The client hung up while sending its body: nobody reads this reply, and it is the
        # client's doing, so it must not be logged as our failure.
        return ApiError(400, "MALFORMED_REQUEST", "The client disconnected before sending the body")
    if isinstance(error, IdempotencyConflict):
        return ApiError(
            409, "IDEMPOTENCY_CONFLICT", str(error), details={"external_id": error.external_id}
        )
    if isinstance(error, NotFound):
        return not_found(str(error) or "Not found")
    if isinstance(error, WindowClosed):
        return ApiError(409, "WINDOW_CLOSED", str(error) or "The service window is closed")
    if isinstance(error, Conflict):
        return ApiError(409, "CONFLICT", str(error) or "Conflict")
    if isinstance(error, StarletteHTTPException):
        if error.status_code == 404:
            return not_found()
        if error.status_code == 405:
            # keeps Starlette's ``Allow`` header (RFC 9110 requires it on a 405)
            headers = dict(error.headers or {})
            return ApiError(405, "METHOD_NOT_ALLOWED", "Method not allowed", headers=headers)
        if error.status_code == 400:  # a body FastAPI could not decode (not UTF-8, not a form)
            return ApiError(400, "MALFORMED_REQUEST", "The body could not be read")
        return ApiError(error.status_code, "HTTP_ERROR", str(error.detail))
    database_error = translate(error)  # what escaped the engine untranslated is matched too
    if isinstance(database_error, DatabaseUnavailable):
        return unavailable()
    if isinstance(database_error, UnstorableText):
        return validation_error(
            [{"field": "body", "message": "text with a NUL byte or an unpaired surrogate"}],
            "The request holds text that cannot be stored (a NUL byte or an unpaired surrogate)",
        )
    return ApiError(500, "INTERNAL", "Internal error")


def log_failure(request: Request, api_error: ApiError, error: BaseException) -> None:
    if api_error.status >= 500:
        log.error(
            "request failed: %s %s -> %s (%s)",
            request.method,
            request.url.path,
            api_error.status,
            type(error).__name__,
            exc_info=api_error.status == 500,
        )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path, for the ``Allow`` of a 405 (RFC 9110).

    Starlette names only the first matching route's methods, and a walk of ``app.routes`` reading
    each route's ``methods`` finds none in the installed FastAPI, which nests every included router
    in a route of its own. So each method is put to the routes through their own matching, which
    answers FULL for a path and method served, however the routes are nested.
    """
    scope = request.scope
    root_path = scope.get("app_root_path", scope.get("root_path", ""))
    methods: set[str] = set()
    for method in HTTPMethod:
        probe = {
            "type": "http",
            "method": method.value,
            "path": scope["path"],
            "root_path": root_path,
            "headers": scope.get("headers", []),
        }
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method.value)
    if "GET" in methods:
        methods.add("HEAD")  # HeadAsGetMiddleware answers HEAD wherever GET is served
    return ", ".join(sorted(methods))


HANDLED_ERRORS: tuple[type[Exception], ...] = (
    ApiError,
    RequestValidationError,
    StarletteHTTPException,
    IdempotencyConflict,
    NotFound,
    Conflict,
)
"""What a route raises that ``error_reply`` answers; anything else reaches the edge middleware,
which answers it from the same table (a 500 logged with its trace, a 503 for the database)."""


async def error_reply(request: Request, error: Exception) -> Response:
    """The reply to a known exception raised while serving ``request``."""
    api_error = to_api_error(error)
    if api_error.status == 405:
        api_error = replace(api_error, headers={"Allow": _allowed_methods(request)})
    log_failure(request, api_error, error)
    return render(request, api_error)


def install_error_handlers(app: FastAPI) -> None:
    """Known exceptions are answered here; anything else by the edge middleware (same table)."""
    for kind in HANDLED_ERRORS:
        app.add_exception_handler(kind, error_reply)
