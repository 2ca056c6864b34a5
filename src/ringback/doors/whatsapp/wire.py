"""WhatsApp wire -> receipts and the customers' messages (``conversations.model``).

Each ``statuses[]``, ``messages[]`` and ``contacts[]`` item is read on its own: a malformed one
is skipped (its reason added to ``skipped``, which the route logs) and the rest of the batch is
kept. Text that PostgreSQL cannot store (a NUL character) is kept with U+FFFD in its place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ringback.conversations.model import MEDIA_TYPES, InboundMessage, InboundType, WebhookChange
from ringback.doors.whatsapp import schemas
from ringback.doors.whatsapp.schemas import Media, Status, Value, WebhookIn
from ringback.http.inputs import in_client_range, parse_id
from ringback.messages.states import REPORTABLE, MessageStatus, Receipt, describe_error
from ringback.relay.phone import whatsapp_sender

BUSINESS_ACCOUNT = "whatsapp_business_account"
_KNOWN_TYPES = {t.value: t for t in InboundType if t is not InboundType.OTHER}
_REPLACEMENT = "\ufffd"
M = TypeVar("M", bound=BaseModel)


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


def _clean(value: Any) -> Any:
    """``value`` with every string storable: PostgreSQL holds no NUL in text or jsonb."""
    if isinstance(value, str):
        return value.replace("\x00", _REPLACEMENT)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _read(model: type[M], item: Any, what: str, skipped: list[str]) -> M | None:
    try:
        return model.model_validate(item)
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "item" for e in error.errors()})
        skipped.append(f"{what}: malformed ({', '.join(fields)})")
        return None


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


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _content(item: schemas.InboundMessage, kind: InboundType) -> dict[str, Any]:
    """text, media, context and details of one message, by its type."""
    if kind is InboundType.TEXT:
        return {"text": item.text.body if item.text else None}
    if kind is InboundType.BUTTON:
        button = item.button
        return {
            "text": button.text if button else None,
            "details": _present(payload=button.payload if button else None),
        }
    if kind is InboundType.INTERACTIVE:
        return _interactive(item.interactive)
    if kind in MEDIA_TYPES:
        media: Media | None = getattr(item, kind.value)
        if media is None:
            return {}
        return {
            "text": media.caption,
            "media_id": media.id,
            "media_mime_type": media.mime_type,
            "details": _present(
                sha256=media.sha256,
                filename=media.filename,
                voice=media.voice,
                animated=media.animated,
            ),
        }
    if kind is InboundType.LOCATION:
        place = item.location
        return {"details": place.model_dump(exclude_none=True) if place else {}}
    if kind is InboundType.CONTACTS:
        return {"details": {"contacts": item.contacts or []}}
    if kind is InboundType.REACTION:
        reaction = item.reaction
        # the reacted-to message is the reaction's context; an empty emoji removes a reaction
        return {
            "text": reaction.emoji if reaction else None,
            "context_id": reaction.message_id if reaction else None,
        }
    errors = [_present(code=e.code, title=e.title) for e in item.errors]
    return {"details": _present(provider_type=item.type, errors=errors or None)}


def _interactive(interactive: schemas.Interactive | None) -> dict[str, Any]:
    if interactive is None:
        return {}
    reply = interactive.button_reply or interactive.list_reply
    if reply is not None:
        return {
            "text": reply.title,
            "details": _present(
                interactive_type=interactive.type, reply_id=reply.id, description=reply.description
            ),
        }
    flow = interactive.nfm_reply
    if flow is not None:
        return {
            "text": flow.body,
            "details": _present(
                interactive_type=interactive.type, name=flow.name, response_json=flow.response_json
            ),
        }
    return {"details": _present(interactive_type=interactive.type)}


def _inbound(
    item: schemas.InboundMessage, received_at: dt.datetime, skipped: list[str]
) -> InboundMessage | None:
    sender = whatsapp_sender(item.from_)
    if sender is None:
        skipped.append(f"message {item.id!r}: the sender is not a phone number")
        return None
    kind = _KNOWN_TYPES.get(item.type or "", InboundType.OTHER)
    content = _content(item, kind)
    context = item.context
    details = dict(content.pop("details", {}))
    if context is not None:
        details.update(_present(forwarded=context.forwarded or None))
        details.update(_present(frequently_forwarded=context.frequently_forwarded or None))
        content.setdefault("context_id", context.id)
    return InboundMessage(
        provider_message_id=_clean(item.id),
        sender=sender,
        type=kind,
        sent_at=_time(item.timestamp, received_at),
        text=_clean(content.get("text")),
        media_id=_clean(content.get("media_id")),
        media_mime_type=_clean(content.get("media_mime_type")),
        context_id=_clean(content.get("context_id")),
        details=_clean(details),
    )


def _profile_names(value: Value, skipped: list[str]) -> Mapping[str, str]:
    names: dict[str, str] = {}
    for index, raw in enumerate(value.contacts):
        contact = _read(schemas.Contact, raw, f"contacts[{index}]", skipped)
        if contact is None or not contact.wa_id or contact.profile is None:
            continue
        sender = whatsapp_sender(contact.wa_id)
        if sender is not None and contact.profile.name:
            names[sender] = _clean(contact.profile.name)
    return names


def _change(value: Value, received_at: dt.datetime, skipped: list[str]) -> WebhookChange | None:
    if value.metadata is None or not value.metadata.phone_number_id:
        return None
    receipts = []
    for index, raw in enumerate(value.statuses):
        status = _read(Status, raw, f"statuses[{index}]", skipped)
        if status is not None and (receipt := _receipt(status, received_at)) is not None:
            receipts.append(receipt)
    messages = []
    for index, raw in enumerate(value.messages):
        item = _read(schemas.InboundMessage, raw, f"messages[{index}]", skipped)
        if item is not None and (message := _inbound(item, received_at, skipped)) is not None:
            messages.append(message)
    return WebhookChange(
        value.metadata.phone_number_id, receipts, messages, _profile_names(value, skipped)
    )


def to_changes(
    body: WebhookIn, received_at: dt.datetime, skipped: list[str] | None = None
) -> list[WebhookChange]:
    """The changes of a webhook body; what could not be read is described in ``skipped``."""
    if body.object not in (None, BUSINESS_ACCOUNT):
        return []
    lost: list[str] = [] if skipped is None else skipped
    changes = []
    for entry in body.entry:
        for change in entry.changes:
            if change.value is not None and (read := _change(change.value, received_at, lost)):
                changes.append(read)
    return changes
