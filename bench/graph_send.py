"""CPU per Graph API send: Ringback's sender beside aiohttp alone, against a local fake Graph API.

Every partner report sends its WhatsApp message inline, so the send's CPU is part of every
report's (issue 15). This starts the tests' fake Graph API in its own process
(``python -m tests.fakegraph``), then, in this process on uvloop, runs ``--sends`` sends at
``--concurrency`` at once, ``--rounds`` times, each way:

- ``sender``: ``WhatsAppCloudSender`` on the service's own client
  (``bootstrap.build_graph_client``), exactly as a report sends;
- ``aiohttp``: the same body and headers POSTed with aiohttp's session directly and the reply's
  id read — the floor of this piece (what the same-work floor's server does).

It prints the process's CPU time per send (``time.process_time``: the fake runs elsewhere) and
the sends per second. Usage::

    python -m bench.graph_send [--sends 5000] [--concurrency 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import uvloop

from ringback.bootstrap import build_graph_client
from ringback.messages.graph import WhatsAppCloudSender, message_body
from ringback.messages.ports import ClaimedMessage
from ringback.settings import Settings

MESSAGE = ClaimedMessage(
    id=1,
    lease_token=uuid.uuid4(),
    attempts=0,
    phone_number_id="1234567890",
    access_token="bench-access-token",  # the fake accepts any token
    to_phone_number="+14155550100",
    template_name="missed_call_new",
    template_language="en_US",
    parameters=["Casa Bench"],
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_fake() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakegraph", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30  # a slow machine starts uvicorn slowly
    while True:
        try:
            urllib.request.urlopen(f"{origin}/_fakegraph/requests", timeout=1).read()  # noqa: S310
            return fake, f"{origin}/v21.0"
        except OSError:
            if time.monotonic() > deadline or fake.poll() is not None:
                fake.kill()
                raise RuntimeError("the fake Graph API did not start") from None
            time.sleep(0.1)


async def _measure(
    name: str, send: Callable[[], Awaitable[None]], sends: int, concurrency: int, rounds: int
) -> list[float]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await send()

    await asyncio.gather(*(one() for _ in range(min(sends, 500))))  # warm: connections, caches
    per_send = []
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(sends)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        per_send.append(1e6 * cpu / sends)
        print(f"  {name:8} {per_send[-1]:7.1f} µs CPU per send, {sends / wall:7.0f} sends/s")
    return per_send


async def _run(base_url: str, sends: int, concurrency: int, rounds: int) -> None:
    client = build_graph_client(Settings(_env_file=None))
    sender = WhatsAppCloudSender(client, base_url)

    async def ringback() -> None:
        result = await sender.send(MESSAGE)
        assert result.accepted, result

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100), cookie_jar=aiohttp.DummyCookieJar()
    )
    url = f"{base_url}/{MESSAGE.phone_number_id}/messages"
    headers = {
        "Authorization": f"Bearer {MESSAGE.access_token}",
        "Content-Type": "application/json",
    }

    async def bare() -> None:
        body = json.dumps(message_body(MESSAGE)).encode()
        async with session.post(url, data=body, headers=headers) as reply:
            assert json.loads(await reply.read())["messages"][0]["id"]

    try:
        mine = await _measure("sender", ringback, sends, concurrency, rounds)
        floor = await _measure("aiohttp", bare, sends, concurrency, rounds)
    finally:
        await client.aclose()
        await session.close()
    mine_us, floor_us = statistics.median(mine), statistics.median(floor)
    print(
        f"median CPU per send: sender {mine_us:.1f} µs, aiohttp alone {floor_us:.1f} µs "
        f"(ratio {mine_us / floor_us:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sends", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fake, base_url = _start_fake()
    try:
        uvloop.run(_run(base_url, args.sends, args.concurrency, args.rounds))
    finally:
        fake.terminate()
        fake.wait(timeout=30)


if __name__ == "__main__":
    main()
