"""Ports: what the services need from the outside world, as Protocols."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from ringback.domain.model import CallEvent, Outcome, Template, TemplateType


@dataclass(frozen=True, slots=True)
class StoredCall:
    """The call row as the relay needs it after recording a notification."""

    id: int
    caller_phone_number: str
    claimed: bool
    """This notification won the right to decide (first missed notification for the key)."""
    decided: bool
    customer_id: int | None
    reservation_id: int | None
    template_type: TemplateType | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    name: str | None
    suppressed: bool


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: int
    start_at: dt.datetime
    party_size: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    restaurant_id: int
    customer_id: int
    to_phone_number: str
    template_type: TemplateType
    template: Template
    parameters: Sequence[str]
    due_at: dt.datetime
    inline_lease: InlineLease | None = None
    """Set when the request sends the message itself: it is written already leased to it."""


@dataclass(frozen=True, slots=True)
class InlineLease:
    token: uuid.UUID
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CallerLookup:
    """What a missed report's first statement matches for its caller (SPEC §3)."""

    phone_number: str
    """E.164: the customer is matched or created by it."""
    reservations_from: dt.datetime
    reservations_until: dt.datetime
    lock: bool
    """Take the caller's decision lock: the report may reach the cooldown rule."""


@dataclass(frozen=True, slots=True)
class CallerFacts:
    customer: CustomerRecord
    reservation: ReservationRecord | None


@dataclass(frozen=True, slots=True)
class CooldownWindow:
    """Another missed call of this number with a live message in [earliest, latest] blocks."""

    restaurant_id: int
    phone_number: str
    earliest: dt.datetime
    latest: dt.datetime


@dataclass(frozen=True, slots=True)
class CallVerdict:
    """The decision to store with the call (before the cooldown check may overrule it)."""

    outcome: Outcome
    customer_id: int | None
    reservation_id: int | None
    template_type: TemplateType | None


@dataclass(frozen=True, slots=True)
class DecidedCall:
    call: StoredCall
    in_cooldown: bool
    """This report claimed the decision and the cooldown overruled it: ``SKIPPED_COOLDOWN``."""
    message_id: int | None


class RelayStore(Protocol):
    """The relay's reads and writes, all inside one transaction."""

    async def record_call(
        self,
        restaurant_id: int,
        event: CallEvent,
        caller_phone_number: str,
        customer_id: int | None,
    ) -> StoredCall:
        """Record an answered or other notification: such a report never decides. The row takes
        ``customer_id`` unless it already has a customer."""
        ...

    async def match_caller(self, restaurant_id: int, caller: CallerLookup) -> CallerFacts:
        """The customer (matched or created), their reservation and, with ``caller.lock``, the
        caller's decision lock, held until the transaction ends."""
        ...

    async def match_or_create_customer(
        self, restaurant_id: int, phone_number: str
    ) -> CustomerRecord: ...

    async def decide_call(
        self,
        restaurant_id: int,
        event: CallEvent,
        caller_phone_number: str,
        claim_token: uuid.UUID,
        verdict: CallVerdict,
        message: NewMessage | None = None,
        cooldown: CooldownWindow | None = None,
    ) -> DecidedCall:
        """Record a missed report and, if it claims the call's decision, store ``verdict`` and
        ``message`` with it — unless ``cooldown`` finds a live message of the caller: then the
        call is ``SKIPPED_COOLDOWN`` and no message is written. A report that does not claim
        (a replay, an answered call) changes no decision."""
        ...

    async def mark_answered(
        self,
        restaurant_id: int,
        customer_id: int,
        answered_at: dt.datetime,
        since: dt.datetime,
    ) -> int: ...

    async def mark_recovered(self, restaurant_id: int, call_id: int, at: dt.datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction. Only the unit of work commits; leaving without commit rolls back."""

    @property
    def relay(self) -> RelayStore: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message a dispatcher holds under lease, with what the provider call needs."""

    id: int
    lease_token: uuid.UUID
    attempts: int
    phone_number_id: str
    access_token: str
    to_phone_number: str
    template_name: str
    template_language: str
    parameters: Sequence[str]


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider's answer: accepted (with its message id) or refused, transiently or for good."""

    provider_message_id: str | None = None
    error: str | None = None
    transient: bool = False

    @property
    def accepted(self) -> bool:
        return self.provider_message_id is not None


class MessageSender(Protocol):
    async def send(self, message: ClaimedMessage) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class CallReply:
    """The outcome a request replies for its call, stored with the move that decides it."""

    call_id: int
    outcome: Outcome


class Outbox(Protocol):
    """Durable message state; each method is its own short transaction."""

    async def claim_due(self, limit: int, lease_seconds: float) -> list[ClaimedMessage]:
        """Lease what is due; a message whose customer is suppressed now is cancelled instead
        (SPEC §3, suppression at send time) and not returned."""
        ...

    async def mark_sent(
        self, message: ClaimedMessage, provider_message_id: str, reply: CallReply | None = None
    ) -> bool:
        """With ``reply``, the call's outcome is written with the move (an inline send)."""
        ...

    async def mark_retry(
        self, message: ClaimedMessage, error: str, next_attempt_at: dt.datetime
    ) -> bool: ...

    async def mark_failed(
        self, message: ClaimedMessage, error: str, reply: CallReply | None = None
    ) -> bool: ...


class Metrics(Protocol):
    """What the services report for monitoring; the HTTP edge exposes it (SPEC §8 /metrics)."""

    def call_recorded(
        self, source: str, direction: str, disposition: str, outcome: str | None
    ) -> None: ...

    def message_moved(self, status: str, count: int = 1) -> None: ...

    def dispatch_observed(self, result: str, seconds: float) -> None: ...


class NoMetrics:
    """Metrics that go nowhere (unit tests, tools)."""

    def call_recorded(
        self, source: str, direction: str, disposition: str, outcome: str | None
    ) -> None:
        return None

    def message_moved(self, status: str, count: int = 1) -> None:
        return None

    def dispatch_observed(self, result: str, seconds: float) -> None:
        return None
