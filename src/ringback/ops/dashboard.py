"""``/ops``: the dashboard (SPEC §8) and ``/ops/inbox``, its conversations (SPEC §10).
Server-rendered pages (Jinja2), small scripts and one stylesheet served by the app itself (no
CDN); the data comes from ``/api/ops/v1`` with the session cookie. Without a session either page is
the sign-in page, which shows no data."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ringback.http.deps import Tenancy
from ringback.http.errors import not_found
from ringback.http.inputs import parse_id
from ringback.messages.states import MessageStatus
from ringback.ops.auth import (
    SESSION_COOKIE,
    SESSION_TTL,
    end_session,
    identify_session,
    identify_token,
    same_origin,
    start_session,
)
from ringback.relay.model import Direction, Disposition, Outcome, Source
from ringback.tenancy.model import Restaurant

_HERE = Path(__file__).resolve().parent
_STATIC = _HERE / "static"
_STATIC_FILES = {
    "ops.css": "text/css",
    "common.js": "text/javascript",
    "ops.js": "text/javascript",
    "inbox.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": under it a browser sends ``Origin: null`` with our own forms, which the
    # cross-site check must refuse; "same-origin" still tells other sites nothing.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)
_FORM = "application/x-www-form-urlencoded"
# The page's form has one field; a few more (a browser extension's) are tolerated, a flood is not.
_MAX_SIGNIN_FIELDS = 10


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _signed_in(
    request: Request, tenancy: Tenancy, page: str
) -> tuple[Restaurant, bool, list[Restaurant]] | Response:
    """The restaurant a page shows (the admin's ``restaurant_id``), whether it is the admin, and
    the restaurants of the admin's picker; or the page to show instead (sign-in, picker)."""
    identity = await identify_session(request)
    if identity is None:
        return _page("signin.html", error=None, next_page=page)
    restaurants: list[Restaurant] = []
    chosen = identity.restaurant
    if identity.admin:
        restaurants = await tenancy.restaurants()
        raw = request.query_params.get("restaurant_id", "")
        wanted = parse_id(raw) if raw else None
        chosen = next((r for r in restaurants if r.id == wanted), None)
        if chosen is None:
            return _page("picker.html", restaurants=restaurants, page=page)
    assert chosen is not None
    return chosen, identity.admin, restaurants


CALLS_PAGE, INBOX_PAGE = "/ops", "/ops/inbox"
# The pages a sign-in may return to: the page that asked for it, named in the form. Only these
# exact paths, so the form can never send anyone to another site (no open redirect).
_PAGES = frozenset({CALLS_PAGE, INBOX_PAGE})


@router.get(CALLS_PAGE, response_class=HTMLResponse)
async def dashboard(request: Request, tenancy: Tenancy) -> Response:
    found = await _signed_in(request, tenancy, CALLS_PAGE)
    if isinstance(found, Response):
        return found
    chosen, admin, restaurants = found
    return _page(
        "dashboard.html",
        page=CALLS_PAGE,
        restaurant=chosen,
        admin=admin,
        restaurants=restaurants,
        sources=[s.value for s in Source],
        directions=[d.value for d in Direction],
        dispositions=[d.value for d in Disposition],
        outcomes=[o.value for o in Outcome],
        statuses=[s.value for s in MessageStatus],
    )


@router.get(INBOX_PAGE, response_class=HTMLResponse)
async def inbox(request: Request, tenancy: Tenancy) -> Response:
    """The conversations (SPEC §10): the list, a thread, the reply box."""
    found = await _signed_in(request, tenancy, INBOX_PAGE)
    if isinstance(found, Response):
        return found
    chosen, admin, restaurants = found
    return _page(
        "inbox.html", page=INBOX_PAGE, restaurant=chosen, admin=admin, restaurants=restaurants
    )


def _cross_site() -> HTMLResponse:
    return _page(
        "signin.html",
        status=403,
        error="That request did not come from this page. Open the dashboard and try again.",
    )


def _signin_form(request: Request, body: bytes) -> tuple[str, str] | None:
    """The form's one ``token`` field and the page to return to (``next``, one of ``_PAGES``,
    else ``/ops``); None when the form cannot be read that way (another encoding, not UTF-8,
    too many fields, the field twice)."""
    media_type = request.headers.get("content-type", _FORM).partition(";")[0].strip().lower()
    if media_type != _FORM:
        return None
    try:
        form = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_SIGNIN_FIELDS
        )
    except ValueError:  # UnicodeDecodeError too
        return None
    tokens = form.get("token", [""])
    if len(tokens) != 1:
        return None
    pages = form.get("next", [])
    page = pages[0] if len(pages) == 1 and pages[0] in _PAGES else CALLS_PAGE
    return tokens[0].strip(), page


@router.post("/ops/login")
async def login(request: Request) -> Response:
    """Form fields ``token`` (an ops or the admin token) and ``next`` (the dashboard page that
    asked for the sign-in) → 303 to that page (``/ops`` by default) with the cookie."""
    if not same_origin(request):
        return _cross_site()
    form = _signin_form(request, await request.body())
    if form is None:
        return _page("signin.html", status=400, error="The sign-in form could not be read.")
    token, page = form
    identity = await identify_token(request, token) if 0 < len(token) <= 512 else None
    if identity is None:
        return _page(
            "signin.html", status=401, error="That token was not recognised.", next_page=page
        )
    value = await start_session(request, identity)
    reply = RedirectResponse(page, status_code=303, headers={"Cache-Control": "no-store"})
    reply.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return reply


@router.post("/ops/logout")
async def logout(request: Request) -> Response:
    if not same_origin(request):
        return _cross_site()
    await end_session(request)
    reply = RedirectResponse(CALLS_PAGE, status_code=303, headers={"Cache-Control": "no-store"})
    reply.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return reply


@router.get("/ops/static/{name}")
async def static(name: str) -> Response:
    """The dashboard's own files (public, like any stylesheet)."""
    media_type = _STATIC_FILES.get(name)
    if media_type is None:
        raise not_found()
    return FileResponse(
        _STATIC / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
