"""The conversations' statements (SPEC §10). Storing a batch of inbound messages is two
set-based statements per restaurant, whatever the batch's size: the senders' customers and
conversations (matched or created, locked in number order), then the messages with everything
they change in the same statement — the conversation rows the inbox lists (last message, unread
count, window) and the ``replied_at`` of the calls they answer. A staff reply is one statement
too: its outbox message (``messages.queries``), its thread entry and the conversation row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    insert,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnClause

from ringback.conversations.model import (
    LAST_TEXT_CHARS,
    Direction,
    InboundMessage,
    InboxFilters,
    Position,
    ReplyState,
)
from ringback.db.tables import call, conversation, conversation_message, customer, message
from ringback.db.tables import message_event as event
from ringback.messages.queries import enqueue_text
from ringback.relay.model import Disposition

_TS = DateTime(timezone=True)
REPLY_WINDOW = dt.timedelta(days=7)
"""A missed call is replied by the customer's first message within this after its text was sent."""
_ACCEPTED = ("sent", "delivered", "read")
_INBOUND: ColumnClause[str] = literal_column(f"'{Direction.INBOUND.value}'")
_OUTBOUND: ColumnClause[str] = literal_column(f"'{Direction.OUTBOUND.value}'")


@dataclass(frozen=True, slots=True)
class Sender:
    """A batch's sender in one restaurant, with the conversation their messages go to."""

    phone_number: str
    customer_id: int
    conversation_id: int


# --- storing inbound messages ------------------------------------------------------------------


def _senders_statement() -> Select[Any]:
    """Match or create each sender's customer, then their conversation; both rows stay locked
    (taken in number order, so two webhooks never wait on each other in a cycle)."""
    item = (
        func.unnest(
            bindparam("s_phones", type_=ARRAY(Text)),
            bindparam("s_names", type_=ARRAY(Text)),
            bindparam("s_newest", type_=ARRAY(_TS)),
        )
        .table_valued(
            column("phone_number", Text), column("profile_name", Text), column("newest", _TS)
        )
        .render_derived(name="item")
    )
    restaurant_id = bindparam("s_restaurant_id", type_=BigInteger)
    new_customer = pg_insert(customer).from_select(
        ["restaurant_id", "phone_number"],
        select(restaurant_id, item.c.phone_number).order_by(item.c.phone_number),
    )
    matched = (
        new_customer.on_conflict_do_update(
            index_elements=[customer.c.restaurant_id, customer.c.phone_number],
            set_={"phone_number": new_customer.excluded.phone_number},
        )
        .returning(customer.c.id, customer.c.phone_number)
        .cte("matched")
    )
    new_conversation = pg_insert(conversation).from_select(
        ["restaurant_id", "customer_id", "profile_name", "updated_at"],
        select(restaurant_id, matched.c.id, item.c.profile_name, item.c.newest)
        .select_from(matched.join(item, item.c.phone_number == matched.c.phone_number))
        .order_by(matched.c.phone_number),
    )
    opened = (
        new_conversation.on_conflict_do_update(
            index_elements=[conversation.c.restaurant_id, conversation.c.customer_id],
            set_={
                "profile_name": func.coalesce(
                    new_conversation.excluded.profile_name, conversation.c.profile_name
                )
            },
        )
        .returning(conversation.c.id, conversation.c.customer_id)
        .cte("opened")
    )
    return select(opened.c.id, opened.c.customer_id, matched.c.phone_number).select_from(
        opened.join(matched, matched.c.id == opened.c.customer_id)
    )


def _replied(stored_senders: Any, restaurant_id: Any) -> Any:
    """Set ``replied_at`` on the missed calls these messages reply to (SPEC §10): a call whose
    message the provider accepted, at the first of the customer's messages within 7 days after
    it was sent. An earlier message arriving late moves ``replied_at`` back to it."""
    sent_at = (
        select(func.min(event.c.created_at))
        .where(event.c.message_id == message.c.id, event.c.status.in_(_ACCEPTED))
        .scalar_subquery()
        .label("sent_at")
    )
    sends = (
        select(call.c.id.label("call_id"), call.c.customer_id, sent_at)
        .select_from(call.join(message, message.c.call_id == call.c.id))
        .where(
            call.c.restaurant_id == restaurant_id,
            call.c.customer_id.in_(select(stored_senders.c.customer_id)),
            call.c.disposition == literal_column(f"'{Disposition.MISSED.value}'"),
            message.c.status.in_([literal_column(f"'{s}'") for s in _ACCEPTED]),
        )
        .subquery("sends")
    )
    # provider timestamps are whole seconds: a message of the same second as the send counts
    hits = (
        select(sends.c.call_id, func.min(stored_senders.c.sent_at).label("first_at"))
        .select_from(
            stored_senders.join(sends, sends.c.customer_id == stored_senders.c.customer_id)
        )
        .where(
            stored_senders.c.sent_at >= func.date_trunc("second", sends.c.sent_at),
            stored_senders.c.sent_at < sends.c.sent_at + REPLY_WINDOW,
        )
        .group_by(sends.c.call_id)
        .cte("hits")
    )
    return (
        update(call)
        .where(
            call.c.id == hits.c.call_id,
            (call.c.replied_at.is_(None)) | (call.c.replied_at > hits.c.first_at),
        )
        .values(replied_at=hits.c.first_at, updated_at=func.now())
        .returning(call.c.id)
        .cte("replied")
    )


