"""`ringback serve` with RINGBACK_LOG_FORMAT=json logs one JSON event per line with request ids."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.sql]


def test_json_logs_carry_the_request_id_on_every_line_of_a_request(database_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url, "RINGBACK_LOG_FORMAT": "json"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ringback.cli", "serve", "--no-worker", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        reply = httpx.post(
            f"http://127.0.0.1:{port}/api/partner/v1/missed-calls",
            json={},
            headers={"X-Request-ID": "e2e-log-check"},
        )
        assert reply.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    events = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert events, "no log lines"
    access = [e for e in events if e["logger"] == "uvicorn.access"]
    assert any(
        e["request_id"] == "e2e-log-check" and "missed-calls" in e["message"] for e in access
    )
    assert all({"time", "level", "logger", "message", "request_id"} <= set(e) for e in events)
