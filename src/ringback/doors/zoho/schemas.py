"""Zoho PhoneBridge wire shapes: its parameters, its states and its JSON replies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ringback.relay.model import Direction, Disposition, Outcome

PARAMETERS = ("type", "state", "id", "from", "to", "start_time", "zohouser", "voiceuri", "duration")
MANDATORY = ("type", "state", "id", "from", "to")
START_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

CALL_TYPES: dict[str, Direction] = {"received": Direction.INBOUND, "dialed": Direction.OUTBOUND}
"""``type`` → direction; the customer is ``from`` on received calls and ``to`` on dialed ones."""

UNATTENDED_OUTGOING = frozenset({"busy", "notavailable", "noanswer", "rejected"})
FORCED: dict[str, Outcome] = {
    "invalid": Outcome.SKIPPED_INVALID_NUMBER,
    "blocked": Outcome.SKIPPED_SUPPRESSED,
}


def disposition_of(call_type: str, state: str) -> Disposition:
    """SPEC §5's table: which type/state pairs are missed, answered or just stored."""
    if state == "answered":
        return Disposition.ANSWERED
    if call_type == "received" and state == "missed":
        return Disposition.MISSED
    if call_type == "dialed" and (state in UNATTENDED_OUTGOING or state in FORCED):
        return Disposition.MISSED
    return Disposition.OTHER


class ZohoSuccess(BaseModel):
    status: Literal["success"] = "success"
    code: Literal["SUCCESS"] = "SUCCESS"


class ZohoErrorDetails(BaseModel):
    params: list[str]


class ZohoError(BaseModel):
    status: Literal["error"] = "error"
    code: str
    message: str | None = None
    details: ZohoErrorDetails | None = None
