"""Every table and index, in one module: the rows as declared (what alembic compares the
migrations with), then the ``Table``s the statements use. Table names are singular snake_case;
every timestamp is timestamptz."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ringback.messages.states import MessageStatus

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


TZ = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(), primary_key=True)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(TZ, nullable=False, server_default=func.now())


class RestaurantRow(Base):
    __tablename__ = "restaurant"

    id: Mapped[int] = _id()
    slug: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    country: Mapped[str] = mapped_column(Text, nullable=False)
    timezone: Mapped[str] = mapped_column(Text, nullable=False)
    missed_calls_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true")
    )
    cooldown_hours: Mapped[float] = mapped_column(Float, nullable=False, server_default="6")
    max_call_age_hours: Mapped[float] = mapped_column(Float, nullable=False, server_default="24")
    send_delay_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    whatsapp: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    telnyx_public_key: Mapped[str | None] = mapped_column(Text)
    ccai: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class ApiTokenRow(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = _id()
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = _created()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(TZ)


class CustomerRow(Base):
    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("restaurant_id", "phone_number"),)

    id: Mapped[int] = _id()
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    phone_number: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    opted_out_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    bad_actor: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    repeat_customer: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class ReservationRow(Base):
    __tablename__ = "reservation"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "external_id"),
        Index(None, "customer_id", "start_at"),
    )

    id: Mapped[int] = _id()
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    start_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False)
    party_size: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class CallRow(Base):
    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "source", "external_id"),
        Index(None, "restaurant_id", "caller_phone_number", "occurred_at"),
        Index(None, "restaurant_id", "customer_id", "occurred_at"),
        # the list's keyset order, covering what the statistics read (index-only); migration 0005
        Index(
            "ix_call_ops_time",
            "restaurant_id",
            "occurred_at",
            "id",
            postgresql_include=["disposition", "outcome", "recovered_at"],
        ),
    )

    id: Mapped[int] = _id()
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    source: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text, nullable=False)
    disposition: Mapped[str] = mapped_column(Text, nullable=False)
    caller_raw: Mapped[str] = mapped_column(Text, nullable=False)
    caller_phone_number: Mapped[str] = mapped_column(Text, nullable=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservation.id"))
    occurred_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False)
    # the TimeRank of occurred_at: a later notification replaces it only with a surer time
    occurred_at_rank: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, server_default=text("0")
    )
    decision_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    outcome: Mapped[str | None] = mapped_column(Text)
    template_type: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    recovered_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    # the first WhatsApp message of the customer within 7 days after this call's message was sent
    # (SPEC §10); written by the webhook that stores that message, never by the intake
    replied_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class MessageRow(Base):
    __tablename__ = "message"
    __table_args__ = (
        # one message per call; the status rides along for the statistics (index-only)
        Index("ux_message_call_id", "call_id", unique=True, postgresql_include=["status"]),
        Index(
            "ix_message_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "ix_message_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'sending'"),
        ),
        Index(
            "ix_message_queued_customer",
            "restaurant_id",
            "customer_id",
            postgresql_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[int] = _id()
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    to_phone_number: Mapped[str] = mapped_column(Text, nullable=False)
    # A template answers a call: call_id and the template columns set, body null. A free-form
    # text (a staff reply, SPEC §10) has a body and nothing else of those. No column, default or
    # check says which: a report's message row is written and rewritten as it was before texts.
    template_type: Mapped[str | None] = mapped_column(Text)
    template_name: Mapped[str | None] = mapped_column(Text)
    template_language: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[list[str] | None] = mapped_column(JSONB)
    body: Mapped[str | None] = mapped_column(Text)
    """The text of a free-form message; null for a template."""
    status: Mapped[str] = mapped_column(Text, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False)
    lease_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    provider_message_id: Mapped[str | None] = mapped_column(Text, unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class MessageEventRow(Base):
    """The message's timeline: one row per status move or attempt."""

    __tablename__ = "message_event"
    __table_args__ = (Index(None, "message_id", "id"),)

    id: Mapped[int] = _id()
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()


