"""Who is calling (SPEC §2): one authenticator for every door that takes a restaurant's token.

A door names the token kinds it accepts, how the credential is presented (``bearer(scheme)`` for
``Authorization: <scheme> <token>``, ``basic_with_slug`` for CCAI's HTTP Basic), the 401 it answers
(each door keeps its own shape and ``WWW-Authenticate``) and how it is rate limited;
``authenticator`` returns the FastAPI dependency, and the door's auth is an alias of it. The token
is found by its hash in the process's cache (``token_cache.py``), else in the database; a revoked
token stops working at once in the process that revoked it and within a second everywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from fastapi import Request

from ringback.http.deps import Tenancy, ccai_rate_limits, rate_limits
from ringback.http.errors import ApiError
from ringback.http.ratelimit import TokenBuckets, retry_after_header
from ringback.settings import Settings
from ringback.tenancy.model import ApiToken, TokenKind
from ringback.tenancy.repository import TenancyRepository

_MAX_TOKEN = 512
_MAX_BASIC = 2048


@dataclass(frozen=True, slots=True)
class Credential:
    token: str
    slug: str | None = None
    """HTTP Basic's username, which must be the token's restaurant's slug."""


CredentialReader = Callable[[Request], Credential | None]


def credential(request: Request, scheme: str) -> str | None:
    """The token after ``scheme`` in the Authorization header (scheme case-insensitive)."""
    header = request.headers.get("authorization", "")
    given, _, token = header.partition(" ")
    token = token.strip()
    if given.lower() != scheme.lower() or not token or len(token) > _MAX_TOKEN:
        return None
    return token


def bearer(scheme: str = "Bearer") -> CredentialReader:
    """``Authorization: <scheme> <token>``: ``Bearer``, or Zoho's ``Zoho-oauthtoken``."""

    def read(request: Request) -> Credential | None:
        token = credential(request, scheme)
        return Credential(token) if token is not None else None

    return read


def basic_with_slug(request: Request) -> Credential | None:
    """``Authorization: Basic base64(slug:token)`` when well formed, else None."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    encoded = encoded.strip()
    if scheme.lower() != "basic" or not encoded or len(encoded) > _MAX_BASIC:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, separator, password = decoded.partition(":")
    if not separator or not username or not password:
        return None
    return Credential(password, slug=username)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Which buckets a door's callers draw from, and whose bucket a caller's is."""

    buckets: Callable[[Request], TokenBuckets]
    key: Callable[[ApiToken], str]


PER_TOKEN = RateLimit(rate_limits, lambda found: found.token_hash)
PER_CCAI_RESTAURANT = RateLimit(ccai_rate_limits, lambda found: str(found.restaurant.id))


def authenticator(
    kinds: Iterable[TokenKind],
    read: CredentialReader,
    refuse: Callable[[], ApiError],
    rate_limit: RateLimit | None = None,
) -> Callable[[Request, TenancyRepository], Awaitable[ApiToken]]:
    """The dependency that answers the live token of one of ``kinds``, else raises ``refuse()``."""
    accepted = frozenset(kinds)

    async def authenticated(request: Request, tokens: Tenancy) -> ApiToken:
        presented = read(request)
        if presented is None:
            raise refuse()
        found = await tokens.authenticate(presented.token, accepted)
        if found is None or not _slug_matches(found, presented):
            raise refuse()
        if rate_limit is not None:
            enforce_rate_limit(rate_limit.buckets(request), rate_limit.key(found))
        return found

    return authenticated


def _slug_matches(found: ApiToken, presented: Credential) -> bool:
    if presented.slug is None:
        return True
    return hmac.compare_digest(found.restaurant.slug.encode(), presented.slug.encode())


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
