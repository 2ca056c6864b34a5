"""Wire models of the ops API and how each renders its record: ids as strings, timestamps as
``YYYY-MM-DDTHH:MM:SS.mmmZ``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ringback.http.formats import iso_z
from ringback.messages.states import MessageStatus
from ringback.ops.model import (
    CallRecord,
    CustomerInfo,
    CustomerState,
    MessageInfo,
    ReservationInfo,
    TimelineEntry,
)
from ringback.ops.stats import Stats, StatsBucket, StatsTotals
from ringback.relay.model import Direction, Disposition, Outcome, Source, TemplateType


class TimelineEventOut(BaseModel):
    status: str = Field(examples=["sending"])
    attempt: int
    detail: str | None = Field(description="provider message id, error, or why it moved")
    at: str

    @classmethod
    def of(cls, e: TimelineEntry) -> TimelineEventOut:
        return cls(status=e.status, attempt=e.attempt, detail=e.detail, at=iso_z(e.at) or "")


class MessageOut(BaseModel):
    id: str
    status: MessageStatus
    attempts: int
    next_attempt_at: str | None = Field(description="when a queued message is due; else null")
    provider_message_id: str | None
    last_error: str | None
    updated_at: str

    @classmethod
    def of(cls, m: MessageInfo) -> MessageOut:
        return cls(
            id=str(m.id),
            status=m.status,
            attempts=m.attempts,
            next_attempt_at=iso_z(m.next_attempt_at),
            provider_message_id=m.provider_message_id,
            last_error=m.last_error,
            updated_at=iso_z(m.updated_at) or "",
        )


class MessageDetailOut(MessageOut):
    template_name: str | None
    timeline: list[TimelineEventOut]

    @classmethod
    def with_timeline(cls, m: MessageInfo) -> MessageDetailOut:
        return cls(
            **MessageOut.of(m).model_dump(),
            template_name=m.template_name,
            timeline=[TimelineEventOut.of(e) for e in m.timeline or ()],
        )


class CustomerOut(BaseModel):
    id: str
    phone_number: str
    name: str | None
    opted_out: bool
    bad_actor: bool

    @classmethod
    def of(cls, c: CustomerInfo) -> CustomerOut:
        return cls(
            id=str(c.id),
            phone_number=c.phone_number,
            name=c.name,
            opted_out=c.opted_out_at is not None,
            bad_actor=c.bad_actor,
        )


class ReservationOut(BaseModel):
    id: str
    external_id: str
    start_at: str
    party_size: int
    status: str

    @classmethod
    def of(cls, r: ReservationInfo) -> ReservationOut:
        return cls(
            id=str(r.id),
            external_id=r.external_id,
            start_at=iso_z(r.start_at) or "",
            party_size=r.party_size,
            status=r.status,
        )


class CallOut(BaseModel):
    id: str
    source: Source
    external_id: str | None
    direction: Direction
    disposition: Disposition
    caller_phone_number: str
    occurred_at: str
    created_at: str
    outcome: Outcome | None
    template_type: TemplateType | None
    customer: CustomerOut | None
    reservation: ReservationOut | None
    message: MessageOut | None
    recovered_at: str | None
    replied_at: str | None = Field(
        description="the customer's first WhatsApp message within 7 days after our message was "
        "sent; null when they have not replied"
    )

    @classmethod
    def of(cls, r: CallRecord) -> CallOut:
        return cls(**_call_fields(r), message=MessageOut.of(r.message) if r.message else None)


class CallDetailOut(CallOut):
    message: MessageDetailOut | None

    @classmethod
    def of(cls, r: CallRecord) -> CallDetailOut:
        detail = MessageDetailOut.with_timeline(r.message) if r.message is not None else None
        return cls(**_call_fields(r), message=detail)


def _call_fields(r: CallRecord) -> dict[str, Any]:
    """Every field of a call but its message, which the list and the detail render apart."""
    return {
        "id": str(r.id),
        "source": r.source,
        "external_id": r.external_id,
        "direction": r.direction,
        "disposition": r.disposition,
        "caller_phone_number": r.caller_phone_number,
        "occurred_at": iso_z(r.occurred_at) or "",
        "created_at": iso_z(r.created_at) or "",
        "outcome": r.outcome,
        "template_type": r.template_type,
        "customer": CustomerOut.of(r.customer) if r.customer else None,
        "reservation": ReservationOut.of(r.reservation) if r.reservation else None,
        "recovered_at": iso_z(r.recovered_at),
        "replied_at": iso_z(r.replied_at),
    }


class CallsReply(BaseModel):
    data: list[CallOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class CallReply(BaseModel):
    data: CallDetailOut


class MessageReply(BaseModel):
    data: MessageOut


class CustomerStateOut(BaseModel):
    id: str
    phone_number: str
    name: str | None
    opted_out: bool
    opted_out_at: str | None
    updated_at: str

    @classmethod
    def of(cls, c: CustomerState) -> CustomerStateOut:
        return cls(
            id=str(c.id),
            phone_number=c.phone_number,
            name=c.name,
            opted_out=c.opted_out_at is not None,
            opted_out_at=iso_z(c.opted_out_at),
            updated_at=iso_z(c.updated_at) or "",
        )


class CustomerReply(BaseModel):
    data: CustomerStateOut


class MessageCounts(BaseModel):
    sent: int = Field(description="accepted by the provider: now sent, delivered or read")
    delivered: int = Field(description="now delivered or read")
    read: int
    failed: int


class StatsBucketOut(BaseModel):
    start: str
    calls: int
    missed: int
    outcomes: dict[str, int]
    messages: MessageCounts
    recovered: int
    replied: int = Field(description="missed calls whose customer replied (SPEC §10)")

    @classmethod
    def of(cls, b: StatsBucket) -> StatsBucketOut:
        return cls(
            start=iso_z(b.start) or "",
            calls=b.calls,
            missed=b.missed,
            outcomes=b.outcomes,
            messages=MessageCounts(**b.messages),
            recovered=b.recovered,
            replied=b.replied,
        )


class StatsTotalsOut(BaseModel):
    calls: int
    missed: int
    outcomes: dict[str, int]
    messages: MessageCounts
    recovered: int
    replied: int = Field(description="missed calls whose customer replied (SPEC §10)")
    recovery_rate: float | None = Field(description="recovered / missed; null when missed is 0")
    delivery_rate: float | None = Field(description="delivered / sent; null when sent is 0")
    reply_rate: float | None = Field(description="replied / messages sent; null when sent is 0")

    @classmethod
    def of(cls, t: StatsTotals) -> StatsTotalsOut:
        return cls(
            calls=t.calls,
            missed=t.missed,
            outcomes=t.outcomes,
            messages=MessageCounts(**t.messages),
            recovered=t.recovered,
            replied=t.replied,
            recovery_rate=t.recovery_rate,
            delivery_rate=t.delivery_rate,
            reply_rate=t.reply_rate,
        )


class StatsOut(BaseModel):
    bucket: str
    timezone: str
    buckets: list[StatsBucketOut]
    totals: StatsTotalsOut

    @classmethod
    def of(cls, s: Stats) -> StatsOut:
        return cls(
            bucket=s.bucket.value,
            timezone=s.timezone,
            buckets=[StatsBucketOut.of(b) for b in s.buckets],
            totals=StatsTotalsOut.of(s.totals),
        )


class StatsReply(BaseModel):
    data: StatsOut
