"""Ops wire <-> domain: query parameters to filters (422 naming the field), the opaque cursor,
records to wire models, and CSV lines."""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import hashlib
import hmac
import io
import re
import struct
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from ringback.http.errors import validation_error
from ringback.http.formats import as_utc, id_str, iso_z, parse_id
from ringback.http.inputs import OUT_OF_RANGE, in_client_range
from ringback.messages.states import MessageStatus
from ringback.ops.model import (
    Bucket,
    CallFilters,
    CallRecord,
    CsvRow,
    CustomerState,
    MessageInfo,
    Position,
    Stats,
)
from ringback.ops.schemas import (
    CallDetailOut,
    CallOut,
    CustomerOut,
    CustomerStateOut,
    MessageCounts,
    MessageDetailOut,
    MessageOut,
    ReservationOut,
    StatsBucketOut,
    StatsOut,
    StatsTotalsOut,
    TimelineEventOut,
)
from ringback.relay.model import Direction, Disposition, Outcome, Source
from ringback.relay.phone import read_number

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
CSV_HEADER = (
    "id,source,external_id,direction,disposition,caller_phone_number,occurred_at,created_at,"
    "outcome,template_type,customer_id,reservation_id,message_status,message_attempts,recovered_at"
)
E = TypeVar("E", bound=StrEnum)
_OFFSET_LOST_PLUS = re.compile(r"^(.*\d) (\d{2}:?\d{2})$")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class QueryProblems:
    """Collects every bad parameter so one 422 names them all."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, name: str, message: str) -> None:
        self.details.append({"field": f"query.{name}", "message": message})

    def raise_if_any(self) -> None:
        if self.details:
            raise validation_error(self.details)


def _enums(raw: str | None, kind: type[E], name: str, problems: QueryProblems) -> tuple[E, ...]:
    """A value, or several separated by commas."""
    if raw is None or not raw.strip():
        return ()
    out: list[E] = []
    for part in raw.split(","):
        value = part.strip()
        try:
            out.append(kind(value))
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            problems.add(name, f"{value!r} is not one of: {allowed}")
    return tuple(out)


def parse_datetime(raw: str | None, name: str, problems: QueryProblems) -> dt.datetime | None:
    """ISO-8601 with an offset (``Z`` too); a ``+`` decoded as a space is read as ``+``."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    lost = _OFFSET_LOST_PLUS.match(text)
    if lost:
        text = f"{lost.group(1)}+{lost.group(2)}"
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        problems.add(name, "not an ISO-8601 date-time")
        return None
    if value.tzinfo is None:
        problems.add(name, "the date-time must carry a UTC offset (e.g. Z or +02:00)")
        return None
    if not in_client_range(value):
        problems.add(name, f"the date-time {OUT_OF_RANGE}")
        return None
    return value


def parse_filters(params: Mapping[str, str | None], country: str) -> CallFilters:
    problems = QueryProblems()
    recovered: bool | None = None
    raw_recovered = params.get("recovered")
    if raw_recovered is not None and raw_recovered.strip():
        flag = raw_recovered.strip().lower()
        if flag in _TRUE:
            recovered = True
        elif flag in _FALSE:
            recovered = False
        else:
            problems.add("recovered", "expected true or false")
    phone: str | None = None
    raw_phone = params.get("phone")
    if raw_phone is not None and raw_phone.strip():
        if len(raw_phone) > 64:
            problems.add("phone", "at most 64 characters")
        else:
            phone = read_number(raw_phone, country).display
    filters = CallFilters(
        sources=_enums(params.get("source"), Source, "source", problems),
        directions=_enums(params.get("direction"), Direction, "direction", problems),
        dispositions=_enums(params.get("disposition"), Disposition, "disposition", problems),
        outcomes=_enums(params.get("outcome"), Outcome, "outcome", problems),
        message_statuses=_enums(
            params.get("message_status"), MessageStatus, "message_status", problems
        ),
        phone=phone,
        occurred_from=parse_datetime(params.get("from"), "from", problems),
        occurred_to=parse_datetime(params.get("to"), "to", problems),
        recovered=recovered,
    )
    problems.raise_if_any()
    return filters


