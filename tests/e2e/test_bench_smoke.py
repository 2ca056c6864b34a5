"""The operations benchmark at smoke size (SPEC §9): it seeds, measures and reports every figure.
Timings are printed, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.sql]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ops_bench.py"


def test_ops_bench_reports_every_figure_at_smoke_size(pg_server_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--rows",
            "3000",
            "--runs",
            "1",
            "--database-url",
            pg_server_url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "3,000 calls in one restaurant" in out
    for figure in (
        "first page (50)",
        "rows deep",
        "filter source=telnyx",
        "filter message_status=failed",
        "filter phone",
        "filter recovered=true",
        "stats, 30 days by day",
        "CSV peak memory growth",
    ):
        assert figure in out, figure
    assert "CSV: 3,000 rows" in out


def bench_module(module: str, *args: str) -> str:
    """``python -m bench.<module> <args>`` from the checkout's root; its output, once it
    succeeded (a bench at smoke size takes seconds: 300 s is for a machine under load)."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_conversations_bench_reports_every_figure_at_smoke_size(pg_server_url: str) -> None:
    out = bench_module(
        "conversations_at_scale",
        "--conversations", "2000", "--messages", "20000", "--calls", "2000", "--runs", "1",
        "--database-url", pg_server_url,
    )  # fmt: skip
    assert "2,000 conversations, 20,000 inbound messages" in out
    for figure in (
        "inbox, first page (50)",
        "deep",
        "inbox, unread=true (100 unread)",
        "inbox, phone",
        "thread (10 messages",
        "read mark",
        "webhook, a message in an existing conversation",
        "webhook, a message opening a conversation",
    ):
        assert figure in out, figure


def test_load_bench_runs_all_three_apps_and_every_report_sent_exactly_one_message(
    pg_server_url: str,
) -> None:
    """wrk is a required tool here (CI installs it): a missing one fails, never skips."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "bench.load_partner", "--smoke"],
        cwd=root,
        env={**os.environ, "BENCH_DATABASE_URL": pg_server_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("ringback ") for line in lines)
    assert any(line.startswith("baseline ") for line in lines)
    assert any(line.startswith("floor ") for line in lines)
    assert any(line.startswith("ratio ringback / baseline:") for line in lines)
    assert any(line.startswith("ratio floor / baseline:") for line in lines)
    rows = json.loads(next(line for line in lines if line.startswith("rows: "))[len("rows: ") :])
    assert rows["calls"] > 0
    assert rows["messages"] == rows["calls"] == rows["graph_accepted"]


def test_batch_put_bench_times_every_kind_of_put_at_smoke_size(pg_server_url: str) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "bench.batch_put", "--items", "200", "--runs", "1"],
        cwd=root,
        env={**os.environ, "BENCH_DATABASE_URL": pg_server_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "200 items per PUT" in out
    for figure in (
        "PUT customers, all new",
        "PUT customers, all updated",
        "PUT reservations, all new (customers too)",
        "PUT reservations, all updated",
    ):
        assert figure in out, figure


def test_intake_at_scale_bench_reports_every_run_at_smoke_size(pg_server_url: str) -> None:
    """The three runs (empty, seeded without statistics, after ANALYZE) report their figures,
    and a report reads the same index tuples on the seeded database as on the empty one."""
    out = bench_module(
        "intake_at_scale",
        "--rows", "5000", "--reports", "40", "--concurrency", "4",
        "--database-url", pg_server_url,
    )  # fmt: skip
    assert "5,000 calls in one restaurant" in out
    runs = {}
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] in ("empty", "absent", "fresh") and len(fields) == 8:
            runs[fields[0]] = [float(value) for value in fields[1:]]
    assert set(runs) == {"empty", "absent", "fresh"}, out
    # analyzed, req/s, round trips, idx tuples, seq tuples, pages hit, pages read
    assert runs["empty"][0] == runs["absent"][0] == 0  # no statistics on either
    assert runs["fresh"][0] > 0
    for figures in runs.values():
        assert figures[1] > 0
        # per report: its decision, and its send's record, alone or in one statement with the
        # records of the other reports in flight (at most 4: SqlOutbox's group commit), plus the
        # token's lookup, once
        assert 1.0 + 1 / 4 <= figures[2] < 2.5
    assert runs["absent"][3] == runs["empty"][3]  # the same index reads whatever the data


def test_graph_send_bench_times_the_sender_and_aiohttp_alone_at_smoke_size() -> None:
    """Every send of both ways is accepted by the fake Graph API (the bench asserts it), and
    each way prints its CPU per send."""
    out = bench_module("graph_send", "--sends", "200", "--rounds", "1")
    lines = out.splitlines()
    assert sum(1 for line in lines if line.split()[:1] == ["sender"]) == 1, out
    assert sum(1 for line in lines if line.split()[:1] == ["aiohttp"]) == 1, out
    assert "median CPU per send: sender" in out, out
