"""CCAI's error shape: every error under its prefixes is ``{"message": "…"}`` (SPEC §6)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ringback.http.errors import ApiError

PREFIXES = ("/apps/api/v1", "/manager/api/v1")

_FIXED = {
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def not_valid(field: str) -> ApiError:
    return bad_request(f"{field} is not valid")


def unauthorized() -> ApiError:
    return ApiError(401, "UNAUTHORIZED", "Unauthorized", headers={"WWW-Authenticate": "Basic"})


def conflict(message: str) -> ApiError:
    return ApiError(409, "CONFLICT", message)


def _field_of(error: ApiError) -> str:
    details = error.details if isinstance(error.details, list) else []
    field = str(details[0].get("field", "")) if details and isinstance(details[0], dict) else ""
    parts = [p for p in field.split(".") if p not in ("body", "query", "path", "header")]
    return parts[-1] if parts else "request"


def render_ccai_error(request: Request, error: ApiError) -> Response:
    """Render any ApiError raised under the CCAI prefixes in CCAI's shape."""
    status = error.status
    headers = dict(error.headers)
    if status == 422:
        status, message = 400, f"{_field_of(error)} is not valid"
    elif status == 400 and error.code == "MALFORMED_REQUEST":
        message = "Request body is not valid JSON"
    elif status in _FIXED:
        message = _FIXED[status]
    elif status > 500:
        status, message = 503, _FIXED[503]
    else:
        message = error.message
    if status == 401:
        headers["WWW-Authenticate"] = "Basic"
    return JSONResponse({"message": message}, status_code=status, headers=headers)
