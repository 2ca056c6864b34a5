"""`ringback serve` with RINGBACK_LOG_FORMAT=json logs one JSON event per line with request ids."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import running_server, stop
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.sql]


async def test_json_logs_carry_the_request_id_on_every_line_of_a_request(
    database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "RINGBACK_LOG_FORMAT": "json"}
    log = tmp_path / "serve.log"
    async with running_server(env, log, "--no-worker") as server:
        async with httpx.AsyncClient(timeout=SLOW_MACHINE_SECONDS) as http:
            reply = await http.post(
                f"{server.url}/api/partner/v1/missed-calls",
                json={},
                headers={"X-Request-ID": "e2e-log-check"},
            )
        assert reply.status_code == 401
        assert stop(server.process)
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert events, "no log lines"
    access = [e for e in events if e["logger"] == "uvicorn.access"]
    assert any(
        e["request_id"] == "e2e-log-check" and "missed-calls" in e["message"] for e in access
    )
    assert all({"time", "level", "logger", "message", "request_id"} <= set(e) for e in events)