def _messages_statement() -> Select[Any]:
    """Store the messages (a provider id already stored for this restaurant is skipped), then
    bring each conversation they reach up to date and mark the calls they reply to."""
    item = (
        func.unnest(
            bindparam("m_provider_ids", type_=ARRAY(Text)),
            bindparam("m_conversation_ids", type_=ARRAY(BigInteger)),
            bindparam("m_customer_ids", type_=ARRAY(BigInteger)),
            bindparam("m_types", type_=ARRAY(Text)),
            bindparam("m_texts", type_=ARRAY(Text)),
            bindparam("m_media_ids", type_=ARRAY(Text)),
            bindparam("m_media_mime_types", type_=ARRAY(Text)),
            bindparam("m_context_ids", type_=ARRAY(Text)),
            bindparam("m_details", type_=ARRAY(Text)),
            bindparam("m_sent_ats", type_=ARRAY(_TS)),
            bindparam("m_positions", type_=ARRAY(BigInteger)),
        )
        .table_valued(
            column("provider_message_id", Text),
            column("conversation_id", BigInteger),
            column("customer_id", BigInteger),
            column("type", Text),
            column("text", Text),
            column("media_id", Text),
            column("media_mime_type", Text),
            column("context_id", Text),
            column("details", Text),
            column("sent_at", _TS),
            column("position", BigInteger),
        )
        .render_derived(name="item")
    )
    restaurant_id = bindparam("m_restaurant_id", type_=BigInteger)
    m = conversation_message.c
    stored = (
        pg_insert(conversation_message)
        .from_select(
            [
                "restaurant_id", "conversation_id", "direction", "type", "text", "media_id",
                "media_mime_type", "context_id", "provider_message_id", "details", "sent_at",
            ],
            select(
                restaurant_id, item.c.conversation_id, _INBOUND, item.c.type, item.c.text,
                item.c.media_id, item.c.media_mime_type, item.c.context_id,
                item.c.provider_message_id, cast(item.c.details, JSONB), item.c.sent_at,
            # in the batch's order, so messages of one second keep it (copies of one webhook
            # carry the same items in the same order: they take the same locks in that order)
            ).order_by(item.c.position),
        )
        .on_conflict_do_nothing(index_elements=[m.restaurant_id, m.provider_message_id])
        .returning(m.id, m.conversation_id, m.provider_message_id, m.type, m.text, m.sent_at)
        .cte("stored")
    )  # fmt: skip
    rank = (
        func.row_number()
        .over(
            partition_by=stored.c.conversation_id,
            order_by=(stored.c.sent_at.desc(), stored.c.id.desc()),
        )
        .label("rank")
    )
    ranked = select(stored, rank).subquery("ranked")
    newest = select(ranked).where(ranked.c.rank == 1).cte("newest")
    counts = (
        select(stored.c.conversation_id, func.count().label("n"))
        .group_by(stored.c.conversation_id)
        .cte("counts")
    )
    c = conversation.c
    later = c.last_at.is_(None) | (newest.c.sent_at >= c.last_at)
    touched = (
        update(conversation)
        .where(
            c.id == newest.c.conversation_id,
            counts.c.conversation_id == newest.c.conversation_id,
        )
        .values(
            unread_count=c.unread_count + counts.c.n,
            last_inbound_at=func.greatest(c.last_inbound_at, newest.c.sent_at),
            last_direction=case((later, _INBOUND), else_=c.last_direction),
            last_type=case((later, newest.c.type), else_=c.last_type),
            last_text=case((later, func.left(newest.c.text, LAST_TEXT_CHARS)), else_=c.last_text),
            last_at=func.greatest(c.last_at, newest.c.sent_at),
            updated_at=func.greatest(c.updated_at, newest.c.sent_at),
        )
        .returning(c.id)
        .cte("touched")
    )
    stored_senders = (
        select(item.c.customer_id, item.c.sent_at)
        .select_from(stored.join(item, item.c.provider_message_id == stored.c.provider_message_id))
        .cte("stored_senders")
    )
    replied = _replied(stored_senders, restaurant_id)
    return select(stored.c.provider_message_id, stored.c.type).add_cte(touched, replied)


