"""The request bodies of the CCAI call API, read leniently, then checked in the seed's order.

CCAI answers every refusal ``400 {"message": "<the seed's words>"}`` in the order SPEC §6 gives,
so pydantic's own errors must never answer: each model keeps the JSON values as sent (a field is
``object``, nothing can fail to validate) and the checks run afterwards, in order, over the model.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from ringback.doors.ccai.calls import ENDING_STATUSES, CallStatus
from ringback.doors.ccai.errors import bad_request, not_valid
from ringback.http.inputs import in_client_range, parse_id

_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_STATUSES = frozenset(s.value for s in CallStatus)


def read_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested too deep
        raise bad_request("Request body is not valid JSON") from error
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def read_integer(value: object) -> int | None:
    """An id as CCAI sends it (a JSON integer; a string of ASCII digits is read too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_id(value.strip())
    return None


def parse_moment(value: object, field: str) -> dt.datetime | None:
    """ISO-8601; a date-time without an offset is read as UTC (SPEC §3). None when unreadable;
    outside the client range, ``<field> is not valid`` (checked before the conversion to UTC,
    which overflows at the ends of the calendar)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if not in_client_range(moment):
        raise not_valid(field)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


class NewCallIn(BaseModel):
    """``POST /apps/api/v1/calls``: the fields the create rules read (``create_rules.py``).

    A blank string counts as absent, as CCAI does for every one of them.
    """

    model_config = ConfigDict(frozen=True)

    call_type: object = None
    call_id: object = None
    menu_id: object = None
    lang: object = None
    end_user_number: object = None
    ticket_id: object = None
    agent_email: object = None
    outbound_number: object = None
    scheduled_at: object = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: object) -> object:
        if not isinstance(data, Mapping):
            return data
        return {k: None if isinstance(v, str) and not v.strip() else v for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class Move:
    """A checked ``PATCH /apps/api/v1/calls/{id}`` body: where to, why, and when if told."""

    target: CallStatus
    reasons: Mapping[str, str]
    connected_at: dt.datetime | None
    ends_at: dt.datetime | None


class MoveIn(BaseModel):
    """``PATCH /apps/api/v1/calls/{id}`` as sent; ``checked()`` answers ``<field> is not valid``
    for the first field that is not (status, the reasons, the times, then the times' statuses)."""

    model_config = ConfigDict(frozen=True)

    status: object = None
    fail_reason: object = None
    deflection: object = None
    voicemail_reason: object = None
    connected_at: object = None
    ends_at: object = None

    def checked(self) -> Move:
        if not isinstance(self.status, str) or self.status not in _STATUSES:
            raise not_valid("status")
        target = CallStatus(self.status)
        reasons: dict[str, str] = {}
        for field in ("fail_reason", "deflection", "voicemail_reason"):
            value = getattr(self, field)
            if value is None:
                continue
            if not isinstance(value, str) or not _TOKEN.match(value):
                raise not_valid(field)
            reasons[field] = value
        connected_at = _moment(self.connected_at, "connected_at")
        ends_at = _moment(self.ends_at, "ends_at")
        if connected_at is not None and target is not CallStatus.CONNECTED:
            raise not_valid("connected_at")
        if ends_at is not None and target not in ENDING_STATUSES:
            raise not_valid("ends_at")
        return Move(target, reasons, connected_at, ends_at)


def _moment(value: object, field: str) -> dt.datetime | None:
    if value is None:
        return None
    moment = parse_moment(value, field)
    if moment is None:
        raise not_valid(field)
    return moment


class CustomerFlagIn(BaseModel):
    """``PATCH /apps/api/v1/calls/{id}/customer_flag``; both spellings of repeat customer."""

    model_config = ConfigDict(frozen=True)

    verified_customer: object = None
    bad_actor: object = None
    repeat_customer: object = None
    repeat_customers: object = None

    def columns(self) -> dict[str, bool]:
        """The customer columns to set, in the order the fields are checked."""
        columns = {
            "verified_customer": "verified",
            "bad_actor": "bad_actor",
            "repeat_customer": "repeat_customer",
            "repeat_customers": "repeat_customer",
        }
        values: dict[str, bool] = {}
        for wire, column in columns.items():
            value = getattr(self, wire)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise not_valid(wire)
            values[column] = value
        return values
