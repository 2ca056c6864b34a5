"""Query parameters of the ops API read into values: the call filters, the page size, the stats
bucket. A bad parameter is a 422 naming it; the filters' problems are collected so one 422 names
them all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from ringback.http.errors import validation_error
from ringback.http.inputs import OUT_OF_RANGE, in_client_range, offset_plus_restored, parse_id
from ringback.messages.states import MessageStatus
from ringback.ops.model import CallFilters
from ringback.ops.stats import Bucket
from ringback.relay.model import Direction, Disposition, Outcome, Source
from ringback.relay.phone import read_number

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
E = TypeVar("E", bound=StrEnum)
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
    text = offset_plus_restored(raw.strip())
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


def _flag(raw: str | None, name: str, problems: QueryProblems) -> bool | None:
    if raw is None or not raw.strip():
        return None
    flag = raw.strip().lower()
    if flag in _TRUE:
        return True
    if flag in _FALSE:
        return False
    problems.add(name, "expected true or false")
    return None


def _phone(raw: str | None, country: str, problems: QueryProblems) -> str | None:
    """As the call record stores it, so the filter is an equality on the column."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > 64:
        problems.add("phone", "at most 64 characters")
        return None
    return read_number(raw, country).display


def parse_filters(params: Mapping[str, str | None], country: str) -> CallFilters:
    problems = QueryProblems()
    # read in this order so the 422 names the parameters in the order it always has
    recovered = _flag(params.get("recovered"), "recovered", problems)
    phone = _phone(params.get("phone"), country, problems)
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
        replied=_flag(params.get("replied"), "replied", problems),
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