_SENDERS = _senders_statement()
_MESSAGES = _messages_statement()


async def open_conversations(
    conn: AsyncConnection,
    restaurant_id: int,
    messages: Sequence[InboundMessage],
    profile_names: Mapping[str, str],
) -> dict[str, Sender]:
    """The senders' customers and conversations in this restaurant, by E.164 sender."""
    newest: dict[str, dt.datetime] = {}
    for inbound in messages:
        newest[inbound.sender] = max(inbound.sent_at, newest.get(inbound.sender, inbound.sent_at))
    phones = sorted(newest)
    rows = await conn.execute(
        _SENDERS,
        {
            "s_restaurant_id": restaurant_id,
            "s_phones": phones,
            "s_names": [profile_names.get(phone) for phone in phones],
            "s_newest": [newest[phone] for phone in phones],
        },
    )
    return {row.phone_number: Sender(row.phone_number, row.customer_id, row.id) for row in rows}


async def store_messages(
    conn: AsyncConnection,
    restaurant_id: int,
    messages: Sequence[InboundMessage],
    senders: Mapping[str, Sender],
) -> list[tuple[str, str]]:
    """Store the messages not stored yet; returns (provider id, type) of each one stored now."""
    # one provider id once per batch: a batch may repeat an item, the table keeps it once
    unique = list({m.provider_message_id: m for m in messages}.values())
    params: dict[str, Any] = {
        "m_restaurant_id": restaurant_id,
        "m_provider_ids": [m.provider_message_id for m in unique],
        "m_conversation_ids": [senders[m.sender].conversation_id for m in unique],
        "m_customer_ids": [senders[m.sender].customer_id for m in unique],
        "m_types": [m.type.value for m in unique],
        "m_texts": [m.text for m in unique],
        "m_media_ids": [m.media_id for m in unique],
        "m_media_mime_types": [m.media_mime_type for m in unique],
        "m_context_ids": [m.context_id for m in unique],
        "m_details": [json.dumps(dict(m.details)) for m in unique],
        "m_sent_ats": [m.sent_at for m in unique],
        "m_positions": list(range(len(unique))),
    }
    rows = await conn.execute(_MESSAGES, params)
    return [(row.provider_message_id, row.type) for row in rows]


# --- the inbox -------------------------------------------------------------------------------

CONVERSATION_COLUMNS = [
    conversation.c.id,
    conversation.c.customer_id,
    conversation.c.profile_name,
    conversation.c.last_direction,
    conversation.c.last_type,
    conversation.c.last_text,
    conversation.c.last_at,
    conversation.c.last_inbound_at,
    conversation.c.unread_count,
    conversation.c.read_at,
    conversation.c.updated_at,
    customer.c.phone_number.label("cu_phone_number"),
    customer.c.name.label("cu_name"),
    customer.c.opted_out_at.label("cu_opted_out_at"),
    customer.c.bad_actor.label("cu_bad_actor"),
]
_WITH_CUSTOMER = conversation.join(customer, customer.c.id == conversation.c.customer_id)


def inbox_page(
    restaurant_id: int, filters: InboxFilters, after: Position | None, limit: int
) -> Select[Any]:
    """A page of the inbox, newest activity first: a range of ``ix_conversation_inbox`` (or of
    ``ix_conversation_unread``, whose predicate the literal 0 lets any plan prove)."""
    where = [conversation.c.restaurant_id == restaurant_id]
    if filters.unread is True:
        where.append(conversation.c.unread_count > literal_column("0"))
    elif filters.unread is False:
        where.append(conversation.c.unread_count == literal_column("0"))
    if filters.phone is not None:
        # the customer's own restaurant too: (restaurant_id, phone_number) is their unique index
        where += [
            customer.c.restaurant_id == restaurant_id,
            customer.c.phone_number == filters.phone,
        ]
    if after is not None:
        where.append(
            tuple_(conversation.c.updated_at, conversation.c.id)
            < tuple_(after.updated_at, after.conversation_id)
        )
    return (
        select(*CONVERSATION_COLUMNS)
        .select_from(_WITH_CUSTOMER)
        .where(and_(*where))
        .order_by(conversation.c.updated_at.desc(), conversation.c.id.desc())
        .limit(limit)
    )


def one_conversation(restaurant_id: int, conversation_id: int) -> Select[Any]:
    return (
        select(*CONVERSATION_COLUMNS)
        .select_from(_WITH_CUSTOMER)
        .where(
            conversation.c.id == conversation_id,
            conversation.c.restaurant_id == restaurant_id,
        )
    )


