"""Instructions per partner report in the server process, counted by callgrind: Ringback beside
the same-work floor, a figure that does not move with the machine's speed.

``run_bench.py`` (``../shared/bench/samework``) measures req/s and CPU time per report, and on a
shared 2-core machine those move by a quarter between runs minutes apart (docs/PERFORMANCE.md,
issue 15). Instructions do not: this runs each server under ``valgrind --tool=callgrind``
with instrumentation off, sets it up exactly as run_bench does (its own database, the fake Graph
API in its own process, the restaurant and token, rate limits off; run_bench's own code, imported
from ``--samework``), sends ``--warmup`` reports, turns instrumentation on, sends ``--reports``
reports one after the other (each its own valid mobile), dumps, and prints the server's
instructions per report. Everything the server process executes in user space in that span
counts: its request handling, the event loop, and Ringback's outbox worker and LISTEN task if
they wake (part of its cost). Not counted: the kernel's side of its system calls (a round trip
saved shows mostly there and in PostgreSQL, so run_bench's transactions, blocks and WAL per
report stay the measure of those) and PostgreSQL itself.

    /tmp/samework-venv/bin/python -m bench.instructions_per_report  # --samework DIR, --reports N

with the interpreter run_bench uses (asyncpg, aiohttp, phonenumbers, psutil, uvicorn) and valgrind
installed (``--samework`` defaults to ``../shared/bench/samework``); about half a minute per
server under valgrind. Run by hand, as run_bench is (CI has no samework folder beside its clone).
The server's startup is not instrumented (``--instr-atstart=no``), so it starts at nearly full
speed; the warm-up reports are not counted either.
"""

from __future__ import annotations

import argparse
import importlib
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import phonenumbers

ROOT = Path(__file__).resolve().parent.parent
REPORT_PATH = "/api/partner/v1/missed-calls"
VALGRIND = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no"]


def mobile(rng: random.Random) -> str:
    """A French mobile that phonenumbers reads as valid and a mobile, as run_bench's are
    (``tests.conftest.random_mobile`` reads it through ringback, which run_bench's interpreter,
    the one this runs on, does not have)."""
    while True:
        candidate = f"+336{rng.randint(10_000_000, 99_999_999)}"
        number = phonenumbers.parse(candidate)
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return candidate


def under_valgrind(command: list[str], out_file: Path) -> list[str]:
    """``command`` run by callgrind; a script (the ``ringback`` entry point) through its
    interpreter, as valgrind runs binaries."""
    program = Path(command[0])
    head = [command[0]]
    if not program.name.startswith("python"):
        head = [str(program.parent / "python"), command[0]]
    return [*VALGRIND, f"--callgrind-out-file={out_file}", *head, *command[1:]]


def start_under_valgrind(run_bench: ModuleType, system: Any, out: Path) -> None:
    """``system.start()`` with its server process (not ``ringback migrate``) under callgrind."""
    popen = run_bench.subprocess.Popen

    def valgrind_popen(command: Any, *rest: Any, **kwargs: Any) -> Any:
        if isinstance(command, list) and ("serve" in command or "uvicorn" in command):
            command = under_valgrind(command, out)
        return popen(command, *rest, **kwargs)

    run_bench.subprocess.Popen = valgrind_popen
    try:
        system.start()
    finally:
        run_bench.subprocess.Popen = popen


def counted(run_bench: ModuleType, system: Any, args: argparse.Namespace, out: Path) -> float:
    """Instructions the server executed per report, over ``args.reports`` sequential reports."""
    rng = random.Random(args.seed)
    headers = {"Authorization": f"Bearer {system.token}"}

    def report() -> None:
        body = {"caller_phone_number": mobile(rng), "external_call_id": secrets.token_hex(8)}
        status, reply = run_bench.http("POST", system.url + REPORT_PATH, body, headers, 120)
        if status != 201 or reply["data"]["outcome"] != "SENT":
            raise RuntimeError(f"report refused: {status} {reply}")

    for _ in range(args.warmup):
        report()
    pid = str(system.process.pid)
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
    for _ in range(args.reports):
        report()
    subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
    time.sleep(1)
    dumps = sorted(out.parent.glob(out.name + "*"), key=lambda p: p.stat().st_mtime)
    totals = [
        int(m.group(1))
        for m in re.finditer(r"^(?:summary|totals): (\d+)", dumps[-1].read_text(), re.M)
    ]
    reports: int = args.reports
    return max(totals) / reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samework", type=Path, default=ROOT.parent / "shared/bench/samework")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--ringback", type=Path, default=ROOT)
    parser.add_argument("--systems", nargs="+", default=["A", "B"], choices=["A", "B"])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(args.samework.resolve()))
    run_bench: Any = importlib.import_module("run_bench")
    ready = run_bench.wait_ready
    # a server starts slower under valgrind than run_bench's minute allows for
    run_bench.wait_ready = lambda url, process, log: ready(url, process, log, seconds=900)
    logs = Path(tempfile.mkdtemp(prefix="instructions-"))
    graph = run_bench.FakeGraph(sys.executable, logs)
    results = {}
    try:
        for key in args.systems:
            out = logs / f"callgrind-{key}.out"
            system = run_bench.System(key, 1, args.server, args.ringback, graph, logs)
            start_under_valgrind(run_bench, system, out)
            try:
                results[key] = counted(run_bench, system, args, out)
            finally:
                system.stop()
                system.drop()
            print(f"{run_bench.NAMES[key]:<9} {results[key] / 1e6:8.2f} M instructions / report")
    finally:
        graph.close()
    if {"A", "B"} <= results.keys():
        print(f"Ringback / floor: {results['A'] / results['B']:.2f}")
    print(f"({args.reports} sequential reports after {args.warmup}; logs in {logs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
