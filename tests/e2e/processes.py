"""Ringback processes for end-to-end tests: spawn, wait until they serve, stop.

Output goes to a file, never a pipe: a pipe nobody reads would block a chatty child (PostgreSQL
down, debug logs), and the file is there to show when something goes wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.waits import SLOW_MACHINE_SECONDS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def spawn(args: list[str], env: Mapping[str, str], log: Path) -> Process:
    """``python -m ringback.cli *args`` with ``env``, its output in ``log``."""
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            [sys.executable, "-m", "ringback.cli", *args],
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Process(popen, log)


def stop(process: Process) -> bool:
    """SIGTERM, then SIGKILL if it has not stopped after SLOW_MACHINE_SECONDS (a graceful
    shutdown on a loaded machine is slow, not stuck); True when it stopped on SIGTERM (or had
    already)."""
    if process.popen.poll() is not None:
        return True
    process.popen.send_signal(signal.SIGTERM)
    try:
        process.popen.wait(timeout=SLOW_MACHINE_SECONDS)
    except subprocess.TimeoutExpired:
        process.popen.kill()
        process.popen.wait()
        return False
    return True


@dataclass
class Server:
    url: str
    process: Process


async def wait_until_serving(url: str, process: Process, path: str = "/healthz") -> None:
    # a server starting on a loaded machine (imports, migrations check, pool) is slow, not dead
    deadline = time.monotonic() + SLOW_MACHINE_SECONDS
    async with httpx.AsyncClient(timeout=SLOW_MACHINE_SECONDS) as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}{path}")).status_code == 200:
                    return
            if process.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ringback serve did not come up:\n{process.output()}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_server(
    env: Mapping[str, str], log: Path, *extra: str, ready_path: str = "/healthz"
) -> AsyncIterator[Server]:
    """`ringback serve` on a free loopback port, until the block ends."""
    port = free_port()
    process = spawn(["serve", "--host", "127.0.0.1", "--port", str(port), *extra], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serving(url, process, ready_path)
        yield Server(url, process)
    finally:
        stop(process)
