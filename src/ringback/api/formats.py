"""Wire formats shared by every door."""

from __future__ import annotations

import datetime as dt


def iso_z(moment: dt.datetime | None) -> str | None:
    """UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (SPEC §3), or None."""
    if moment is None:
        return None
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def id_str(value: int | None) -> str | None:
    """Native APIs render ids as strings, as eat-now does."""
    return None if value is None else str(value)


def parse_id(raw: str) -> int | None:
    """A path id as we issue them (a positive integer in decimal); anything else matches nothing."""
    if not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)
