"""Admin credentials: ``Authorization: Bearer <RINGBACK_ADMIN_TOKEN>``; unset token → always 401.

The check runs in the route class, before FastAPI reads the body, so an unauthenticated caller
learns nothing about the body's shape (not even whether it is valid JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from ringback.http.deps import rate_limits, settings
from ringback.http.errors import unauthorized
from ringback.tenancy.auth import credential, enforce_rate_limit, is_admin_token

# Declared on the router so OpenAPI shows the scheme; enforcement is ``AdminRoute``'s.
admin_bearer = HTTPBearer(
    auto_error=False, scheme_name="AdminToken", description="RINGBACK_ADMIN_TOKEN"
)


def require_admin(request: Request) -> None:
    # a plain function of the request, not a dependency: it runs before FastAPI reads the body
    if not is_admin_token(settings(request), credential(request, "Bearer")):
        raise unauthorized()
    enforce_rate_limit(rate_limits(request), "admin")


class AdminRoute(APIRoute):
    """An APIRoute that refuses callers without the admin token before anything else runs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            require_admin(request)
            return await handler(request)

        return guarded
