"""Wire formats shared by every door."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BeforeValidator

_UTC_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
_UTC_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored or computed moment as an aware UTC datetime, whatever the database holds.

    asyncpg reads ``-infinity``/``infinity`` (what it writes for 0001-01-01T00:00:00Z and
    9999-12-31T23:59:59.999999Z) as *naive* ``datetime.min``/``max``: those are UTC. A moment
    whose conversion to UTC would leave years 1-9999 is pinned to the nearest end.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return _UTC_MIN if moment.year == dt.MINYEAR else _UTC_MAX


def iso_z(moment: dt.datetime | None) -> str | None:
    """UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (SPEC §3), or None; any datetime formats, so no stored
    value can fail a read. ``isoformat`` pads the year to four digits where ``strftime("%Y")``
    writes year 1 as ``1``."""
    if moment is None:
        return None
    utc = as_utc(moment).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def id_str(value: int | None) -> str | None:
    """Native APIs render ids as strings, as eat-now does."""
    return None if value is None else str(value)


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
