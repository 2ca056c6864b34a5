"""The OpenAPI document says what the native routes really answer when they refuse a request.

Every native route (``/api/…``) may answer the error envelope of SPEC §4 — 401, 404, 409, 413,
429, 503 … — from the auth, the body limit or the database, whatever the route itself declares.
FastAPI documents only what each route declares, and its own ``HTTPValidationError`` for 422,
which is not the shape we send. ``document_native_errors`` fixes the document in one place: a
``default`` response with the envelope on every native operation, and the envelope for 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

NATIVE_PREFIXES = ("/api/",)


class NativeErrorDetail(BaseModel):
    field: str = Field(examples=["body.caller_phone_number"])
    message: str


class NativeErrorBody(BaseModel):
    code: str = Field(
        examples=["VALIDATION_ERROR"],
        description="VALIDATION_ERROR, MALFORMED_REQUEST, UNAUTHORIZED, NOT_FOUND, "
        "METHOD_NOT_ALLOWED, IDEMPOTENCY_CONFLICT, CONFLICT, PAYLOAD_TOO_LARGE, RATE_LIMITED, "
        "UNAVAILABLE, INTERNAL",
    )
    message: str
    request_id: str
    details: list[NativeErrorDetail] | dict[str, Any] | None = None


class NativeError(BaseModel):
    """The error envelope of every native API."""

    error: NativeErrorBody


_REF = "#/components/schemas/NativeError"
_DEFAULT = {
    "description": "Error envelope: 400 MALFORMED_REQUEST, 401 UNAUTHORIZED, 404 NOT_FOUND, "
    "409 CONFLICT or IDEMPOTENCY_CONFLICT, 413 PAYLOAD_TOO_LARGE, 422 VALIDATION_ERROR, "
    "429 RATE_LIMITED (with Retry-After), 503 UNAVAILABLE (with Retry-After), 500 INTERNAL",
    "content": {"application/json": {"schema": {"$ref": _REF}}},
}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def document_native_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the native error envelope (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = FastAPI.openapi(app)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        generated = NativeError.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(generated.pop("$defs", {}))
        schemas["NativeError"] = generated
        for path, operations in document.get("paths", {}).items():
            if not path.startswith(NATIVE_PREFIXES):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault("default", _DEFAULT)
                _envelope_for_422(responses)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _envelope_for_422(responses: dict[str, Any]) -> None:
    content = responses.get("422", {}).get("content", {}).get("application/json", {})
    if content.get("schema", {}).get("$ref") == _FASTAPI_422:
        content["schema"] = {"$ref": _REF}
