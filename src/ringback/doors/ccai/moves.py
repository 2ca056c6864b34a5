"""A PATCH's move of a locked call (SPEC §6), and what the relay hears of it. Pure.

``plan_move`` runs once, on the call as locked: it refuses (409, or 400 for an end before the
connect) or tells the columns to write, the call as it will be, and the call's ending.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from ringback.doors.ccai.bodies import Move
from ringback.doors.ccai.calls import (
    ENDING_STATUSES,
    CallKind,
    CallStatus,
    Ending,
    can_move,
    ending_of,
)
from ringback.doors.ccai.errors import conflict, not_valid
from ringback.doors.ccai.queries import StoredCcaiCall
from ringback.http.formats import as_utc
from ringback.http.inputs import usable_stored
from ringback.relay.model import CallEvent, Direction, Disposition, Outcome, Source


@dataclass(frozen=True, slots=True)
class PlannedMove:
    values: dict[str, Any]
    """The ``ccai_call`` columns to write."""
    moved: StoredCcaiCall
    """The call with those columns written."""
    ending: Ending


def plan_move(current: StoredCcaiCall, move: Move, now: dt.datetime) -> PlannedMove:
    status = CallStatus(current.current_status)
    target = move.target
    if not can_move(status, target):
        raise conflict(f"Call cannot move from {status.value} to {target.value}")
    values: dict[str, Any] = {"status": target.value, **move.reasons}
    if target is CallStatus.QUEUED and current.queued_at is None:
        values["queued_at"] = now
    if target is CallStatus.ASSIGNED and current.assigned_at is None:
        values["assigned_at"] = now
    # stored: may be a naive -infinity/infinity written by older code, compared as UTC
    connected_at = as_utc(current.connected_at) if current.connected_at is not None else None
    if target is CallStatus.CONNECTED and connected_at is None:
        connected_at = values["connected_at"] = move.connected_at or now
    if target in ENDING_STATUSES and current.ends_at is None:
        ends_at = move.ends_at or now
        if connected_at is not None and ends_at < connected_at:
            raise not_valid("ends_at")
        values["ends_at"] = ends_at
    fail_reason = move.reasons.get("fail_reason", current.fail_reason)
    ending = ending_of(
        CallKind(current.kind), target, fail_reason, current.connected_at is not None
    )
    return PlannedMove(values, dataclasses.replace(current, **values), ending)


def relay_event(moved: StoredCcaiCall, ending: Ending, now: dt.datetime) -> CallEvent | None:
    """What the relay hears of a move: missed, answered, or nothing (SPEC §6). Its time is the
    call's (SPEC §3); a stored time outside the client range (older code) gives way to the next,
    down to ``now``, so such a call can still be moved."""
    if ending is Ending.NONE:
        return None
    kind = CallKind(moved.kind)
    answered = ending is Ending.ANSWERED
    scheduled_at = moved.scheduled_at if kind is CallKind.SCHEDULED else None
    occurred_at = usable_stored(scheduled_at) or usable_stored(moved.created_at) or now
    return CallEvent(
        source=Source.CCAI,
        external_id=str(moved.call_id),
        direction=Direction.OUTBOUND if kind is CallKind.OUTBOUND else Direction.INBOUND,
        disposition=Disposition.ANSWERED if answered else Disposition.MISSED,
        raw_number=moved.caller_raw,
        occurred_at=occurred_at,
        forced_outcome=Outcome.SKIPPED_INVALID_NUMBER if ending is Ending.WRONG_NUMBER else None,
        details={"ccai_status": moved.status, "ccai_fail_reason": moved.fail_reason},
        recovers_call_id=moved.parent_id if answered and kind is CallKind.SCHEDULED else None,
    )
