"""Conversations (SPEC §10): what a customer wrote and the rules of answering. Values and pure
rules only (the window, the reply's refusal, the list's text); what the inbox reads back is
``records.py``. The WhatsApp door builds these values, so this module imports no other slice's
records (nor, through them, ops)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ringback.messages.states import Receipt

WINDOW = dt.timedelta(hours=24)
"""WhatsApp's customer service window: free-form messages until 24 h after the customer's last."""
MAX_REPLY_CHARS = 4096
LAST_TEXT_CHARS = 500
"""How much of the last message's text the conversation row keeps for the list."""


class InboundType(StrEnum):
    """``messages[].type`` as stored; anything else the Cloud API sends (``unsupported``,
    ``order``, ``system``, a future type) is ``other``, its own name kept in ``details``."""

    TEXT = "text"
    BUTTON = "button"
    INTERACTIVE = "interactive"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    OTHER = "other"


MEDIA_TYPES = frozenset(
    {InboundType.IMAGE, InboundType.AUDIO, InboundType.VIDEO, InboundType.DOCUMENT}
    | {InboundType.STICKER}
)
OPT_WORD_TYPES = frozenset({InboundType.TEXT, InboundType.BUTTON})
"""Where opt-out words are read (SPEC §7): text bodies and quick-reply buttons."""


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Author(StrEnum):
    """Who wrote a thread's message: the customer, staff (a reply), or the relay (a template)."""

    CUSTOMER = "customer"
    STAFF = "staff"
    TEMPLATE = "template"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One ``messages[]`` item as stored (SPEC §10). ``sender`` is E.164; ``text`` is the text
    body, the button or reply title, the caption or the reaction's emoji (empty: removed)."""

    provider_message_id: str
    sender: str
    type: InboundType
    sent_at: dt.datetime
    text: str | None = None
    media_id: str | None = None
    media_mime_type: str | None = None
    context_id: str | None = None
    """The provider id this one replies to, or reacts to."""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def opt_word(self) -> str | None:
        """The text an opt-out or opt-in word is read from, if any."""
        return self.text if self.type in OPT_WORD_TYPES else None


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """One ``entry[].changes[].value``: its business number, the receipts it carries and the
    customers' messages, with the profile names the ``contacts`` gave (by E.164 sender)."""

    phone_number_id: str
    receipts: Sequence[Receipt] = ()
    messages: Sequence[InboundMessage] = ()
    profile_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LastMessage:
    direction: Direction
    type: str
    text: str | None
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page of the inbox ends, in its order (updated_at DESC, id DESC)."""

    updated_at: dt.datetime
    conversation_id: int


@dataclass(frozen=True, slots=True)
class InboxFilters:
    unread: bool | None = None
    phone: str | None = None
    """As the customer row stores it (E.164 when valid)."""


class ReplyBlock(StrEnum):
    """Why a staff reply is refused now (409), as the thread tells a UI before it tries."""

    WINDOW_CLOSED = "WINDOW_CLOSED"
    OPTED_OUT = "OPTED_OUT"
    BAD_ACTOR = "BAD_ACTOR"
    NO_WHATSAPP = "NO_WHATSAPP"


REPLY_BLOCK_MESSAGES = {
    ReplyBlock.WINDOW_CLOSED: "The customer service window is closed: WhatsApp allows a "
    "free-form reply only within 24 hours of the customer's last message. The customer must "
    "write again first.",
    ReplyBlock.OPTED_OUT: "The customer opted out of WhatsApp messages from this restaurant "
    "(STOP): nothing can be sent to them until they opt back in (START).",
    ReplyBlock.BAD_ACTOR: "The customer is flagged bad_actor: messages to them are suppressed.",
    ReplyBlock.NO_WHATSAPP: "The restaurant has no WhatsApp phone_number_id and access_token "
    "to send with.",
}


@dataclass(frozen=True, slots=True)
class ReplyState:
    """What the reply's checks read, under the customer's row lock."""

    conversation_id: int
    customer_id: int
    phone_number: str
    opted_out: bool
    bad_actor: bool
    last_inbound_at: dt.datetime | None


def window_open_until(last_inbound_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """The end of the customer service window, or None when it is closed (or never opened)."""
    if last_inbound_at is None:
        return None
    until = last_inbound_at + WINDOW
    return until if now < until else None


def reply_block(
    *,
    opted_out: bool,
    bad_actor: bool,
    last_inbound_at: dt.datetime | None,
    can_send: bool,
    now: dt.datetime,
) -> ReplyBlock | None:
    """Why a free-form reply may not go now, first reason first; None when it may."""
    if opted_out:
        return ReplyBlock.OPTED_OUT
    if bad_actor:
        return ReplyBlock.BAD_ACTOR
    if window_open_until(last_inbound_at, now) is None:
        return ReplyBlock.WINDOW_CLOSED
    if not can_send:
        return ReplyBlock.NO_WHATSAPP
    return None


def list_text(text: str | None) -> str | None:
    """What the conversation row keeps of a message's text for the list."""
    return None if text is None else text[:LAST_TEXT_CHARS]
