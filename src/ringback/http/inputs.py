"""Rules every door applies to what a client sends (SPEC §3).

One copy of the client-timestamp range: every door checks its date-times with it and answers its
own validation error, so no date-time outside the range reaches the service or the database. At the
extremes a datetime breaks: asyncpg writes 0001-01-01T00:00:00Z as ``-infinity``, and converting
0001-01-01T00:30:00+01:00 to UTC, or adding the relay's windows to 9999-12-31, overflows.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)  # excluded
OUT_OF_RANGE = "must lie in [2000-01-01T00:00:00Z, 3000-01-01T00:00:00Z) once its offset is applied"

_EARLIEST_NAIVE = EARLIEST.replace(tzinfo=None)
_SPAN = END - EARLIEST


def in_client_range(moment: dt.datetime) -> bool:
    """Whether ``moment`` lies in [EARLIEST, END) in UTC; a naive one is read as UTC.

    Computed on timedeltas, which cannot overflow where a conversion to UTC would.
    """
    since = moment.replace(tzinfo=None) - _EARLIEST_NAIVE - (moment.utcoffset() or dt.timedelta())
    return dt.timedelta() <= since < _SPAN


def client_moment(moment: dt.datetime) -> dt.datetime:
    """``moment`` itself when it is in range, else ValueError (pydantic reports it by field)."""
    if not in_client_range(moment):
        raise ValueError(OUT_OF_RANGE)
    return moment


# A date-time from a client, checked against the range after pydantic has parsed it.
InRange = AfterValidator(client_moment)
ClientDatetime = Annotated[dt.datetime, InRange]


def usable_stored(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored moment a new event may reuse as its time (aware UTC), or None when it lies outside
    the client range: older code stored ``-infinity`` and year 1, which the relay's windows
    cannot be computed around. The caller then falls back to a time of its own."""
    if moment is None or not in_client_range(moment):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


# A "+" a client sent unencoded in a query or form arrives as a space (form decoding): read it as
# the "+" it was. Two places it can stand: before a date-time's UTC offset, and first in a number.
_OFFSET_LOST_PLUS = re.compile(r"^(.*\d) (\d{2}:?\d{2})$")
_NUMBER_LOST_PLUS = re.compile(r"^ (?=[1-9])")  # country codes never start with 0


def offset_plus_restored(text: str) -> str:
    """``2026-05-10T20:00:00 02:00`` → ``2026-05-10T20:00:00+02:00``; anything else as it is."""
    lost = _OFFSET_LOST_PLUS.match(text)
    return f"{lost.group(1)}+{lost.group(2)}" if lost else text


def number_plus_restored(value: str) -> str:
    """`` 33612345678`` → ``+33612345678``; anything else as it is."""
    return _NUMBER_LOST_PLUS.sub("+", value)