class PendingReceiptRow(Base):
    """A receipt for a provider message id no message carries yet; applied at ``mark_sent``."""

    __tablename__ = "pending_receipt"
    __table_args__ = (UniqueConstraint("provider_message_id", "status"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider_message_id: Mapped[str] = mapped_column(Text, nullable=False)
    phone_number_id: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False, server_default=func.now())


class CcaiCallRow(Base):
    """One CCAI call; ``call_id`` is the relay's call row (source ``ccai``, external id = id)."""

    __tablename__ = "ccai_call"
    __table_args__ = (Index(None, "restaurant_id", "call_id"),)

    call_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("call.id", ondelete="CASCADE"), primary_key=True
    )
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"))
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    lang: Mapped[str] = mapped_column(Text, nullable=False)
    menu: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    agent: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    end_user_number: Mapped[str | None] = mapped_column(Text)
    out_ticket_id: Mapped[str | None] = mapped_column(Text)
    outbound_number: Mapped[str | None] = mapped_column(Text)
    fail_reason: Mapped[str] = mapped_column(Text, nullable=False, server_default="nothing")
    deflection: Mapped[str] = mapped_column(Text, nullable=False, server_default="no_deflection")
    voicemail_reason: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="not_voicemail"
    )
    queued_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    connected_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    ends_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(TZ)


class OpsSessionRow(Base):
    """A dashboard sign-in. The cookie carries a random id; only its hash is stored, beside the
    hash of the token that signed in (an ops token's row, or the admin token), which is checked
    again on every request: revoking the token ends its sessions."""

    __tablename__ = "ops_session"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        TZ, nullable=False, server_default=text("now()")
    )
    expires_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False, index=True)


class ConversationRow(Base):
    """The WhatsApp thread of one restaurant and one customer (SPEC §10). What the inbox lists is
    kept on the row — the last message, the unread count, the customer's last inbound time — and
    written by the statement that stores a message, so a page of the list is one index range."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("restaurant_id", "customer_id"),)

    id: Mapped[int] = _id()
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    profile_name: Mapped[str | None] = mapped_column(Text)
    """The sender's WhatsApp profile name, as their latest message gave it."""
    last_direction: Mapped[str | None] = mapped_column(Text)
    last_type: Mapped[str | None] = mapped_column(Text)
    last_text: Mapped[str | None] = mapped_column(Text)
    """The start of the last message's text (``LAST_TEXT_CHARS``), for the list."""
    last_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    """Provider time of the customer's latest message: the service window runs 24 h from it."""
    unread_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    read_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()
    """The time of the latest message either way: the list's order."""


class ConversationMessageRow(Base):
    """One message of a conversation: every inbound WhatsApp message, stored once per restaurant
    (``provider_message_id``), and every staff reply, whose outbox message is ``message_id``.
    The templates of the customer's calls are read from their calls, never copied here."""

    __tablename__ = "conversation_message"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "provider_message_id"),
        Index(None, "conversation_id", "sent_at", "id"),
    )

    id: Mapped[int] = _id()
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False
    )
    direction: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    """What a type carries beside its text and media: a location, shared contacts, a button's
    payload, a list reply's id, a document's file name … (``conversations.model``)."""
    # declared after every use of sqlalchemy's text() in this class, which it shadows here
    text: Mapped[str | None] = mapped_column(Text)
    media_id: Mapped[str | None] = mapped_column(Text)
    media_mime_type: Mapped[str | None] = mapped_column(Text)
    context_id: Mapped[str | None] = mapped_column(Text)
    """The provider id of the message this one replies (or reacts) to."""
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), unique=True
    )
    sent_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False)
    """The provider's timestamp of an inbound message; the time a staff reply was written."""
    created_at: Mapped[dt.datetime] = _created()


# --- the tables, as SQLAlchemy Core statements use them -----------------------------------

restaurant = cast(Table, RestaurantRow.__table__)
api_token = cast(Table, ApiTokenRow.__table__)
customer = cast(Table, CustomerRow.__table__)
reservation = cast(Table, ReservationRow.__table__)
call = cast(Table, CallRow.__table__)
message = cast(Table, MessageRow.__table__)
message_event = cast(Table, MessageEventRow.__table__)
pending_receipt = cast(Table, PendingReceiptRow.__table__)
ccai_call = cast(Table, CcaiCallRow.__table__)
ops_session = cast(Table, OpsSessionRow.__table__)
conversation = cast(Table, ConversationRow.__table__)
conversation_message = cast(Table, ConversationMessageRow.__table__)

