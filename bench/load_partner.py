"""Load benchmark of POST /api/partner/v1/missed-calls against its SPEC §9 baseline.

    python -m bench.load_partner [--duration 15] [--connections 32] [--workers 1]
                                 [--inline-timeout 2.0] [--smoke]

In one run it starts a fake Graph server, a fresh database (on BENCH_DATABASE_URL's server, by
default the local PostgreSQL at 127.0.0.1:5432, else an embedded one), then measures with wrk
(every request its own external_call_id and mobile number, see missed_calls.lua):
  1. `ringback serve` with the rate limits off and WhatsApp pointed at the fake Graph server
     (each report's message sent inline, as by default; `--inline-timeout 0` leaves the sends
     to the server's own worker);
  2. the baseline: bench/baseline_app.py, one asyncpg INSERT per request, same uvicorn settings;
  3. the framework floor: bench/floor_app.py, the same INSERT behind a FastAPI route.
It prints requests/s, p50/p90/p99 latency, CPU per process and peak memory for each, and the ratios.
Figures are printed, never asserted; docs/PERFORMANCE.md keeps them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from sqlalchemy.engine import make_url
from tests.fakegraph import FakeGraph

from ringback.bootstrap import build_container
from ringback.db.embedded import embedded_database_url
from ringback.db.migrate import upgrade_to_head
from ringback.settings import Settings
from ringback.tenancy.model import StoredWhatsApp, Template, TokenKind, mint_token
from ringback.tenancy.stored import StoredSettings

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "missed_calls.lua"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Figures:
    name: str
    rps: float = 0.0
    requests: int = 0
    non2xx: int = 0
    errors: int = 0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def server_url() -> str:
    configured = os.environ.get("BENCH_DATABASE_URL")
    if configured:
        return configured
    probe = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False)
    if probe.returncode == 0:
        return DEFAULT_SERVER
    pgdata = Path(tempfile.mkdtemp(prefix="ringback-bench-pg-")) / "pgdata"
    return embedded_database_url(pgdata, delete_on_exit=True)


async def create_database(server: str) -> str:
    name = f"ringback_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn(server))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


async def drop_database(server: str, url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(dsn(server))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def seed_restaurant(database_url: str) -> str:
    settings = Settings(_env_file=None, database_url=database_url)
    container = await build_container(settings, start_worker=False)
    try:
        stored = await container.tenancy.create_restaurant(
            StoredSettings(
                name="Bench Brasserie",
                country="FR",
                timezone="Europe/Paris",
                whatsapp=StoredWhatsApp(
                    phone_number_id="1234567890",
                    access_token="bench-access-token",
                    templates={
                        "MISSED_CALL": Template("missed_call", "fr"),
                        "MISSED_CALL_WITH_RESERVATION": Template("missed_resa", "fr"),
                        "CALLBACK_UNANSWERED": Template("callback", "fr"),
                    },
                ),
            ),
            slug=f"bench-{uuid.uuid4().hex[:8]}",
        )
        token = mint_token(TokenKind.PARTNER)
        await container.tenancy.create_token(stored.id, TokenKind.PARTNER, token, "bench")
        return token
    finally:
        await container.aclose()


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not come up")


class Sampler:
    """Samples CPU seconds and RSS of a process tree while the load runs."""

    def __init__(self, root_pid: int) -> None:
        self.root = psutil.Process(root_pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start: dict[int, tuple[str, float]] = {}
        self._end: dict[int, tuple[str, float]] = {}

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _cpu(self) -> dict[int, tuple[str, float]]:
        out = {}
        for proc in self._tree():
            try:
                times = proc.cpu_times()
                out[proc.pid] = (proc.name(), times.user + times.system)
            except psutil.NoSuchProcess:
                continue
        return out

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss = 0
            for proc in self._tree():
                try:
                    rss += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self._stop.wait(0.1)

    def __enter__(self) -> Sampler:
        self._start = self._cpu()
        self._started_at = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._end = self._cpu()
        self.elapsed = time.monotonic() - self._started_at

    def cpu_percent(self) -> dict[str, float]:
        """CPU use of each process over the run, in percent of one core."""
        out = {}
        for index, (pid, (name, end)) in enumerate(sorted(self._end.items())):
            begin = self._start.get(pid, (name, 0.0))[1]
            out[f"{name}[{index}]"] = round(100 * (end - begin) / self.elapsed, 1)
        return out


_OFFSETS = iter(range(0, 10**6, 100_000))  # wrk runs never share a number (100,000 each)


def run_wrk(url: str, token: str, args: argparse.Namespace, duration: float) -> dict[str, Any]:
    offset = str(next(_OFFSETS))
    env = {**os.environ, "RINGBACK_BENCH_TOKEN": token, "RINGBACK_BENCH_OFFSET": offset}
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{max(1, round(duration))}s",
        "--timeout", "10s", "-s", str(LUA), url,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return result


def measure(
    name: str, url: str, process: subprocess.Popen[bytes], token: str, args: argparse.Namespace
) -> Figures:
    wait_ready(url, process)
    run_wrk(url, token, args, args.warmup)
    with Sampler(process.pid) as sampler:
        result = run_wrk(url, token, args, args.duration)
    seconds = result["duration_us"] / 1e6
    return Figures(
        name=name,
        rps=result["requests"] / seconds,
        requests=result["requests"],
        non2xx=result["non2xx"],
        errors=result["connect_errors"] + result["read_errors"] + result["timeouts"],
        p50_ms=result["p50_us"] / 1000,
        p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        cpu=sampler.cpu_percent(),
        peak_rss_mb=sampler.peak_rss / 2**20,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def uvicorn_flags(args: argparse.Namespace) -> list[str]:
    return ["--workers", str(args.workers)]


def measure_app(
    name: str, app: str, database_url: str, token: str, args: argparse.Namespace
) -> Figures:
    """Measure one of the comparison apps under the same uvicorn settings as Ringback."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
         "--loop", "uvloop", "--http", "httptools", *uvicorn_flags(args)],
        env={**os.environ, "BASELINE_DATABASE_URL": dsn(database_url)},
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return measure(name, f"http://127.0.0.1:{port}", process, token, args)
    finally:
        stop(process)


