"""Values and enums of the relay: what a call event is, what the rules decide (``Verdict``) and
what the relay replies for the stored call (``Decision``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the messages slice's values name the relay's enums: no import at run time
    from ringback.messages.ports import ClaimedMessage, NewMessage


class Source(StrEnum):
    PARTNER = "partner"
    ZOHO = "zoho"
    CCAI = "ccai"
    TELNYX = "telnyx"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Disposition(StrEnum):
    MISSED = "missed"
    ANSWERED = "answered"
    OTHER = "other"


class TimeRank(IntEnum):
    """How surely a notification knows when its call happened. The notifications of one call
    replace its time only with one ranked at least as high — equal only while the call is open
    (neither decided nor answered) — so the call keeps the time SPEC §3 names, in any order."""

    RECEIVED = 0
    """Not a time the source states for the call: when the notification came, or the time of a
    later stage of the call (an answer)."""
    STATED = 1
    """The time the source gives for the call (Zoho's ``start_time``, Telnyx ``call.initiated``)."""
    FINAL = 2
    """The time SPEC §3 puts above every other (a Telnyx hangup's ``start_time``)."""


class Outcome(StrEnum):
    SENT = "SENT"
    QUEUED = "QUEUED"
    FAILED = "FAILED"
    SKIPPED_DUPLICATE = "SKIPPED_DUPLICATE"
    SKIPPED_FEATURE_DISABLED = "SKIPPED_FEATURE_DISABLED"
    SKIPPED_HIDDEN_NUMBER = "SKIPPED_HIDDEN_NUMBER"
    SKIPPED_INVALID_NUMBER = "SKIPPED_INVALID_NUMBER"
    SKIPPED_NOT_MOBILE = "SKIPPED_NOT_MOBILE"
    SKIPPED_STALE = "SKIPPED_STALE"
    SKIPPED_NO_WHATSAPP = "SKIPPED_NO_WHATSAPP"
    SKIPPED_SUPPRESSED = "SKIPPED_SUPPRESSED"
    SKIPPED_COOLDOWN = "SKIPPED_COOLDOWN"
    SKIPPED_NO_TEMPLATE = "SKIPPED_NO_TEMPLATE"


class TemplateType(StrEnum):
    MISSED_CALL = "MISSED_CALL"
    MISSED_CALL_WITH_RESERVATION = "MISSED_CALL_WITH_RESERVATION"
    CALLBACK_UNANSWERED = "CALLBACK_UNANSWERED"


ACTIVE_RESERVATION_STATUSES = frozenset(
    {
        "PENDING",
        "PENDING_PAYMENT",
        "CONFIRMED",
        "CONFIRMED_PENDING_PAYMENT",
        "MANUALLY_CONFIRMED",
        "DOUBLE_CONFIRMED",
    }
)


@dataclass(frozen=True, slots=True)
class CallEvent:
    """What a door tells the relay about one call."""

    source: Source
    external_id: str | None
    direction: Direction
    disposition: Disposition
    raw_number: str
    occurred_at: dt.datetime
    forced_outcome: Outcome | None = None
    details: dict[str, object] | None = None
    recovers_call_id: int | None = None
    """An answered call that also recovers this call, whatever its age (CCAI callbacks)."""
    time_rank: TimeRank = TimeRank.RECEIVED
    """How surely ``occurred_at`` is the call's time (see ``TimeRank``)."""


@dataclass(frozen=True, slots=True)
class CallerFacts:
    """What the database knows of a valid reported number (SPEC §3): its customer, and their
    reservation of the window, if any. ``customer_id`` is None for a number that is not a
    customer yet: the decision statement creates it (name unknown, not suppressed, no booking)."""

    customer_id: int | None
    customer_name: str | None
    suppressed: bool
    """Opted out or flagged a bad actor (rule 8)."""
    reservation_id: int | None = None
    reservation_start_at: dt.datetime | None = None
    party_size: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules decide for a missed report (``rules.decide``).

    The two rules that need the database are applied by the statement that stores the verdict:
    the claim (rule 1) keeps only the first decision of a key, and a verdict that reached the
    cooldown rule carries the window that rule 9 checks, under the caller's lock
    (``rules.final_verdict`` tells what that statement makes of it).
    """

    outcome: Outcome
    customer_id: int | None = None
    reservation_id: int | None = None
    template_type: TemplateType | None = None
    message: NewMessage | None = None
    """The message to enqueue with the call (outcome ``QUEUED``)."""
    cooldown: tuple[dt.datetime, dt.datetime] | None = None
    """``(earliest, latest)``: another missed call of the number with a live message whose time
    lies strictly inside makes the call ``SKIPPED_COOLDOWN``."""


class Claim(StrEnum):
    """What the decision statement found for the report's ``(restaurant, source, external_id)``."""

    WON = "won"
    """This report decided the call."""
    COOLED = "cooled"
    """This report decided the call, and the cooldown overruled its verdict (rule 9)."""
    SUPPRESSED = "suppressed"
    """This report decided the call, and the customer, read again under the caller's lock, was
    suppressed by then (rule 8: an opt-out committed between the match and the decision)."""
    TAKEN = "taken"
    """An earlier report decided the call (rule 1)."""
    OPEN = "open"
    """The call was answered before this missed report: stored, never decided."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What the relay answers for one event: the stored call as replied."""

    call_id: int
    outcome: Outcome | None
    caller_phone_number: str
    customer_id: int | None
    reservation_id: int | None
    template_type: TemplateType | None
    created_at: dt.datetime
    message_id: int | None = None
    sending: ClaimedMessage | None = None
    """The message written leased to this request: sent after the commit (``RelayService``)."""
    cancelled: int = 0
    """Queued messages an answered call cancelled (counted after the commit)."""