# What a request needs of its restaurant (``tenancy.model.restaurant_from_settings`` reads it)
RESTAURANT_SETTINGS = [c for c in restaurant.c if c.name not in ("created_at", "updated_at")]


# --- indexes declared beside the tables' own ---------------------------------------------

# The list is ordered by (occurred_at DESC, id DESC) inside one restaurant
# (ix_call_ops_time, migration 0005). A filter on a column with rare values
# would walk much of that index to fill a page, so each filterable column gets an index in the
# list's order; phone numbers use ix_call_restaurant_id_caller_phone_number_occurred_at (0001).
CALL_FILTER_INDEXES = (
    Index(
        "ix_call_ops_outcome", call.c.restaurant_id, call.c.outcome, call.c.occurred_at, call.c.id
    ),
    Index(
        "ix_call_ops_disposition",
        call.c.restaurant_id,
        call.c.disposition,
        call.c.occurred_at,
        call.c.id,
    ),
    Index("ix_call_ops_source", call.c.restaurant_id, call.c.source, call.c.occurred_at, call.c.id),
    Index(
        "ix_call_ops_direction",
        call.c.restaurant_id,
        call.c.direction,
        call.c.occurred_at,
        call.c.id,
    ),
    Index(
        "ix_call_ops_recovered",
        call.c.restaurant_id,
        call.c.occurred_at,
        call.c.id,
        postgresql_where=call.c.recovered_at.isnot(None),
    ),
    # replied calls, for the filter and the statistics' count (migration 0010): the intake writes
    # replied_at null, so a report adds no entry here; only the webhook that sets it does
    Index(
        "ix_call_ops_replied",
        call.c.restaurant_id,
        call.c.occurred_at,
        call.c.id,
        postgresql_where=call.c.replied_at.isnot(None),
    ),
)


# Statistics read (occurred_at, disposition, outcome, recovered_at) of a time range and each
# call's message status, both index-only: through ix_call_ops_time and ux_message_call_id
# (above), whose INCLUDE columns are there for them.
# Messages by status within a restaurant (the message_status filter starts from the messages).
MESSAGE_STATUS_INDEX = Index(
    "ix_message_ops_status", message.c.restaurant_id, message.c.status, message.c.call_id
)


# A status webhook names the business number (phone_number_id): its restaurants are found by it.
WHATSAPP_NUMBER_INDEX = Index(
    "ix_restaurant_whatsapp_phone_number_id",
    restaurant.c.whatsapp["phone_number_id"].astext,
)


# The inbox (SPEC §10): a restaurant's conversations, newest activity first, by keyset; and the
# same for those with unread messages, which may be few among many.
CONVERSATION_INDEXES = (
    Index(
        "ix_conversation_inbox",
        conversation.c.restaurant_id,
        conversation.c.updated_at.desc(),
        conversation.c.id.desc(),
    ),
    Index(
        "ix_conversation_unread",
        conversation.c.restaurant_id,
        conversation.c.updated_at.desc(),
        conversation.c.id.desc(),
        postgresql_where=conversation.c.unread_count > 0,
    ),
)


# --- expressions every slice's statements share ------------------------------------------


def message_status_is(status: str) -> ColumnElement[bool]:
    """``message.status = '<status>'`` with the value written into the SQL, not bound, so the
    planner can use the partial indexes above in any plan: a generic plan of a prepared statement
    cannot match a bound value against an index predicate."""
    return message.c.status == literal_column(f"'{MessageStatus(status).value}'")


def customer_suppressed() -> ColumnElement[bool]:
    """Rule 8 and the send-time check (SPEC §3): the customer opted out or is flagged a bad actor,
    whatever set it (ops, partner, WhatsApp STOP, CCAI flags)."""
    return customer.c.opted_out_at.is_not(None) | customer.c.bad_actor