def parse_limit(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_LIMIT
    size = parse_id(raw.strip())
    if size is None or not 1 <= size <= MAX_LIMIT:
        raise validation_error(
            [{"field": "query.limit", "message": f"an integer from 1 to {MAX_LIMIT}"}]
        )
    return size


def parse_bucket(raw: str | None) -> Bucket:
    if raw is None or not raw.strip():
        return Bucket.DAY
    try:
        return Bucket(raw.strip())
    except ValueError:
        raise validation_error(
            [{"field": "query.bucket", "message": "expected hour or day"}]
        ) from None


# --- the cursor -------------------------------------------------------------------------------

_CURSOR = struct.Struct(">qq")
_MAC_BYTES = 12
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CursorCodec:
    """``base64url(occurred_at µs, id, HMAC)``: opaque to clients, bound to one restaurant, and a
    changed byte is refused (422) rather than read."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, restaurant_id: int, payload: bytes) -> bytes:
        message = str(restaurant_id).encode() + b"|" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, restaurant_id: int, position: Position) -> str:
        # a stored time may be a naive -infinity/infinity (older code): as_utc reads it as UTC,
        # and decode() gives it back aware, which asyncpg writes as the same infinity
        delta = as_utc(position.occurred_at) - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        payload = _CURSOR.pack(micros, position.call_id)
        raw = payload + self._mac(restaurant_id, payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, restaurant_id: int, cursor: str | None) -> Position | None:
        if cursor is None or cursor == "":
            return None
        bad = validation_error([{"field": "query.cursor", "message": "not a cursor we issued"}])
        if len(cursor) > 64:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        if len(raw) != _CURSOR.size + _MAC_BYTES:
            raise bad
        payload, mac = raw[: _CURSOR.size], raw[_CURSOR.size :]
        if not hmac.compare_digest(mac, self._mac(restaurant_id, payload)):
            raise bad
        micros, call_id = _CURSOR.unpack(payload)
        try:
            occurred_at = _EPOCH + dt.timedelta(microseconds=micros)
        except OverflowError:
            raise bad from None
        return Position(occurred_at, call_id)


def cursor_key(material: str) -> bytes:
    return hmac.new(material.encode(), b"ringback ops cursor", hashlib.sha256).digest()


# --- records to wire --------------------------------------------------------------------------


def message_out(m: MessageInfo) -> MessageOut:
    return MessageOut(
        id=str(m.id),
        status=m.status,
        attempts=m.attempts,
        next_attempt_at=iso_z(m.next_attempt_at),
        provider_message_id=m.provider_message_id,
        last_error=m.last_error,
        updated_at=iso_z(m.updated_at) or "",
    )


def _call_fields(r: CallRecord) -> dict[str, object]:
    return {
        "id": str(r.id),
        "source": r.source,
        "external_id": r.external_id,
        "direction": r.direction,
        "disposition": r.disposition,
        "caller_phone_number": r.caller_phone_number,
        "occurred_at": iso_z(r.occurred_at) or "",
        "created_at": iso_z(r.created_at) or "",
        "outcome": r.outcome,
        "template_type": r.template_type,
        "customer": (
            CustomerOut(
                id=str(r.customer.id),
                phone_number=r.customer.phone_number,
                name=r.customer.name,
                opted_out=r.customer.opted_out_at is not None,
                bad_actor=r.customer.bad_actor,
            )
            if r.customer
            else None
        ),
        "reservation": (
            ReservationOut(
                id=str(r.reservation.id),
                external_id=r.reservation.external_id,
                start_at=iso_z(r.reservation.start_at) or "",
                party_size=r.reservation.party_size,
                status=r.reservation.status,
            )
            if r.reservation
            else None
        ),
        "recovered_at": iso_z(r.recovered_at),
    }


def call_out(r: CallRecord) -> CallOut:
    return CallOut(**_call_fields(r), message=message_out(r.message) if r.message else None)


def call_detail_out(r: CallRecord) -> CallDetailOut:
    detail = None
    if r.message is not None:
        m = r.message
        detail = MessageDetailOut(
            **message_out(m).model_dump(),
            template_name=m.template_name,
            timeline=[
                TimelineEventOut(
                    status=e.status, attempt=e.attempt, detail=e.detail, at=iso_z(e.at) or ""
                )
                for e in m.timeline or ()
            ],
        )
    return CallDetailOut(**_call_fields(r), message=detail)


def customer_state_out(c: CustomerState) -> CustomerStateOut:
    return CustomerStateOut(
        id=str(c.id),
        phone_number=c.phone_number,
        name=c.name,
        opted_out=c.opted_out_at is not None,
        opted_out_at=iso_z(c.opted_out_at),
        updated_at=iso_z(c.updated_at) or "",
    )


def stats_out(s: Stats) -> StatsOut:
    return StatsOut(
        bucket=s.bucket.value,
        timezone=s.timezone,
        buckets=[
            StatsBucketOut(
                start=iso_z(b.start) or "",
                calls=b.calls,
                missed=b.missed,
                outcomes=b.outcomes,
                messages=MessageCounts(**b.messages),
                recovered=b.recovered,
            )
            for b in s.buckets
        ],
        totals=StatsTotalsOut(
            calls=s.totals.calls,
            missed=s.totals.missed,
            outcomes=s.totals.outcomes,
            messages=MessageCounts(**s.totals.messages),
            recovered=s.totals.recovered,
            recovery_rate=s.totals.recovery_rate,
            delivery_rate=s.totals.delivery_rate,
        ),
    )


def csv_lines(rows: Iterable[CsvRow]) -> str:
    """The CSV lines of ``rows`` (CRLF-terminated), written by one writer."""
    out = io.StringIO()
    # Every cell goes through csv_cell, not only the columns callers fill today: a column added
    # later is neutralized without anyone having to remember it.
    csv.writer(out, lineterminator="\r\n").writerows(
        [
            csv_cell(cell)
            for cell in (
                str(row.id),
                row.source,
                row.external_id,
                row.direction,
                row.disposition,
                row.caller_phone_number,
                iso_z(row.occurred_at),
                iso_z(row.created_at),
                row.outcome,
                row.template_type,
                id_str(row.customer_id),
                id_str(row.reservation_id),
                row.message_status,
                None if row.message_attempts is None else str(row.message_attempts),
                iso_z(row.recovered_at),
            )
        ]
        for row in rows
    )
    return out.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ASCII digits only: str.isdigit() and \d also take other scripts' digits, which no spreadsheet
# reads as a number.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def csv_cell(value: str | None) -> str:
    """A cell a spreadsheet could run as a formula gets a leading ``'`` (OWASP's CSV-injection
    rule, SPEC §8), unless it is a plain number: E.164 numbers (``+33612345678``) stay as they
    are, ``+HYPERLINK(…)`` and ``-2+3`` do not. None is an empty cell."""
    if value is None:
        return ""
    if value.startswith(_FORMULA_START) and _PLAIN_NUMBER.fullmatch(value) is None:
        return "'" + value
    return value
