"""``GET /manager/api/v1/calls``: the query's parameters and the ``link`` header that pages it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from ringback.doors.ccai.bodies import parse_moment, read_integer
from ringback.doors.ccai.calls import CALL_TYPES, CallStatus
from ringback.doors.ccai.errors import not_valid
from ringback.doors.ccai.queries import CallQuery
from ringback.http.inputs import BIGINT_MAX, offset_plus_restored

_SORT_COLUMNS = frozenset({"created_at", "updated_at", "id"})
_STATUSES = frozenset(s.value for s in CallStatus)


def _positive(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = read_integer(raw)
    if value is None or value < 1:
        raise not_valid(name)
    return value


def _moment_param(params: Mapping[str, str], name: str) -> dt.datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    moment = parse_moment(offset_plus_restored(raw), name)
    if moment is None:
        raise not_valid(name)
    return moment


def list_query(params: Mapping[str, str]) -> CallQuery:
    """``GET /manager/api/v1/calls`` query; unknown parameters are ignored."""
    page = _positive(params, "page", 1)
    per = min(_positive(params, "per", 100), 100)
    if page > BIGINT_MAX // per:
        raise not_valid("page")
    sort_column = params.get("sort_column") or "id"
    if sort_column not in _SORT_COLUMNS:
        raise not_valid("sort_column")
    direction = (params.get("sort_direction") or "DESC").upper()
    if direction not in ("ASC", "DESC"):
        raise not_valid("sort_direction")
    status = params.get("status") or None
    if status is not None and status not in _STATUSES:
        raise not_valid("status")
    call_type = params.get("call_type") or None
    kind = CALL_TYPES.get(call_type) if call_type is not None else None
    if call_type is not None and kind is None:
        raise not_valid("call_type")
    return CallQuery(
        page=page,
        per=per,
        sort_column=sort_column,
        descending=direction == "DESC",
        created_from=_moment_param(params, "created_at[from]"),
        created_to=_moment_param(params, "created_at[to]"),
        updated_from=_moment_param(params, "updated_at[from]"),
        updated_to=_moment_param(params, "updated_at[to]"),
        status=status,
        kind=kind.value if kind is not None else None,
    )


@dataclass(frozen=True, slots=True)
class PageLinks:
    base_url: str
    raw_query: str

    def url(self, page: int) -> str:
        parts = [p for p in self.raw_query.split("&") if p]
        replaced = False
        out = []
        for part in parts:
            if unquote_plus(part.partition("=")[0]) == "page":
                if not replaced:
                    out.append(f"page={page}")
                    replaced = True
                continue
            out.append(part)
        if not replaced:
            out.append(f"page={page}")
        return f"{self.base_url}?{'&'.join(out)}"

    def header(self, page: int, per: int, total: int) -> str:
        last = max(1, -(-total // per))
        links = []
        if page < last:
            links.append(f'<{self.url(page + 1)}>; rel="next"')
        if 1 < page <= last + 1:
            links.append(f'<{self.url(page - 1)}>; rel="prev"')
        return ", ".join(links)
