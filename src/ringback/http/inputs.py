"""Rules every door applies to what a client sends (SPEC §2, §3), one copy each: the
client-timestamp range, ids and integers in ASCII digits, and the "+" that arrived as a space.

The client-timestamp range: every door checks its date-times with it and answers its
own validation error, so no date-time outside the range reaches the service or the database. At the
extremes a datetime breaks: asyncpg writes 0001-01-01T00:00:00Z as ``-infinity``, and converting
0001-01-01T00:30:00+01:00 to UTC, or adding the relay's windows to 9999-12-31, overflows.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

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


# PostgreSQL's bigint: every id we store fits, so a larger number names nothing.
BIGINT_MAX = 2**63 - 1


def parse_id(raw: str) -> int | None:
    """An id or count as a client writes it: ASCII decimal digits only (SPEC §2), at most bigint.

    Anything else is None, for the caller to answer not found or invalid. ``str.isdigit()`` and
    ``int()`` alone also take superscripts (then ``int`` fails: a 500) and other scripts' digits
    (Arabic-Indic one reads as 1), and ``int()`` takes signs, spaces and underscores. The length
    is checked first: ``int()`` refuses more than 4300 digits with a ValueError.
    """
    if not 0 < len(raw) <= len(str(BIGINT_MAX)) or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= BIGINT_MAX else None


def _ascii_integer(value: object) -> object:
    """A JSON string given for an integer field counts only when it is ASCII digits: pydantic's lax
    mode would also read ``"+5"``, ``" 5"``, ``"1_000"`` and ``"5.0"``. JSON numbers pass as they
    are, to pydantic's own checks."""
    if isinstance(value, str):
        number = parse_id(value)
        if number is None:
            raise ValueError("must be an integer (as a string: ASCII digits only)")
        return number
    return value


# An integer field of a request body (ids, counts, sizes).
BodyInt = Annotated[int, BeforeValidator(_ascii_integer)]
