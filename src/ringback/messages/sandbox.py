"""A stand-in for the Graph API on loopback (`ringback serve --sandbox`, SPEC §1).

It accepts every message (templates, and the free-form texts of staff replies), logs it and
answers as the Graph API does, so the demo works on a machine with no internet. The app mounts
``router`` under ``/_sandbox/graph`` only when ``settings.sandbox`` is true; the access token is
never logged, nor the words of a text.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("ringback.sandbox")

router = APIRouter(include_in_schema=False)


def _graph_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "OAuthException", "code": 100}},
        status_code=status,
    )


def _template_summary(body: dict[str, Any]) -> tuple[str | None, list[str]]:
    template = body.get("template")
    if not isinstance(template, dict):
        return None, []
    texts: list[str] = []
    for component in template.get("components") or []:
        if isinstance(component, dict):
            texts.extend(
                str(p.get("text")) for p in component.get("parameters") or [] if isinstance(p, dict)
            )
    name = template.get("name")
    return (str(name) if name is not None else None), texts


@router.post("/{version}/{phone_number_id}/messages")
async def accept_message(version: str, phone_number_id: str, request: Request) -> JSONResponse:
    """Accept the message and answer like ``POST /{version}/{phone_number_id}/messages``."""
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return _graph_error(400, "(#100) The request body is not valid JSON")
    if not isinstance(body, dict):
        return _graph_error(400, "(#100) The request body must be a JSON object")
    to = str(body.get("to") or "")
    if not to:
        return _graph_error(400, "(#100) The parameter to is required.")
    message_id = f"wamid.sandbox.{uuid.uuid4().hex}"
    template, parameters = _template_summary(body)
    text = body.get("text")
    if isinstance(text, dict):  # a free-form text (a staff reply): its length, not its words
        log.info(
            "sandbox accepted message %s for %s via %s: text of %d characters",
            message_id,
            to,
            phone_number_id,
            len(str(text.get("body") or "")),
            extra={
                "graph_version": version,
                "phone_number_id": phone_number_id,
                "to": to,
                "provider_message_id": message_id,
            },
        )
        return _accepted(to, message_id)
    log.info(
        "sandbox accepted message %s for %s via %s: template=%s parameters=%s",
        message_id,
        to,
        phone_number_id,
        template,
        parameters,
        extra={
            "graph_version": version,
            "phone_number_id": phone_number_id,
            "to": to,
            "template": template,
            "provider_message_id": message_id,
        },
    )
    return _accepted(to, message_id)


def _accepted(to: str, message_id: str) -> JSONResponse:
    return JSONResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
            "messages": [{"id": message_id, "message_status": "accepted"}],
        }
    )
