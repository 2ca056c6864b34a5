"""Partner credentials: ``Authorization: Bearer <partner token>``, rate limited per token."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ringback.http.errors import unauthorized
from ringback.tenancy.auth import enforce_rate_limit, require_credential
from ringback.tenancy.model import Restaurant, TokenKind, restaurant_from_settings

_KINDS = frozenset({TokenKind.PARTNER})


@dataclass(frozen=True, slots=True)
class PartnerCaller:
    restaurant: Restaurant


async def partner_caller(request: Request) -> PartnerCaller:
    token = require_credential(request, "Bearer")
    row = await request.app.state.container.tenancy.authenticate(token, _KINDS)
    if row is None:
        raise unauthorized()
    enforce_rate_limit(request.app.state.rate_limits, row["token_hash"])
    return PartnerCaller(restaurant_from_settings(row))
