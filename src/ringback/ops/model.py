"""What operations staff read and do (SPEC §8): call records with their customer, reservation
and message, the filters and positions of the list, a customer's opt-out state. Values only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ringback.messages.states import MessageStatus
from ringback.messages.timeline import TimelineEntry as TimelineEntry
from ringback.relay.model import Direction, Disposition, Outcome, Source, TemplateType


@dataclass(frozen=True, slots=True)
class CallFilters:
    """Every filter of ``GET /api/ops/v1/calls``; an empty tuple or None means no filter."""

    sources: tuple[Source, ...] = ()
    directions: tuple[Direction, ...] = ()
    dispositions: tuple[Disposition, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    message_statuses: tuple[MessageStatus, ...] = ()
    phone: str | None = None
    """As the call record stores it: E.164 when valid, else the trimmed raw string."""
    occurred_from: dt.datetime | None = None
    occurred_to: dt.datetime | None = None
    recovered: bool | None = None
    replied: bool | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ends, in the list's order (occurred_at DESC, id DESC)."""

    occurred_at: dt.datetime
    call_id: int


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    id: int
    phone_number: str
    name: str | None
    opted_out_at: dt.datetime | None
    bad_actor: bool


@dataclass(frozen=True, slots=True)
class ReservationInfo:
    id: int
    external_id: str
    start_at: dt.datetime
    party_size: int
    status: str


@dataclass(frozen=True, slots=True)
class MessageInfo:
    id: int
    status: MessageStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    provider_message_id: str | None
    last_error: str | None
    updated_at: dt.datetime
    template_name: str | None = None
    timeline: tuple[TimelineEntry, ...] | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: int
    source: Source
    external_id: str | None
    direction: Direction
    disposition: Disposition
    caller_phone_number: str
    occurred_at: dt.datetime
    created_at: dt.datetime
    outcome: Outcome | None
    template_type: TemplateType | None
    customer_id: int | None
    reservation_id: int | None
    recovered_at: dt.datetime | None
    message: MessageInfo | None
    customer: CustomerInfo | None = None
    reservation: ReservationInfo | None = None
    replied_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One line of ``calls.csv``: the call with its message's status and attempts."""

    id: int
    source: str
    external_id: str | None
    direction: str
    disposition: str
    caller_phone_number: str
    occurred_at: dt.datetime
    created_at: dt.datetime
    outcome: str | None
    template_type: str | None
    customer_id: int | None
    reservation_id: int | None
    message_status: str | None
    message_attempts: int | None
    recovered_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class CustomerState:
    id: int
    phone_number: str
    name: str | None
    opted_out_at: dt.datetime | None
    bad_actor: bool
    updated_at: dt.datetime


class RetryResult(StrEnum):
    REQUEUED = "requeued"
    NOT_FOUND = "not_found"
    NOT_FAILED = "not_failed"
    SUPPRESSED = "suppressed"
    """Failed, but its customer opted out or is a bad actor: it must not be sent (SPEC §3)."""
