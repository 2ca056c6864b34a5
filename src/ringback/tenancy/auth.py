"""Credential parsing shared by the doors; each door decides which kinds it accepts."""

from __future__ import annotations

import hmac

from fastapi import Request

from ringback.http.errors import ApiError, unauthorized
from ringback.http.ratelimit import TokenBuckets, retry_after_header
from ringback.settings import Settings


def credential(request: Request, scheme: str) -> str | None:
    """The token after ``scheme`` in the Authorization header (scheme case-insensitive)."""
    header = request.headers.get("authorization", "")
    given, _, token = header.partition(" ")
    token = token.strip()
    if given.lower() != scheme.lower() or not token or len(token) > 512:
        return None
    return token


def require_credential(request: Request, scheme: str) -> str:
    token = credential(request, scheme)
    if token is None:
        raise unauthorized(challenge=scheme)
    return token


def is_admin_token(settings: Settings, presented: str | None) -> bool:
    """``presented`` is RINGBACK_ADMIN_TOKEN (constant time); an unset admin token matches none."""
    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not expected or presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def enforce_rate_limit(buckets: TokenBuckets, key: str) -> None:
    wait = buckets.acquire(key)
    if wait is not None:
        raise ApiError(
            429,
            "RATE_LIMITED",
            "Too many requests; slow down",
            headers={"Retry-After": retry_after_header(wait)},
        )
