"""Telnyx wire -> call events: one call per ``call_session_id``, whatever order events come in."""

from __future__ import annotations

import datetime as dt

from ringback.doors.telnyx.schemas import CallPayload, WebhookIn
from ringback.http.inputs import usable_stored
from ringback.relay.call_lookup import KnownCall
from ringback.relay.model import CallEvent, Direction, Disposition, Source, TimeRank
from ringback.relay.phone import read_number

INITIATED = "call.initiated"
ANSWERED = "call.answered"
HANGUP = "call.hangup"
MISSED_CAUSES = frozenset(
    {"originator_cancel", "timeout", "no_answer", "user_busy", "call_rejected"}
)
_DIRECTIONS = {"incoming": Direction.INBOUND, "outgoing": Direction.OUTBOUND}


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def session_id(body: WebhookIn) -> str | None:
    """The key of the call this event belongs to, when it is a call event Ringback reads."""
    data = body.data
    if data is None or data.event_type not in (INITIATED, ANSWERED, HANGUP):
        return None
    if data.payload is None or not data.payload.call_session_id:
        return None
    return data.payload.call_session_id


def _direction(payload: CallPayload, known: KnownCall | None) -> Direction:
    """The payload's own direction; else the stored call's; else incoming (call.hangup carries
    none, and Ringback places no calls through Telnyx)."""
    stated = _DIRECTIONS.get((payload.direction or "").strip().lower())
    if stated is not None:
        return stated
    return known.direction if known is not None else Direction.INBOUND


def to_event(
    body: WebhookIn, known: KnownCall | None, region: str, received_at: dt.datetime
) -> CallEvent | None:
    """The event for the relay, or None when it is to be ignored (not a call event, or another
    number than the one stored for this ``call_session_id``)."""
    key = session_id(body)
    if key is None or body.data is None or body.data.payload is None:
        return None
    kind = body.data.event_type
    payload = body.data.payload
    direction = _direction(payload, known)
    number = (payload.to if direction is Direction.OUTBOUND else payload.from_) or ""
    if known is not None and read_number(number, region).display != known.caller_phone_number:
        return None
    occurred_at = _aware(body.data.occurred_at) or received_at
    # SPEC §3: the hangup's start_time, else call.initiated's time; an answer's time (which is
    # also when it was answered) only until one of those arrives, in whatever order they come
    rank = TimeRank.RECEIVED
    details: dict[str, object] | None = None
    if kind == INITIATED:
        disposition = Disposition.OTHER
        if body.data.occurred_at is not None:
            rank = TimeRank.STATED
    elif kind == ANSWERED:
        disposition = Disposition.ANSWERED
    else:
        if payload.start_time is not None:
            rank = TimeRank.FINAL
        occurred_at = (
            _aware(payload.start_time)
            # a time older code stored outside the client range gives way to the event's own
            or usable_stored(known.occurred_at if known else None)
            or occurred_at
        )
        cause = (payload.hangup_cause or "").strip().lower()
        details = {"hangup_cause": cause, "hangup_source": payload.hangup_source}
        missed = (
            direction is Direction.INBOUND
            and cause in MISSED_CAUSES
            and not (known is not None and known.answered)
        )
        disposition = Disposition.MISSED if missed else Disposition.OTHER
    return CallEvent(
        source=Source.TELNYX,
        external_id=key,
        direction=direction,
        disposition=disposition,
        raw_number=number,
        occurred_at=occurred_at,
        details=details,
        time_rank=rank,
    )
