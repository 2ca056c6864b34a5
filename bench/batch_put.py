"""Batch PUTs of the partner API (SPEC §9: a PUT of 1,000 customers or reservations under 1 s).

    python -m bench.batch_put                 # 1,000 items per PUT, 5 timed runs of each
    python -m bench.batch_put --items 100 --runs 1    # smoke size (CI)

In one run it creates a fresh database (on BENCH_DATABASE_URL's server, by default the local
PostgreSQL at 127.0.0.1:5432, else an embedded one), starts `ringback serve` with the rate limits
off, and times over HTTP, for customers and for reservations, a PUT that creates every item and a
PUT of the same items that updates every one (each reservation's customer is matched or created
by number, as the API does). Every run uses numbers and external ids of its own. It prints the
median and worst wall time of each. Figures are printed, never asserted; docs/PERFORMANCE.md keeps
them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx

from bench.load_partner import (
    create_database,
    drop_database,
    free_port,
    seed_restaurant,
    server_url,
    stop,
    wait_ready,
)
from ringback.db.migrate import upgrade_to_head

TARGET_SECONDS = 1.0
# A PUT of 1,000 items is about 150 KB; the client waits for as long as a loaded machine may need
# (the figure is the measurement, never a pass/fail).
CLIENT_TIMEOUT_SECONDS = 120.0


def numbers(start: int) -> Iterator[str]:
    """Distinct valid French mobiles: +33 6 then eight digits."""
    for n in range(start, 100_000_000):
        yield f"+336{n:08d}"


def customers(phones: list[str], round_: int) -> list[dict[str, Any]]:
    return [
        {
            "phone_number": phone,
            "name": f"Guest {round_}-{i}",
            "lang": "fr",
            "external_id": f"c-{i}",
        }
        for i, phone in enumerate(phones)
    ]


def reservations(phones: list[str], run: int, round_: int) -> list[dict[str, Any]]:
    start = dt.datetime(2031, 1, 1, 19, 0, tzinfo=dt.UTC)
    return [
        {
            "external_id": f"bench-{run}-{i}",
            "start_at": (start + dt.timedelta(minutes=15 * i)).isoformat(),
            "party_size": 2 + (i + round_) % 6,
            "status": "CONFIRMED" if round_ else "PENDING",
            "customer": {"phone_number": phone, "name": f"Guest {round_}-{i}"},
        }
        for i, phone in enumerate(phones)
    ]


def put(client: httpx.Client, path: str, body: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    reply = client.put(path, json=body)
    elapsed = time.perf_counter() - started
    if reply.status_code != 200 or len(reply.json()["data"]) != len(body):
        raise RuntimeError(f"PUT {path}: {reply.status_code} {reply.text[:300]}")
    return elapsed


def measure(base_url: str, token: str, items: int, runs: int) -> dict[str, list[float]]:
    """Wall times in seconds of each kind of PUT, after one warm-up round."""
    figures: dict[str, list[float]] = {
        "customers, all new": [],
        "customers, all updated": [],
        "reservations, all new (customers too)": [],
        "reservations, all updated": [],
    }
    source = numbers(0)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        for run in range(runs + 1):
            kept = run > 0  # the first round warms the server up
            phones = [next(source) for _ in range(items)]
            for round_, name in enumerate(("customers, all new", "customers, all updated")):
                took = put(client, "/api/partner/v1/customers", customers(phones, round_))
                if kept:
                    figures[name].append(took)
            phones = [next(source) for _ in range(items)]
            for round_, name in enumerate(
                ("reservations, all new (customers too)", "reservations, all updated")
            ):
                took = put(
                    client, "/api/partner/v1/reservations", reservations(phones, run, round_)
                )
                if kept:
                    figures[name].append(took)
    return figures


def run(items: int, runs: int) -> dict[str, list[float]]:
    server = server_url()
    database_url = asyncio.run(create_database(server))
    try:
        upgrade_to_head(database_url)
        token = asyncio.run(seed_restaurant(database_url))
        port = free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "RINGBACK_RATE_LIMIT_PER_SECOND": "0"}
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ringback.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port), "--no-worker"],
                env=env, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            try:
                url = f"http://127.0.0.1:{port}"
                wait_ready(url, process)
                return measure(url, token, items, runs)
            except BaseException:
                stop(process)
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace")[-4000:])
                raise
            finally:
                stop(process)
    finally:
        asyncio.run(drop_database(server, database_url))


def report(figures: dict[str, list[float]], items: int, runs: int) -> str:
    out = [
        f"batch PUT bench: {items:,} items per PUT, {runs} timed run(s) of each, "
        "one server process",
        f"  machine: {platform.node()} · {os.cpu_count()} cores · {platform.platform()}",
        f"  date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
    ]
    for name, samples in figures.items():
        median = statistics.median(samples)
        verdict = "ok" if median < TARGET_SECONDS else "OVER"
        out.append(
            f"  PUT {name:<40} median {median * 1000:8.1f} ms  worst {max(samples) * 1000:8.1f} ms"
            f"  (target < {TARGET_SECONDS * 1000:g} ms)  {verdict}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=1000, help="items per PUT (the API's max)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each PUT")
    args = parser.parse_args(argv)
    print(report(run(args.items, args.runs), args.items, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
