"""Zoho credentials: ``Authorization: Zoho-oauthtoken <zoho token>``."""

from __future__ import annotations

from fastapi import Request

from ringback.http.errors import unauthorized
from ringback.tenancy.auth import require_credential
from ringback.tenancy.model import Restaurant, TokenKind, restaurant_from_settings

_KINDS = frozenset({TokenKind.ZOHO})
SCHEME = "Zoho-oauthtoken"


async def zoho_restaurant(request: Request) -> Restaurant:
    token = require_credential(request, SCHEME)
    row = await request.app.state.container.tenancy.authenticate(token, _KINDS)
    if row is None:
        raise unauthorized(challenge=SCHEME)
    return restaurant_from_settings(row)
