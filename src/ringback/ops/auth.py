"""Ops credentials (SPEC §2): ``Authorization: Bearer <ops token | admin token>`` or the dashboard's
``ringback_ops`` session cookie. An ops token sees its restaurant; the admin token sees any one and
chooses it with ``restaurant_id`` (422 naming it when missing).

The cookie holds a random session id (32 bytes); the database keeps only its hash, beside the
hash of the token that signed in. Every request checks that token again (an ops token must still
be live; an admin session must match the current ``RINGBACK_ADMIN_TOKEN``), so revoking or rotating
the token ends its sessions, and a stolen database row is no credential.

A cookie is sent by the browser whoever made the page that asks, so a state-changing request signed
by the cookie must also prove it comes from our own pages (SPEC §2): its ``Origin`` — or, when a
browser sends none, its ``Referer`` — must be the origin the request was addressed to. A Bearer
header is never sent by a browser on its own, so it needs no such proof.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from ringback.http import deps
from ringback.http.errors import ApiError, forbidden, not_found, unauthorized, validation_error
from ringback.http.inputs import parse_id
from ringback.ops.sessions import DashboardSessions
from ringback.settings import Settings
from ringback.tenancy.auth import credential, enforce_rate_limit, is_admin_token
from ringback.tenancy.model import Restaurant, TokenKind, hash_token

SESSION_COOKIE = "ringback_ops"
SESSION_TTL = dt.timedelta(hours=12)
_KINDS = frozenset({TokenKind.OPS})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class OpsCaller:
    restaurant: Restaurant
    admin: bool


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed in, before a restaurant is chosen: an ops token's restaurant, or the admin."""

    admin: bool
    token_hash: str
    restaurant: Restaurant | None


def admin_token_hash(settings: Settings) -> str | None:
    secret = settings.admin_token.get_secret_value() if settings.admin_token else ""
    return hash_token(secret) if secret else None


def _sessions(request: Request) -> DashboardSessions:
    return DashboardSessions(deps.database(request))


async def identify_token(request: Request, token: str) -> Identity | None:
    """An ops or admin token (the sign-in form and the Bearer header)."""
    if is_admin_token(deps.settings(request), token):
        return Identity(True, hash_token(token), None)
    found = await deps.tenancy(request).authenticate(token, _KINDS)
    if found is None:
        return None
    return Identity(False, found.token_hash, found.restaurant)


async def identify_session(request: Request) -> Identity | None:
    value = request.cookies.get(SESSION_COOKIE)
    if not value or len(value) > 128:
        return None
    found = await _sessions(request).find(hash_token(value))
    if found is None:
        return None
    if found.admin:
        current = admin_token_hash(deps.settings(request))
        if current is None or not hmac.compare_digest(current, found.token_hash):
            return None
        return Identity(True, found.token_hash, None)
    if found.restaurant is None:  # the ops token was revoked since: the session ends with it
        return None
    return Identity(False, found.token_hash, found.restaurant)


async def start_session(request: Request, identity: Identity) -> str:
    """A new session for ``identity``; returns the cookie value."""
    value = secrets.token_urlsafe(32)
    await _sessions(request).create(
        hash_token(value), identity.token_hash, identity.admin, SESSION_TTL
    )
    return value


async def end_session(request: Request) -> None:
    value = request.cookies.get(SESSION_COOKIE)
    if value and len(value) <= 128:
        await _sessions(request).end(hash_token(value))


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """Scheme, host and port of an http(s) URL, the default port made explicit; None for anything
    else (``null``, another scheme, a malformed port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, default if port is None else port


def same_origin(request: Request) -> bool:
    """Whether the page that sent this request is one of ours: its ``Origin`` (else ``Referer``)
    against the scheme, host and port the request was addressed to (the ``Host`` header; behind a
    TLS proxy the scheme is uvicorn's trusted ``X-Forwarded-Proto``)."""
    claimed = request.headers.get("origin")
    if claimed is None:
        claimed = request.headers.get("referer")
    if claimed is None:
        return False
    theirs = _origin_of(claimed.strip())
    return theirs is not None and theirs == _origin_of(str(request.url))


def cross_site_refused() -> ApiError:
    return forbidden(
        "Cross-site request refused: a request signed by the dashboard cookie must come from "
        "the dashboard's own pages (Origin)"
    )


async def chosen_restaurant(request: Request) -> Restaurant:
    """The admin's ``restaurant_id`` (query parameter)."""
    raw = request.query_params.get("restaurant_id")
    if raw is None or not raw.strip():
        raise validation_error(
            [
                {
                    "field": "query.restaurant_id",
                    "message": "the admin token must choose a restaurant with restaurant_id",
                }
            ]
        )
    number = parse_id(raw.strip())
    if number is None:
        raise validation_error([{"field": "query.restaurant_id", "message": "not an id"}])
    found = await deps.tenancy(request).restaurant(number)
    if found is None:
        raise not_found("Restaurant not found")
    return found


async def ops_caller(request: Request) -> OpsCaller:
    """The Authorization header when present (a bad one is 401, never a fall back to the cookie),
    else the session cookie."""
    if "authorization" in request.headers:
        token = credential(request, "Bearer")
        identity = await identify_token(request, token) if token else None
    else:
        identity = await identify_session(request)
        if (
            identity is not None
            and request.method not in _SAFE_METHODS
            and not same_origin(request)
        ):
            raise cross_site_refused()
    if identity is None:
        raise unauthorized()
    enforce_rate_limit(
        deps.rate_limits(request), "admin" if identity.admin else identity.token_hash
    )
    if identity.restaurant is not None:
        return OpsCaller(identity.restaurant, admin=False)
    return OpsCaller(await chosen_restaurant(request), admin=True)
