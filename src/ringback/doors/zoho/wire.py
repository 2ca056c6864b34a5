"""Zoho form → call event. Every unreadable or missing parameter is reported by name."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl

from ringback.doors.zoho.schemas import (
    CALL_TYPES,
    FORCED,
    MANDATORY,
    START_TIME_FORMAT,
    disposition_of,
)
from ringback.http.errors import ApiError
from ringback.http.inputs import OUT_OF_RANGE, in_client_range, number_plus_restored
from ringback.relay.model import CallEvent, Disposition, Source, TimeRank

_STATE = re.compile(r"^[a-z_]{1,32}$")
FORM_ENCODED = "application/x-www-form-urlencoded"
MAX_FIELDS = 64  # Zoho sends about ten; a flood is refused before it is parsed
MAX_ID_LENGTH = 128  # as the partner API's external_call_id (SPEC §4)
MAX_NUMBER_LENGTH = 64


def required_missing(params: list[str]) -> ApiError:
    return ApiError(
        400,
        "REQUIRED_PARAM_MISSING",
        "Required parameter(s) missing: " + ", ".join(params),
        details={"params": params},
    )


def invalid_value(param: str, reason: str) -> ApiError:
    return ApiError(
        400, "INVALID_PARAM_VALUE", f"Invalid value for '{param}': {reason}",
        details={"params": [param]},
    )  # fmt: skip


def check_encoding(content_type: str | None, body: bytes) -> None:
    """A multipart or JSON body read as a form gives nonsense names, and the reply would list
    every parameter as missing: name the real problem instead."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    other = media_type.startswith("multipart/") or media_type.endswith(("/json", "+json"))
    if other and body.strip():
        raise invalid_value("body", f"expected {FORM_ENCODED}, not {media_type}")


def parse_form(body: bytes, query: str) -> dict[str, str]:
    """Query parameters, overridden by the form body; values trimmed."""
    fields: dict[str, str] = {}
    for source, raw in (("query", query.encode()), ("body", body)):
        if raw.count(b"&") >= MAX_FIELDS:
            raise invalid_value(source, f"more than {MAX_FIELDS} parameters")
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise invalid_value(source, "not a UTF-8 form-encoded string") from exc
        fields.update(pairs)
    return fields


def parse_start_time(value: str) -> dt.datetime:
    try:
        naive = dt.datetime.strptime(value.strip(), START_TIME_FORMAT)  # noqa: DTZ007 - GMT by spec
    except ValueError as exc:
        raise invalid_value("start_time", "expected yyyy-MM-dd HH:mm:ss (GMT)") from exc
    if not in_client_range(naive):
        raise invalid_value("start_time", OUT_OF_RANGE)
    return naive.replace(tzinfo=dt.UTC)


def to_event(fields: dict[str, str], received_at: dt.datetime) -> CallEvent:
    present = {name: value.strip() for name, value in fields.items() if value.strip()}
    missing = [name for name in MANDATORY if name not in present]
    call_type = present.get("type", "").lower()
    state = present.get("state", "").lower()
    disposition = disposition_of(call_type, state)
    if disposition is Disposition.MISSED and "start_time" not in present:
        missing.append("start_time")
    if missing:
        raise required_missing(missing)
    if call_type not in CALL_TYPES:
        raise invalid_value("type", "expected received or dialed")
    if not _STATE.match(state):
        raise invalid_value("state", "not a call state")
    occurred_at = (
        parse_start_time(present["start_time"]) if "start_time" in present else received_at
    )
    number_param = customer_param(fields)
    _check_lengths(present)
    details: dict[str, object] = {"zoho_state": state}
    for extra in ("zohouser", "voiceuri", "duration"):
        if extra in present:
            details[f"zoho_{extra}"] = present[extra]
    return CallEvent(
        source=Source.ZOHO,
        external_id=present["id"],
        direction=CALL_TYPES[call_type],
        disposition=disposition,
        raw_number=number_plus_restored(fields[number_param].rstrip()),
        occurred_at=occurred_at,
        forced_outcome=FORCED.get(state) if call_type == "dialed" else None,
        details=details,
        # SPEC §3: the call's time is its start_time, which a notification without one (the
        # time it was received stands in) must not replace
        time_rank=TimeRank.STATED if "start_time" in present else TimeRank.RECEIVED,
    )


def _check_lengths(present: dict[str, str]) -> None:
    """A value is stored whole or refused, never cut: two ids that differ after their 128th
    character are two calls. A number longer than any phone would not fit the call's index."""
    if len(present["id"]) > MAX_ID_LENGTH:
        raise invalid_value("id", f"longer than {MAX_ID_LENGTH} characters")
    for param in ("from", "to"):
        if len(present[param]) > MAX_NUMBER_LENGTH:
            raise invalid_value(param, f"longer than {MAX_NUMBER_LENGTH} characters")


def customer_param(fields: dict[str, str]) -> str:
    return "from" if fields.get("type", "").strip().lower() == "received" else "to"
