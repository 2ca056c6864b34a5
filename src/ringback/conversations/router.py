"""Routes of ``/api/ops/v1/conversations`` (SPEC §10): thin — query to values, one use case,
records to wire. Authenticated as the rest of the ops API (``ops.auth``)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from ringback.conversations.examples import (
    DETAIL_REPLY,
    LIST_REPLY,
    REPLY_BODY,
    REPLY_REPLY,
    WINDOW_CLOSED,
)
from ringback.conversations.model import InboxFilters, Position
from ringback.conversations.schemas import (
    ConversationDetailOut,
    ConversationOut,
    ConversationReply,
    ConversationsReply,
    ReplyIn,
    ThreadMessageOut,
    ThreadMessageReply,
)
from ringback.conversations.service import ConversationsService
from ringback.http.deps import AppSettings, Clock, Db, Outbox, ServiceMetrics
from ringback.http.errors import not_found, validation_error
from ringback.http.inputs import parse_id
from ringback.ops.auth import OpsCaller, ops_caller
from ringback.ops.cursor import KeysetCursor
from ringback.relay.phone import read_number

router = APIRouter(prefix="/api/ops/v1/conversations", tags=["conversations"])
Caller = Annotated[OpsCaller, Depends(ops_caller)]
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_RESTAURANT_HELP = "required with the admin token; ignored otherwise"


def _json(example: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"example": example}}}


@cache
def _cursor_for(material: str) -> KeysetCursor:
    return KeysetCursor.from_secrets(material, purpose=b"ringback conversations cursor")


async def inbox_cursor(settings: AppSettings) -> KeysetCursor:
    """Keyed from the secrets every server process shares (as the calls list's), and apart from
    the calls list's: a calls cursor is not an inbox cursor."""
    admin = settings.admin_token.get_secret_value() if settings.admin_token else ""
    return _cursor_for(f"{settings.database_url}|{admin}")


Cursors = Annotated[KeysetCursor, Depends(inbox_cursor)]


async def conversations_service(
    db: Db, outbox: Outbox, clock: Clock, metrics: ServiceMetrics, settings: AppSettings
) -> ConversationsService:
    """Built from the shared services per request, as ops builds its own (``http/deps.py``
    knows no slice's store, so no door's imports reach ops through it)."""
    return ConversationsService(
        db,
        outbox,
        inline_timeout=settings.inline_dispatch_timeout,
        clock=clock,
        metrics=metrics,
    )


Conversations = Annotated[ConversationsService, Depends(conversations_service)]


def _problem(name: str, message: str) -> dict[str, str]:
    return {"field": f"query.{name}", "message": message}


def _filters(unread: str | None, phone: str | None, country: str) -> InboxFilters:
    problems = []
    flag = None
    word = (unread or "").strip().lower()
    if word in _TRUE:
        flag = True
    elif word in _FALSE:
        flag = False
    elif word:
        problems.append(_problem("unread", "expected true or false"))
    number = None
    if phone is not None and phone.strip():
        if len(phone) > 64:
            problems.append(_problem("phone", "at most 64 characters"))
        else:
            number = read_number(phone, country).display
    if problems:
        raise validation_error(problems)
    return InboxFilters(unread=flag, phone=number)


def _limit(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_LIMIT
    size = parse_id(raw.strip())
    if size is None or not 1 <= size <= MAX_LIMIT:
        raise validation_error([_problem("limit", f"an integer from 1 to {MAX_LIMIT}")])
    return size


def _id(raw: str) -> int:
    number = parse_id(raw)
    if number is None:
        raise not_found("Conversation not found")
    return number


@router.get("", response_model=ConversationsReply, responses={200: _json(LIST_REPLY)})
async def list_conversations(
    caller: Caller,
    conversations: Conversations,
    cursors: Cursors,
    unread: Annotated[
        str | None, Query(description="true: only conversations with unread messages")
    ] = None,
    phone: Annotated[
        str | None, Query(description="the customer's number, any format (national: ours)")
    ] = None,
    limit: Annotated[str | None, Query(description="1 to 100, default 50")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    restaurant_id: Annotated[str | None, Query(description=_RESTAURANT_HELP)] = None,
) -> ConversationsReply:
    """The restaurant's conversations, newest activity first, by keyset pages, each with its
    last message, unread count and customer service window."""
    restaurant = caller.restaurant
    filters = _filters(unread, phone, restaurant.country)
    size = _limit(limit)
    after = cursors.decode_at(restaurant.id, cursor)
    position = Position(*after) if after else None
    page, following = await conversations.list(restaurant, filters, position, size)
    now = conversations.now()
    return ConversationsReply(
        data=[ConversationOut.of(c, now) for c in page],
        next_cursor=(
            cursors.encode_at(restaurant.id, following.updated_at, following.conversation_id)
            if following
            else None
        ),
    )


@router.get(
    "/{conversation_id}", response_model=ConversationReply, responses={200: _json(DETAIL_REPLY)}
)
async def get_conversation(
    conversation_id: str,
    caller: Caller,
    conversations: Conversations,
    restaurant_id: Annotated[str | None, Query(description=_RESTAURANT_HELP)] = None,
) -> ConversationReply:
    """The conversation with every message in time order, both ways (the customer's with type,
    text, media and context; staff replies and templates with their status), the customer's
    calls, and whether a reply may be sent now (and why not)."""
    thread = await conversations.thread(caller.restaurant, _id(conversation_id))
    return ConversationReply(data=ConversationDetailOut.of_thread(thread, conversations.now()))


@router.post("/{conversation_id}/read", status_code=204, response_class=Response)
async def mark_read(
    conversation_id: str,
    caller: Caller,
    conversations: Conversations,
    restaurant_id: Annotated[str | None, Query(description=_RESTAURANT_HELP)] = None,
) -> Response:
    """Mark everything up to now read: `unread` drops to 0."""
    await conversations.mark_read(caller.restaurant, _id(conversation_id))
    return Response(status_code=204)


@router.post(
    "/{conversation_id}/messages",
    status_code=201,
    response_model=ThreadMessageReply,
    responses={
        201: _json(REPLY_REPLY),
        409: {
            "description": "`WINDOW_CLOSED`: more than 24 h since the customer's last message; "
            "`CONFLICT`: the customer opted out or is flagged bad_actor, or the restaurant "
            "has no WhatsApp credentials",
            **_json(WINDOW_CLOSED),
        },
    },
)
async def reply(
    conversation_id: str,
    caller: Caller,
    conversations: Conversations,
    body: Annotated[ReplyIn, Body(openapi_examples={"reply": {"value": REPLY_BODY}})],
    restaurant_id: Annotated[str | None, Query(description=_RESTAURANT_HELP)] = None,
) -> ThreadMessageReply:
    """Send a free-form WhatsApp text to the customer through the outbox (statuses, retries,
    status webhooks as every message). Allowed within 24 h of the customer's latest message and
    never to a suppressed customer. Replied with the message's first outcome: `sent`, `failed`,
    `queued` (a transient failure: the worker retries) or `sending` (still under way)."""
    sent = await conversations.reply(caller.restaurant, _id(conversation_id), body.text)
    return ThreadMessageReply(data=ThreadMessageOut.of(sent))
