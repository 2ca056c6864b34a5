"""Wire models of the ops API: ids as strings, timestamps as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ringback.messages.states import MessageStatus
from ringback.relay.model import Direction, Disposition, Outcome, Source, TemplateType


class TimelineEventOut(BaseModel):
    status: str = Field(examples=["sending"])
    attempt: int
    detail: str | None = Field(description="provider message id, error, or why it moved")
    at: str


class MessageOut(BaseModel):
    id: str
    status: MessageStatus
    attempts: int
    next_attempt_at: str | None = Field(description="when a queued message is due; else null")
    provider_message_id: str | None
    last_error: str | None
    updated_at: str


class MessageDetailOut(MessageOut):
    template_name: str | None
    timeline: list[TimelineEventOut]


class CustomerOut(BaseModel):
    id: str
    phone_number: str
    name: str | None
    opted_out: bool
    bad_actor: bool


class ReservationOut(BaseModel):
    id: str
    external_id: str
    start_at: str
    party_size: int
    status: str


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


class CallDetailOut(CallOut):
    message: MessageDetailOut | None


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


class StatsTotalsOut(BaseModel):
    calls: int
    missed: int
    outcomes: dict[str, int]
    messages: MessageCounts
    recovered: int
    recovery_rate: float | None = Field(description="recovered / missed; null when missed is 0")
    delivery_rate: float | None = Field(description="delivered / sent; null when sent is 0")


class StatsOut(BaseModel):
    bucket: str
    timezone: str
    buckets: list[StatsBucketOut]
    totals: StatsTotalsOut


class StatsReply(BaseModel):
    data: StatsOut
