"""WhatsApp wire -> receipts and inbound texts."""

from __future__ import annotations

import datetime as dt

from ringback.doors.whatsapp.schemas import InboundMessage, Status, WebhookIn
from ringback.http.inputs import in_client_range, parse_id
from ringback.messages.states import (
    REPORTABLE,
    InboundText,
    MessageStatus,
    Receipt,
    WhatsAppChange,
    describe_error,
)

BUSINESS_ACCOUNT = "whatsapp_business_account"


def _time(unix: str | None, received_at: dt.datetime) -> dt.datetime:
    """Meta's timestamps are Unix seconds as strings; a missing or odd one reads as now, and so
    does one outside the client range (SPEC §3): a batch of statuses is not refused for one."""
    seconds = parse_id(unix or "")
    if seconds is None:
        return received_at
    try:
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return received_at
    return moment if in_client_range(moment) else received_at


def _receipt(status: Status, received_at: dt.datetime) -> Receipt | None:
    try:
        reported = MessageStatus(status.status.strip().lower())
    except ValueError:
        return None  # "deleted", "warning" and future statuses move nothing
    if reported not in REPORTABLE:
        return None
    error = None
    if reported is MessageStatus.FAILED:
        first = status.errors[0] if status.errors else None
        error = describe_error(first.code if first else None, first.title if first else None)
    return Receipt(status.id, reported, _time(status.timestamp, received_at), error)


def _text(message: InboundMessage) -> str | None:
    if message.text is not None:
        return message.text.body
    if message.button is not None:
        return message.button.text
    return None


def to_changes(body: WebhookIn, received_at: dt.datetime) -> list[WhatsAppChange]:
    if body.object not in (None, BUSINESS_ACCOUNT):
        return []
    changes: list[WhatsAppChange] = []
    for entry in body.entry:
        for change in entry.changes:
            value = change.value
            if value is None or value.metadata is None or not value.metadata.phone_number_id:
                continue
            receipts = [r for s in value.statuses if (r := _receipt(s, received_at))]
            texts = [
                InboundText(m.from_, text, _time(m.timestamp, received_at))
                for m in value.messages
                if (text := _text(m)) is not None
            ]
            changes.append(WhatsAppChange(value.metadata.phone_number_id, receipts, texts))
    return changes
