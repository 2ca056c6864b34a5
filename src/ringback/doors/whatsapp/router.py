"""Routes of ``/webhooks/whatsapp``: the subscription handshake and the signed event POSTs."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError

from ringback.doors.whatsapp import wire
from ringback.doors.whatsapp.auth import check_handshake, check_signature
from ringback.doors.whatsapp.schemas import WebhookIn
from ringback.http.deps import AppSettings, Receipts
from ringback.http.errors import ApiError

router = APIRouter(prefix="/webhooks/whatsapp", tags=["webhooks"])
log = logging.getLogger("ringback.webhooks.whatsapp")


@router.get("", response_class=PlainTextResponse)
async def handshake(
    settings: AppSettings,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Meta's subscription check: echo `hub.challenge` when `hub.verify_token` is ours."""
    expected = settings.whatsapp_verify_token
    return PlainTextResponse(check_handshake(mode, token, challenge, expected))


@router.post("")
async def receive(request: Request, settings: AppSettings, receipts: Receipts) -> dict[str, str]:
    """Delivery receipts and customer messages, signed with the app secret; 200 once applied."""
    raw = await request.body()
    check_signature(
        raw,
        request.headers.get("x-hub-signature-256"),
        settings.whatsapp_app_secret,
    )
    try:
        body = WebhookIn.model_validate_json(raw)
    except ValidationError as error:
        raise ApiError(400, "MALFORMED_REQUEST", "Not a WhatsApp webhook payload") from error
    summary = await receipts.handle(wire.to_changes(body, dt.datetime.now(dt.UTC)))
    log.info(
        "whatsapp webhook: %d moved, %d kept, %d opt-outs, %d opt-ins, %d changes ignored",
        len(summary.moved),
        summary.pending,
        summary.opted_out,
        summary.opted_in,
        summary.ignored_changes,
    )
    return {"status": "ok"}
