"""Route of ``/webhooks/telnyx/{restaurant_slug}``: verify, map, one relay call, 200."""

from __future__ import annotations

import contextlib
import datetime as dt

from fastapi import APIRouter, Request
from pydantic import ValidationError

from ringback.doors.telnyx import wire
from ringback.doors.telnyx.auth import check_signature
from ringback.doors.telnyx.schemas import WebhookIn
from ringback.errors import IdempotencyConflict
from ringback.http.deps import Calls, Relay, Tenancy
from ringback.http.errors import ApiError
from ringback.relay.model import Source

router = APIRouter(prefix="/webhooks/telnyx", tags=["webhooks"])


@router.post("/{restaurant_slug}")
async def receive(
    restaurant_slug: str, request: Request, tenancy: Tenancy, calls: Calls, relay: Relay
) -> dict[str, str]:
    """A Call Control v2 event signed with the restaurant's Telnyx key; 200 once recorded."""
    raw = await request.body()
    now = dt.datetime.now(dt.UTC)
    restaurant = check_signature(
        await tenancy.restaurant_by_slug(restaurant_slug),
        raw,
        request.headers.get("telnyx-signature-ed25519"),
        request.headers.get("telnyx-timestamp"),
        now,
    )
    try:
        body = WebhookIn.model_validate_json(raw)
    except ValidationError as error:
        # A webhook is no native API: one error, naming the fields it could not read (a date-time
        # outside the client range among them, SPEC §3), and nothing stored.
        details = [
            {"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"]}
            for e in error.errors()
            if e["loc"]
        ]
        raise ApiError(
            400, "MALFORMED_REQUEST", "Not a Telnyx webhook payload", details=details or None
        ) from error
    key = wire.session_id(body)
    if key is None:
        return {"status": "ignored"}
    known = await calls.find(restaurant.id, Source.TELNYX, key)
    event = wire.to_event(body, known, restaurant.country, now)
    if event is None:
        return {"status": "ignored"}
    # A report racing another with a different number for the same session: ignored, like any
    # later event of a session with another number.
    with contextlib.suppress(IdempotencyConflict):
        await relay.handle(restaurant, event)
    return {"status": "ok"}
