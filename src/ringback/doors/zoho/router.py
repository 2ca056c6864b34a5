"""``POST /phonebridge/v3/callnotify``: Zoho PhoneBridge call notifications (SPEC §5).

Zoho's replies are its own JSON shapes, rendered for every error under ``/phonebridge``.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ringback.doors.zoho import wire
from ringback.doors.zoho.auth import ZohoCaller
from ringback.doors.zoho.schemas import (
    MANDATORY,
    PARAMETERS,
    ZohoError,
    ZohoErrorDetails,
    ZohoSuccess,
)
from ringback.errors import IdempotencyConflict
from ringback.http.deps import Relay
from ringback.http.errors import ApiError, register_renderer

PREFIX = "/phonebridge"
router = APIRouter(prefix=f"{PREFIX}/v3", tags=["zoho"])

_FORM_EXAMPLE = (
    "type=received&state=missed&id=callid123456&from=%2B33612345678&to=%2B33140000000"
    "&start_time=2026-05-10+12%3A23%3A00"
)


@router.post(
    "/callnotify",
    response_model=ZohoSuccess,
    responses={400: {"model": ZohoError}, 401: {"model": ZohoError}, 500: {"model": ZohoError}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": list(MANDATORY),
                        "properties": {name: {"type": "string"} for name in PARAMETERS},
                    },
                    "example": _FORM_EXAMPLE,
                }
            },
        }
    },
)  # fmt: skip
async def callnotify(request: Request, caller: ZohoCaller, relay: Relay) -> ZohoSuccess:
    """A call notification; success for every decided outcome, duplicates and skips included."""
    body = await request.body()
    wire.check_encoding(request.headers.get("content-type"), body)
    fields = wire.parse_form(body, request.url.query)
    event = wire.to_event(fields, dt.datetime.now(dt.UTC))
    try:
        await relay.handle(caller.restaurant, event)
    except IdempotencyConflict as exc:
        param = wire.customer_param(fields)
        raise wire.invalid_value(
            param, f"call id {event.external_id!r} has another number"
        ) from exc
    return ZohoSuccess()


def render_zoho_error(request: Request, error: ApiError) -> Response:
    """Every error under /phonebridge in Zoho's shape; internals never leak."""
    status, body = error.status, ZohoError(code="INTERNAL_ERROR")
    if error.status == 401:
        body = ZohoError(code="INVALID_OAUTHTOKEN")
    elif error.status == 413:
        status = 400
        body = ZohoError(
            code="INVALID_PARAM_VALUE",
            message=error.message,
            details=ZohoErrorDetails(params=["body"]),
        )
    elif error.status in (400, 422) and error.code in (
        "REQUIRED_PARAM_MISSING",
        "INVALID_PARAM_VALUE",
    ):
        body = ZohoError(code=error.code, message=error.message, details=error.details)
    elif error.status == 404:
        body = ZohoError(code="INVALID_URL_PATTERN", message="Please check if the URL is valid")
    elif error.status == 405:
        body = ZohoError(code="METHOD_NOT_ALLOWED", message="The method is not allowed")
    elif error.status == 429:
        body = ZohoError(code="TOO_MANY_REQUESTS", message=error.message)
    elif error.status >= 500:
        status = 500
    else:
        status, body = 400, ZohoError(code="INVALID_PARAM_VALUE", message=error.message)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=error.headers
    )


register_renderer(PREFIX, render_zoho_error)
