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
        description="VALIDATION_ERROR, MALFORMED_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, "
        "METHOD_NOT_ALLOWED, IDEMPOTENCY_CONFLICT, CONFLICT, WINDOW_CLOSED, PAYLOAD_TOO_LARGE, "
        "RATE_LIMITED, "
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
    "description": "Error envelope: 400 MALFORMED_REQUEST, 401 UNAUTHORIZED, 403 FORBIDDEN "
    "(a dashboard-cookie change from another origin), 404 NOT_FOUND, "
    "409 CONFLICT, IDEMPOTENCY_CONFLICT or WINDOW_CLOSED, 413 PAYLOAD_TOO_LARGE, "
    "422 VALIDATION_ERROR, "
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
                _examples_for(operation, schemas)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _envelope_for_422(responses: dict[str, Any]) -> None:
    content = responses.get("422", {}).get("content", {}).get("application/json", {})
    if content.get("schema", {}).get("$ref") == _FASTAPI_422:
        content["schema"] = {"$ref": _REF}


def _examples_for(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Give each JSON request and success body an example, built from its schema (SPEC §8 asks
    for examples on every native route); an example written by hand is kept."""
    bodies = [operation.get("requestBody", {})]
    bodies += [r for code, r in operation.get("responses", {}).items() if code.startswith("2")]
    for body in bodies:
        media = body.get("content", {}).get("application/json")
        if media is None or "example" in media or "examples" in media or "schema" not in media:
            continue
        media["example"] = example_of(media["schema"], schemas)


def example_of(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """A plausible value for ``schema``: its own examples first, then enums, then by type."""
    if depth > 20:
        return None
    if "$ref" in schema:
        return example_of(schemas.get(schema["$ref"].rsplit("/", 1)[-1], {}), schemas, depth + 1)
    for key in ("example", "default"):
        if schema.get(key) is not None:
            return schema[key]
    if schema.get("examples"):
        examples = schema["examples"]
        return examples[0] if isinstance(examples, list) else next(iter(examples.values()))
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        choices = [c for c in schema.get(key, []) if c.get("type") != "null"]
        if choices:
            return example_of(choices[0], schemas, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: _by_name(name, sub) or example_of(sub, schemas, depth + 1)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), schemas, depth + 1)]
    return _SCALARS.get(str(schema.get("format")), _SCALARS.get(str(kind)))


def _by_name(name: str, schema: dict[str, Any]) -> Any:
    """Readable values for the fields every native API shares, when their schema says string."""
    text = schema.get("type") == "string" or any(
        c.get("type") == "string" for c in schema.get("anyOf", [])
    )
    if not text or "enum" in schema or "$ref" in schema:
        return None
    if name == "id" or (name.endswith("_id") and name != "external_id"):
        return "42"
    if name.endswith("_at"):
        return "2026-05-10T14:23:01.245Z"
    return _NAMED.get(name)


_NAMED: dict[str, str] = {
    "phone_number": "+33612345678",
    "caller_phone_number": "+33612345678",
    "external_id": "pbx-call-9f3a2",
    "name": "Le Petit Zinc",
    "slug": "le-petit-zinc",
    "country": "FR",
    "timezone": "Europe/Paris",
    "token": "rb_partner_…",
    "next_cursor": "eyJvIjoiMjAyNi0wNS0xMFQxNDoyMzowMS4yNDVaIiwiaSI6NDJ9.x",
    "last_error": "HTTP 500",
}

_SCALARS: dict[str, Any] = {
    "date-time": "2026-05-10T14:23:01.245Z",
    "string": "string",
    "integer": 1,
    "number": 1.0,
    "boolean": False,
}
