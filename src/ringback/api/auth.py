"""Credential parsing shared by the doors; each door decides which kinds it accepts."""

from __future__ import annotations

from fastapi import Request

from ringback.api.errors import ApiError, unauthorized
from ringback.api.ratelimit import TokenBuckets, retry_after_header


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
        raise unauthorized()
    return token


def enforce_rate_limit(buckets: TokenBuckets, key: str) -> None:
    wait = buckets.acquire(key)
    if wait is not None:
        raise ApiError(
            429,
            "RATE_LIMITED",
            "Too many requests; slow down",
            headers={"Retry-After": retry_after_header(wait)},
        )
