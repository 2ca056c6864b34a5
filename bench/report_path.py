"""What one partner report crosses: Ringback's source files and its own value types.

A report's way through the code is what a newcomer has to hold in their head (issue 14 measures it
before and after the move to feature slices). This runs the real app in process on a fresh
database, warms it with one report, then traces a second one (``sys.setprofile``) and prints:

- every ``src/ringback`` file a function of which ran, and
- every class defined in ``ringback`` of which a value was seen in a running frame's locals
  (arguments, results kept in variables, the objects passed between layers).

The Graph API is mocked with respx, so the send succeeds inline (the ``SENT`` path). Usage::

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python -m bench.report_path
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from tests.graphmock import POSTER, mock_graph

import ringback
from bench.ops_bench import with_database
from ringback.app import create_app
from ringback.bootstrap import build_container
from ringback.settings import Settings

SRC = Path(ringback.__file__).resolve().parent
ADMIN = "admin-token-for-report-path-0123456789"
GRAPH = "https://graph.report-path.test/v21.0"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Tracer:
    def __init__(self) -> None:
        self.files: set[str] = set()
        self.types: set[str] = set()

    def __call__(self, frame: types.FrameType, event: str, arg: Any) -> None:
        filename = frame.f_code.co_filename
        if not filename.startswith(str(SRC)):
            return
        self.files.add(str(Path(filename).relative_to(SRC.parent)))
        if event == "return":
            for value in [*frame.f_locals.values(), arg]:
                kind = type(value)
                if kind.__module__.startswith("ringback") and not isinstance(value, type):
                    self.types.add(f"{kind.__module__}.{kind.__qualname__}")


async def main() -> None:
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    await with_database(server, False, _measure)


async def _measure(url: str) -> None:
    settings = Settings(
        _env_file=None,
        database_url=url,
        admin_token=ADMIN,
        whatsapp_api_base_url=GRAPH,
        rate_limit_per_second=0,
    )
    container = await build_container(settings, start_worker=False, graph=POSTER)
    app = create_app(settings, container)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    wamids = iter(range(1, 100))

    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"messages": [{"id": f"wamid.path{next(wamids)}"}]})

    try:
        with mock_graph(base_url=GRAPH) as graph:
            graph.post(path__regex=r"/[^/]+/messages").mock(side_effect=ok)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                made = await http.post(
                    "/api/admin/v1/restaurants",
                    headers=auth,
                    json={
                        "name": "Path",
                        "country": "FR",
                        "timezone": "Europe/Paris",
                        "whatsapp": {
                            "phone_number_id": "1",
                            "access_token": "t",
                            "templates": {"MISSED_CALL": {"name": "m", "language": "fr"}},
                        },
                    },
                )
                rid = made.json()["data"]["id"]
                tok = await http.post(
                    f"/api/admin/v1/restaurants/{rid}/tokens",
                    headers=auth,
                    json={"kind": "partner"},
                )
                partner = {"Authorization": f"Bearer {tok.json()['data']['token']}"}

                async def report(n: int) -> dict[str, Any]:
                    body = {"caller_phone_number": f"+3361234567{n}", "external_call_id": f"p{n}"}
                    reply = await http.post(
                        "/api/partner/v1/missed-calls", headers=partner, json=body
                    )
                    data: dict[str, Any] = reply.json()["data"]
                    return data

                await report(1)  # warm: caches, prepared statements, lazy imports
                tracer = Tracer()
                sys.setprofile(tracer)
                try:
                    traced = await report(2)
                finally:
                    sys.setprofile(None)
    finally:
        await container.aclose()
    print(json.dumps({"outcome": traced["outcome"]}))
    print(f"source files on a report's path: {len(tracer.files)}")
    for file in sorted(tracer.files):
        print(f"  {file}")
    print(f"ringback value types on a report's path: {len(tracer.types)}")
    for kind in sorted(tracer.types):
        print(f"  {kind}")


if __name__ == "__main__":
    asyncio.run(main())
