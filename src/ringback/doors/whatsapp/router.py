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
from ringback.http.deps import AppSettings, Inbound
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
async def receive(request: Request, settings: AppSettings, inbound: Inbound) -> dict[str, str]:
    """Delivery receipts and customers' messages, signed with the app secret; 200 once stored.
    A malformed item is skipped (and logged); a database failure answers 5xx with nothing
    applied, so Meta delivers the webhook again."""
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
    skipped: list[str] = []
    changes = wire.to_changes(body, dt.datetime.now(dt.UTC), skipped)
    for reason in skipped:
        log.warning("whatsapp webhook: skipped %s", reason)
    summary = await inbound.receive(changes)
    receipts = summary.receipts
    log.info(
        "whatsapp webhook: %d moved, %d kept, %d messages stored, %d repeated, %d opt-outs, "
        "%d opt-ins, %d skipped, %d changes ignored",
        len(receipts.moved),
        receipts.pending,
        len(summary.stored),
        summary.repeated,
        receipts.opted_out,
        receipts.opted_in,
        len(skipped),
        receipts.ignored_changes,
    )
    return {"status": "ok"}