def run(args: argparse.Namespace) -> tuple[Figures, Figures, Figures, dict[str, int]]:
    server = server_url()
    database_url = asyncio.run(create_database(server))
    try:
        upgrade_to_head(database_url)
        token = asyncio.run(seed_restaurant(database_url))
        with FakeGraph() as graph:
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "WHATSAPP_API_BASE_URL": graph.base_url,
                "RINGBACK_RATE_LIMIT_PER_SECOND": "0",
                "RINGBACK_INLINE_DISPATCH_TIMEOUT": str(args.inline_timeout),
            }
            ringback = subprocess.Popen(
                [sys.executable, "-m", "ringback.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port), *uvicorn_flags(args)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                ours = measure("ringback", f"http://127.0.0.1:{port}", ringback, token, args)
            finally:
                stop(ringback)
            sent = sum(1 for r in graph.requests if r.status == 200)
        counts = asyncio.run(count_rows(database_url))
        counts["graph_accepted"] = sent
        base = measure_app("baseline", "bench.baseline_app:app", database_url, token, args)
        floor = measure_app("floor", "bench.floor_app:app", database_url, token, args)
        return ours, base, floor, counts
    finally:
        asyncio.run(drop_database(server, database_url))


async def count_rows(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn(database_url))
    try:
        calls = await conn.fetchval("SELECT count(*) FROM call")
        by_outcome = await conn.fetch("SELECT outcome, count(*) FROM call GROUP BY 1")
        messages = await conn.fetchval("SELECT count(*) FROM message")
        by_status = await conn.fetch("SELECT status, count(*) FROM message GROUP BY 1")
    finally:
        await conn.close()
    counts = {"calls": int(calls), "messages": int(messages)}
    counts.update({f"outcome_{r['outcome']}": int(r["count"]) for r in by_outcome})
    counts.update({f"message_{r['status']}": int(r["count"]) for r in by_status})
    return counts


def report(
    ours: Figures, base: Figures, floor: Figures, counts: dict[str, int], args: argparse.Namespace
) -> None:
    print(
        f"POST /api/partner/v1/missed-calls — {args.connections} connections, "
        f"{args.threads} wrk threads, {args.duration:.0f} s, {args.workers} server process(es), "
        f"inline send timeout {args.inline_timeout:g} s"
    )
    print(
        f"{'':10} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'errors':>7} {'peak MB':>8}  CPU % per process"
    )
    for f in (ours, base, floor):
        cpu = ", ".join(f"{k} {v}" for k, v in f.cpu.items())
        print(
            f"{f.name:10} {f.rps:9.0f} {f.p50_ms:8.2f} {f.p90_ms:8.2f} {f.p99_ms:8.2f} "
            f"{f.non2xx:8d} {f.errors:7d} {f.peak_rss_mb:8.1f}  {cpu}"
        )
    ratio = ours.rps / base.rps if base.rps else 0.0
    print(
        f"ratio ringback / baseline: {ratio:.2f} (target >= 0.60); "
        f"ringback p99 {ours.p99_ms:.1f} ms (target < 25 ms at 32 connections)"
    )
    floor_ratio = floor.rps / base.rps if base.rps else 0.0
    print(
        f"ratio floor / baseline: {floor_ratio:.2f} "
        "(FastAPI, a pydantic body and the same one INSERT: no report can cost less)"
    )
    print("rows:", json.dumps(counts, sort_keys=True))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--inline-timeout",
        type=float,
        default=2.0,
        help="RINGBACK_INLINE_DISPATCH_TIMEOUT (default 2.0, the service's default); 0 = every "
        "report answers QUEUED and the server's own worker sends",
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.warmup, args.connections = 2, 1, 4
    return args


def main(argv: list[str] | None = None) -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    args = parse(argv)
    ours, base, floor, counts = run(args)
    report(ours, base, floor, counts, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
