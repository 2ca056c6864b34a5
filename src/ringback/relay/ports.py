"""The relay's values between its statements and its service (to be folded into relay/)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from ringback.messages.ports import NewMessage
from ringback.relay.model import CallEvent, Outcome, TemplateType


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
