"""Wire models of the conversations API (SPEC §10) and how each renders its record: ids as
strings, timestamps as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (as the rest of the ops API)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ringback.conversations.model import (
    MAX_REPLY_CHARS,
    REPLY_BLOCK_MESSAGES,
    Author,
    Direction,
    ReplyBlock,
)
from ringback.conversations.records import Conversation, Thread, ThreadMessage
from ringback.http.formats import iso_z
from ringback.ops.schemas import CallOut, CustomerOut, MessageOut


class LastMessageOut(BaseModel):
    direction: Direction
    type: str = Field(examples=["text"], description="a message type, or `template`")
    text: str | None = Field(description="the start of its text (500 characters at most)")
    at: str


class ConversationOut(BaseModel):
    id: str
    customer: CustomerOut
    profile_name: str | None = Field(
        description="the sender's WhatsApp profile name, as their latest message gave it"
    )
    last_message: LastMessageOut | None
    unread: int = Field(description="inbound messages stored since the last read mark")
    window_open_until: str | None = Field(
        description="until when a free-form reply may be sent: 24 h after the customer's "
        "latest message; null when the window is closed"
    )
    read_at: str | None = Field(description="the last read mark")
    updated_at: str = Field(description="the time of the latest message either way")

    @classmethod
    def of(cls, c: Conversation, now: dt.datetime) -> ConversationOut:
        last = c.last_message
        return cls(
            id=str(c.id),
            customer=CustomerOut.of(c.customer),
            profile_name=c.profile_name,
            last_message=(
                LastMessageOut(
                    direction=last.direction, type=last.type, text=last.text, at=_at(last.at)
                )
                if last
                else None
            ),
            unread=c.unread,
            window_open_until=iso_z(c.window_open_until(now)),
            read_at=iso_z(c.read_at),
            updated_at=_at(c.updated_at),
        )


class ConversationsReply(BaseModel):
    data: list[ConversationOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class MediaOut(BaseModel):
    id: str | None = Field(description="the Graph API media id (not downloaded by Ringback)")
    mime_type: str | None


class QuotedOut(BaseModel):
    author: Author
    type: str
    text: str | None


class ContextOut(BaseModel):
    id: str = Field(description="provider id of the message this one replies or reacts to")
    quoted: QuotedOut | None = Field(description="that message, when it is in this thread")


class TemplateOut(BaseModel):
    name: str | None
    parameters: list[str]


class ThreadMessageOut(BaseModel):
    id: str | None = Field(description="null for a template (it belongs to its call)")
    author: Author = Field(description="customer, staff (a reply) or template (a missed call)")
    direction: Direction
    type: str = Field(
        examples=["text"],
        description="text, button, interactive, image, audio, video, document, sticker, "
        "location, contacts, reaction, other (inbound); text or template (outbound)",
    )
    text: str | None = Field(
        description="text body, button or reply title, caption, reaction emoji ('' removes one)"
    )
    at: str = Field(description="the provider's time of an inbound message; when we sent ours")
    provider_message_id: str | None
    media: MediaOut | None
    context: ContextOut | None
    details: dict[str, Any] = Field(
        description="what the type carries beside its text: a location, shared contacts, a "
        "button's payload, a reply's id, a document's file name, an unsupported type's name"
    )
    message: MessageOut | None = Field(description="ours: the outbox message and its status")
    call_id: str | None = Field(description="a template's call")
    template: TemplateOut | None

    @classmethod
    def of(cls, m: ThreadMessage, quoted: QuotedOut | None = None) -> ThreadMessageOut:
        media = None
        if m.media_id is not None or m.media_mime_type is not None:
            media = MediaOut(id=m.media_id, mime_type=m.media_mime_type)
        return cls(
            id=str(m.id) if m.id is not None else None,
            author=m.author,
            direction=m.direction,
            type=m.type,
            text=m.text,
            at=_at(m.at),
            provider_message_id=m.provider_message_id,
            media=media,
            context=ContextOut(id=m.context_id, quoted=quoted) if m.context_id else None,
            details=dict(m.details),
            message=MessageOut.of(m.message) if m.message else None,
            call_id=str(m.call_id) if m.call_id is not None else None,
            template=(
                TemplateOut(name=m.template_name, parameters=list(m.template_parameters))
                if m.author is Author.TEMPLATE
                else None
            ),
        )


class ReplyStateOut(BaseModel):
    allowed: bool = Field(description="whether a staff reply may be sent now")
    code: ReplyBlock | None = Field(description="why not: the reply would answer 409")
    message: str | None


class ConversationDetailOut(ConversationOut):
    messages: list[ThreadMessageOut] = Field(
        description="every message in time order, both ways: the customer's, staff replies and "
        "the templates of the customer's calls"
    )
    calls: list[CallOut] = Field(description="the customer's calls, oldest first (newest 500)")
    reply: ReplyStateOut

    @classmethod
    def of_thread(cls, t: Thread, now: dt.datetime) -> ConversationDetailOut:
        block = t.reply_block
        return cls(
            **ConversationOut.of(t.conversation, now).model_dump(),
            messages=render_messages(t.messages),
            calls=[CallOut.of(c) for c in t.calls],
            reply=ReplyStateOut(
                allowed=block is None,
                code=block,
                message=REPLY_BLOCK_MESSAGES[block] if block else None,
            ),
        )


class ConversationReply(BaseModel):
    data: ConversationDetailOut


class ReplyIn(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=MAX_REPLY_CHARS,
        description="the WhatsApp text to send, 1 to 4096 characters",
        examples=["Bonjour ! Oui, nous avons une table pour deux à 20 h. À ce soir !"],
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is blank")
        return value


class ThreadMessageReply(BaseModel):
    data: ThreadMessageOut


def render_messages(messages: Sequence[ThreadMessage]) -> list[ThreadMessageOut]:
    """Each message, with the one its context names when that one is in the thread."""
    by_provider_id: Mapping[str, ThreadMessage] = {
        m.provider_message_id: m for m in messages if m.provider_message_id
    }
    out = []
    for m in messages:
        target = by_provider_id.get(m.context_id) if m.context_id else None
        quoted = None
        if target is not None:
            quoted = QuotedOut(author=target.author, type=target.type, text=target.text)
        out.append(ThreadMessageOut.of(m, quoted))
    return out


def _at(moment: dt.datetime) -> str:
    return iso_z(moment) or ""
