"""``Allow`` on a 405 comes from the routes' own matching, however the routers are nested: routers
included in routers, routers on the app, the app's own routes and plain Starlette routes (issue 13,
item 8). No database: a 405 is answered before any dependency runs."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ringback.http.errors import install_error_handlers
from ringback.http.head import HeadAsGetMiddleware


async def ok() -> dict[str, bool]:
    return {"ok": True}


async def plain(request: Request) -> Response:
    return PlainTextResponse("plain")


def routed_every_way() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(HeadAsGetMiddleware)

    inner = APIRouter(prefix="/inner")
    inner.get("/thing")(ok)
    inner.delete("/thing")(ok)
    middle = APIRouter(prefix="/middle")
    middle.include_router(inner)
    app.include_router(middle)

    first, second = APIRouter(), APIRouter()
    first.get("/shared")(ok)
    second.post("/shared")(ok)
    app.include_router(first)
    app.include_router(second)

    app.put("/top")(ok)
    app.router.routes.append(Route("/plain", plain, methods=["GET"]))
    return app


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/middle/inner/thing", "DELETE, GET, HEAD"),  # a router in a router
        ("DELETE", "/shared", "GET, HEAD, POST"),  # one path, two routers
        ("GET", "/top", "PUT"),  # the app's own route
        ("POST", "/plain", "GET, HEAD"),  # Starlette's route (it adds HEAD itself)
        ("OPTIONS", "/middle/inner/thing", "DELETE, GET, HEAD"),
    ],
)
async def test_allow_lists_every_method_of_the_path_however_routes_nest(
    method: str, path: str, allow: str
) -> None:
    transport = httpx.ASGITransport(app=routed_every_way())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        reply = await client.request(method, path)
    assert (reply.status_code, reply.headers["allow"]) == (405, allow)
    assert reply.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_head_is_get_without_content_on_a_nested_route() -> None:
    transport = httpx.ASGITransport(app=routed_every_way())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        got = await client.get("/middle/inner/thing")
        head = await client.head("/middle/inner/thing")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
