"""Wire formats shared by every door: timestamps as replies write them (reading what clients
send is ``inputs.py``)."""

from __future__ import annotations

import datetime as dt

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