def mark_read(restaurant_id: int, conversation_id: int) -> Any:
    return (
        update(conversation)
        .where(
            conversation.c.id == conversation_id,
            conversation.c.restaurant_id == restaurant_id,
        )
        .values(unread_count=0, read_at=func.now())
        .returning(conversation.c.id)
    )


# --- the thread ------------------------------------------------------------------------------


def _entries(*message_columns: Any) -> Select[Any]:
    m = conversation_message.c
    with_outbox = conversation_message.outerjoin(message, message.c.id == m.message_id)
    return select(
        m.id, m.direction, m.type, m.text, m.media_id, m.media_mime_type, m.context_id,
        m.provider_message_id.label("cm_provider_message_id"), m.details, m.sent_at,
        *message_columns,
    ).select_from(with_outbox)  # fmt: skip


def thread_entries(conversation_id: int, *message_columns: Any) -> Select[Any]:
    """The conversation's own messages (inbound, staff replies with their outbox row), in time
    order: a range of ``ix_conversation_message_conversation_id_sent_at_id``."""
    m = conversation_message.c
    return (
        _entries(*message_columns)
        .where(m.conversation_id == conversation_id)
        .order_by(m.sent_at, m.id)
    )


def thread_entry(entry_id: int, *message_columns: Any) -> Select[Any]:
    return _entries(*message_columns).where(conversation_message.c.id == entry_id)


def templates_of(restaurant_id: int, customer_id: int, *message_columns: Any) -> Select[Any]:
    """The templates sent for the customer's calls, with when the provider accepted each (its
    first ``sent``, ``delivered`` or ``read`` event)."""
    sent_at = (
        select(func.min(event.c.created_at))
        .where(event.c.message_id == message.c.id, event.c.status.in_(_ACCEPTED))
        .scalar_subquery()
    )
    return (
        select(
            call.c.id.label("call_id"),
            message.c.created_at.label("m_created_at"),
            message.c.parameters.label("m_parameters"),
            sent_at.label("m_sent_at"),
            *message_columns,
        )
        .select_from(call.join(message, message.c.call_id == call.c.id))
        .where(call.c.restaurant_id == restaurant_id, call.c.customer_id == customer_id)
    )


# --- a staff reply ---------------------------------------------------------------------------


def reply_state(restaurant_id: int, conversation_id: int) -> Select[Any]:
    """What the reply's checks read, with the customer's row locked until the reply commits: an
    opt-out (which writes that row) waits for it, or came first. The conversation's row is taken
    later, by the reply's own update: customer then conversation, the order in which a webhook
    takes them (``_senders_statement``), so the two never wait on each other in a cycle."""
    return (
        select(
            conversation.c.id,
            conversation.c.customer_id,
            conversation.c.last_inbound_at,
            customer.c.phone_number,
            customer.c.opted_out_at,
            customer.c.bad_actor,
        )
        .select_from(_WITH_CUSTOMER)
        .where(
            conversation.c.id == conversation_id,
            conversation.c.restaurant_id == restaurant_id,
        )
        .with_for_update(of=customer, key_share=True)
    )


def reply_state_of(row: Any) -> ReplyState:
    return ReplyState(
        conversation_id=row.id,
        customer_id=row.customer_id,
        phone_number=row.phone_number,
        opted_out=row.opted_out_at is not None,
        bad_actor=row.bad_actor,
        last_inbound_at=row.last_inbound_at,
    )


def _reply_statement() -> Select[Any]:
    """The text's outbox message and events (``messages.queries.enqueue_text``), its thread
    entry, and the conversation's last message: one statement."""
    created, logged = enqueue_text()
    conversation_id = bindparam("r_conversation_id", type_=BigInteger)
    body = bindparam("t_body", type_=Text)
    entry = (
        insert(conversation_message)
        .from_select(
            ["restaurant_id", "conversation_id", "direction", "type", "text", "message_id",
             "sent_at"],
            select(
                bindparam("t_restaurant_id", type_=BigInteger), conversation_id, _OUTBOUND,
                literal_column("'text'"), body, created.c.id, created.c.created_at,
            ),
        )
        .returning(conversation_message.c.id, conversation_message.c.message_id)
        .cte("entry")
    )  # fmt: skip
    c = conversation.c
    touched = (
        update(conversation)
        .where(c.id == conversation_id)
        .values(
            last_direction=_OUTBOUND,
            last_type=literal_column("'text'"),
            last_text=func.left(body, LAST_TEXT_CHARS),
            last_at=func.now(),
            updated_at=func.greatest(c.updated_at, func.now()),
        )
        .returning(c.id)
        .cte("touched")
    )
    return (
        select(created.c.id.label("message_id"), entry.c.id.label("entry_id"), created.c.created_at)
        .select_from(created.join(entry, entry.c.message_id == created.c.id))
        .add_cte(logged, touched)
    )


REPLY = _reply_statement()
