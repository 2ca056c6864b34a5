"""What the inbox reads back (SPEC §10): a conversation as the list shows it, a thread's messages
both ways with the outbox row of ours, and the customer's calls as the calls list renders them
(``ops.records``) — and how rows of ``queries.py`` become them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import RowMapping

from ringback.conversations.model import (
    Author,
    Direction,
    LastMessage,
    ReplyBlock,
    window_open_until,
)
from ringback.ops import records
from ringback.ops.model import CallRecord, CustomerInfo, MessageInfo

MESSAGE_COLUMNS = records.MESSAGE_COLUMNS
"""The outbox row of a message of ours, labelled as ``message_info`` reads it."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation as the inbox lists it."""

    id: int
    customer: CustomerInfo
    profile_name: str | None
    last_message: LastMessage | None
    unread: int
    last_inbound_at: dt.datetime | None
    read_at: dt.datetime | None
    updated_at: dt.datetime

    def window_open_until(self, now: dt.datetime) -> dt.datetime | None:
        return window_open_until(self.last_inbound_at, now)


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One message of a thread, either way. ``id`` is the conversation message's (None for a
    template, which belongs to its call); ``message`` is the outbox row of what we sent."""

    author: Author
    direction: Direction
    type: str
    text: str | None
    at: dt.datetime
    id: int | None = None
    provider_message_id: str | None = None
    media_id: str | None = None
    media_mime_type: str | None = None
    context_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    message: MessageInfo | None = None
    call_id: int | None = None
    template_name: str | None = None
    template_parameters: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation with all its messages in time order and the customer's calls."""

    conversation: Conversation
    messages: Sequence[ThreadMessage]
    calls: Sequence[CallRecord]
    reply_block: ReplyBlock | None


def conversation_of(row: RowMapping) -> Conversation:
    """A row selected with ``queries.CONVERSATION_COLUMNS``."""
    last = None
    if row["last_at"] is not None:
        last = LastMessage(
            Direction(row["last_direction"]), row["last_type"], row["last_text"], row["last_at"]
        )
    return Conversation(
        id=row["id"],
        customer=CustomerInfo(
            id=row["customer_id"],
            phone_number=row["cu_phone_number"],
            name=row["cu_name"],
            opted_out_at=row["cu_opted_out_at"],
            bad_actor=row["cu_bad_actor"],
        ),
        profile_name=row["profile_name"],
        last_message=last,
        unread=row["unread_count"],
        last_inbound_at=row["last_inbound_at"],
        read_at=row["read_at"],
        updated_at=row["updated_at"],
    )


def entry_of(row: RowMapping) -> ThreadMessage:
    """A row of ``queries.thread_entries`` (with ``MESSAGE_COLUMNS``)."""
    direction = Direction(row["direction"])
    sent = records.message_info(row)
    return ThreadMessage(
        author=Author.CUSTOMER if direction is Direction.INBOUND else Author.STAFF,
        direction=direction,
        type=row["type"],
        text=row["text"],
        at=row["sent_at"],
        id=row["id"],
        provider_message_id=row["cm_provider_message_id"]
        or (sent.provider_message_id if sent else None),
        media_id=row["media_id"],
        media_mime_type=row["media_mime_type"],
        context_id=row["context_id"],
        details=dict(row["details"] or {}),
        message=sent,
    )


def template_of(row: RowMapping) -> ThreadMessage:
    """A row of ``queries.templates_of`` (with ``MESSAGE_COLUMNS``): at when it was sent."""
    sent = records.message_info(row)
    return ThreadMessage(
        author=Author.TEMPLATE,
        direction=Direction.OUTBOUND,
        type="template",
        text=None,
        at=row["m_sent_at"] or row["m_created_at"],
        provider_message_id=sent.provider_message_id if sent else None,
        message=sent,
        call_id=row["call_id"],
        template_name=row["m_template_name"],
        template_parameters=list(row["m_parameters"] or ()),
    )
