"""CCAI Platform (UJET) calls: call types, statuses, the allowed moves and what a move means for
the relay (SPEC §6). Pure values and rules; the restaurant's CCAI settings live in
``ringback.tenancy.ccai_settings``.
"""

from __future__ import annotations

from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException

from ringback.relay.phone import is_possible


class CallKind(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"
    SCHEDULED = "scheduled"

    @property
    def call_type(self) -> str:
        """The name the CCAI wire shows."""
        return CALL_TYPE_NAMES[self]


CALL_TYPE_NAMES: dict[CallKind, str] = {
    CallKind.OUTBOUND: "Voice Outbound (API)",
    CallKind.INBOUND: "Voice Inbound (API)",
    CallKind.SCHEDULED: "Voice Scheduled (API)",
}

# Every name a request may use for a call type: the current ones and the deprecated aliases.
CALL_TYPES: dict[str, CallKind] = {
    "Voice Outbound (API)": CallKind.OUTBOUND,
    "OutboundCall": CallKind.OUTBOUND,
    "Voice Inbound (API)": CallKind.INBOUND,
    "IncomingCall": CallKind.INBOUND,
    "Voice Scheduled (API)": CallKind.SCHEDULED,
    "ScheduledCall": CallKind.SCHEDULED,
}


class CallStatus(StrEnum):
    SELECTING = "selecting"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FINISHED = "finished"
    FAILED = "failed"
    SWITCHING = "switching"
    RECOVERED = "recovered"
    SCHEDULED = "scheduled"
    ACTION_ONLY = "action_only"
    ACTION_ONLY_FINISHED = "action_only_finished"
    DEFLECTED = "deflected"
    VOICEMAIL = "voicemail"
    VOICEMAIL_RECEIVED = "voicemail_received"
    VOICEMAIL_READ = "voicemail_read"


S = CallStatus
_FROM_QUEUED = frozenset(
    {S.ASSIGNED, S.CONNECTING, S.CONNECTED, S.DEFLECTED, S.VOICEMAIL, S.FAILED}
)
MOVES: dict[CallStatus, frozenset[CallStatus]] = {
    S.SELECTING: frozenset({S.QUEUED, S.DEFLECTED, S.FAILED}),
    S.QUEUED: _FROM_QUEUED,
    S.SCHEDULED: _FROM_QUEUED | {S.QUEUED},
    S.ASSIGNED: frozenset({S.CONNECTING, S.CONNECTED, S.FAILED}),
    S.CONNECTING: frozenset({S.CONNECTED, S.VOICEMAIL, S.FAILED}),
    S.CONNECTED: frozenset({S.SWITCHING, S.FINISHED, S.FAILED}),
    S.SWITCHING: frozenset({S.SWITCHING, S.FINISHED, S.FAILED}),
    S.VOICEMAIL: frozenset({S.VOICEMAIL_RECEIVED, S.FAILED}),
    S.VOICEMAIL_RECEIVED: frozenset({S.VOICEMAIL_READ}),
    S.ACTION_ONLY: frozenset({S.ACTION_ONLY_FINISHED}),
}
"""Allowed moves; every status not a key here is terminal."""

ENDING_STATUSES = frozenset(
    {S.FINISHED, S.FAILED, S.DEFLECTED, S.VOICEMAIL_RECEIVED, S.VOICEMAIL_READ}
    | {S.ACTION_ONLY_FINISHED}
)
"""Reaching one of these stamps ``ends_at`` (if not stamped yet)."""

OUTBOUND_MISSED_REASONS = frozenset({"eu_no_answer", "eu_busy", "eu_rejected"})
WRONG_NUMBER_REASON = "eu_wrong_number"


def can_move(current: CallStatus, target: CallStatus) -> bool:
    return target in MOVES.get(current, frozenset())


class Ending(StrEnum):
    """What a move means for the relay (SPEC §6)."""

    NONE = "none"
    MISSED = "missed"
    WRONG_NUMBER = "wrong_number"
    ANSWERED = "answered"


def ending_of(kind: CallKind, target: CallStatus, fail_reason: str, was_connected: bool) -> Ending:
    if target is S.CONNECTED:
        return Ending.ANSWERED
    if was_connected:
        return Ending.NONE
    if kind is CallKind.OUTBOUND:
        if target is S.FAILED and fail_reason in OUTBOUND_MISSED_REASONS:
            return Ending.MISSED
        if target is S.FAILED and fail_reason == WRONG_NUMBER_REASON:
            return Ending.WRONG_NUMBER
        return Ending.NONE
    if target in (S.FAILED, S.DEFLECTED, S.VOICEMAIL):
        return Ending.MISSED
    return Ending.NONE


def possible_e164(raw: str, region: str) -> str | None:
    """E.164 of a well-formed (possible) number, valid or not; None when it is not well-formed."""
    if not is_possible(raw, region):
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else region.upper())
    except NumberParseException:  # pragma: no cover - is_possible parsed it already
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
