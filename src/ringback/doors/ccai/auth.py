"""CCAI credentials: HTTP Basic, username = restaurant slug, password = a ``ccai`` token (SPEC §2).

Rate limited per restaurant (``RINGBACK_CCAI_RATE_LIMIT_PER_SECOND``), after authentication.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from fastapi import Request

from ringback.doors.ccai.calls import CcaiSettings, ccai_from_settings
from ringback.doors.ccai.errors import unauthorized
from ringback.tenancy.auth import enforce_rate_limit
from ringback.tenancy.model import Restaurant, TokenKind, restaurant_from_settings

_KINDS = frozenset({TokenKind.CCAI})
_MAX_HEADER = 2048


@dataclass(frozen=True, slots=True)
class CcaiCaller:
    restaurant: Restaurant
    ccai: CcaiSettings


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(username, password) of a well-formed ``Authorization: Basic …`` header, else None."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    encoded = encoded.strip()
    if scheme.lower() != "basic" or not encoded or len(encoded) > _MAX_HEADER:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, separator, password = decoded.partition(":")
    if not separator or not username or not password:
        return None
    return username, password


async def ccai_caller(request: Request) -> CcaiCaller:
    credentials = basic_credentials(request)
    if credentials is None:
        raise unauthorized()
    slug, token = credentials
    row = await request.app.state.container.tenancy.authenticate(token, _KINDS)
    if row is None or not hmac.compare_digest(
        str(row["slug"]).encode("utf-8"), slug.encode("utf-8")
    ):
        raise unauthorized()
    enforce_rate_limit(request.app.state.ccai_rate_limits, str(row["id"]))
    return CcaiCaller(restaurant_from_settings(row), ccai_from_settings(row.get("ccai")))
