"""The ``ringback`` command line: argument parsing and the choice of database (no server starts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from pydantic import ValidationError

from ringback.cli import (
    DEFAULT_PGDATA,
    build_parser,
    database_url_or_embedded,
    sandbox_graph_url,
    serve_environment,
)
from ringback.demo import random_french_mobile
from ringback.settings import SANDBOX_APP_SECRET, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests build Settings themselves; the caller's environment must not leak in."""
    for name in (
        "DATABASE_URL",
        "WHATSAPP_API_BASE_URL",
        "WHATSAPP_APP_SECRET",
        "RINGBACK_SANDBOX",
        "RINGBACK_RUN_WORKER",
    ):
        monkeypatch.delenv(name, raising=False)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


class FakeEmbedded:
    """Records where the embedded server would have been started."""

    def __init__(self) -> None:
        self.started: list[Path] = []

    def __call__(self, pgdata: Path) -> str:
        self.started.append(pgdata)
        return "postgresql://postgres:@/postgres?host=/tmp/sock"


def test_serve_defaults_to_one_process_on_loopback_port_8000_with_the_worker() -> None:
    args = build_parser().parse_args(["serve"])

    assert (args.command, args.host, args.port, args.workers) == ("serve", "127.0.0.1", 8000, 1)
    assert args.no_worker is False
    assert args.sandbox is False


def test_serve_reads_every_flag() -> None:
    argv = [
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "9000",
        "--workers",
        "4",
        "--no-worker",
        "--sandbox",
    ]
    args = build_parser().parse_args(argv)

    assert (args.host, args.port, args.workers) == ("0.0.0.0", 9000, 4)
    assert args.no_worker is True
    assert args.sandbox is True


@pytest.mark.parametrize("workers", ["0", "-1", "many"])
def test_serve_refuses_a_worker_count_that_is_not_positive(workers: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--workers", workers])

    assert exit_info.value.code == 2


def test_restaurants_create_needs_name_country_and_timezone() -> None:
    args = build_parser().parse_args(
        [
            "restaurants",
            "create",
            "--name",
            "Chez Nous",
            "--country",
            "FR",
            "--timezone",
            "Europe/Paris",
        ]
    )

    assert (args.command, args.action) == ("restaurants", "create")
    assert (args.name, args.country, args.timezone, args.slug) == (
        "Chez Nous",
        "FR",
        "Europe/Paris",
        None,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["restaurants", "create", "--name", "Chez Nous"])


def test_tokens_create_takes_a_restaurant_id_and_one_of_the_four_kinds() -> None:
    args = build_parser().parse_args(["tokens", "create", "--restaurant", "12", "--kind", "zoho"])

    assert (args.restaurant, args.kind) == (12, "zoho")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tokens", "create", "--restaurant", "12", "--kind", "root"])


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([])

    assert exit_info.value.code == 2


def test_database_url_wins_over_the_embedded_server() -> None:
    embedded = FakeEmbedded()

    url = database_url_or_embedded(
        settings(database_url="postgresql://app@db:5432/ringback"), start_embedded=embedded
    )

    assert url == "postgresql+asyncpg://app@db:5432/ringback"
    assert embedded.started == []


def test_without_database_url_the_embedded_server_in_dot_ringback_is_used() -> None:
    embedded = FakeEmbedded()

    url = database_url_or_embedded(settings(), start_embedded=embedded)

    assert url == "postgresql://postgres:@/postgres?host=/tmp/sock"
    assert embedded.started == [DEFAULT_PGDATA.resolve()]
    assert Path(".ringback/pgdata") == DEFAULT_PGDATA


def test_serve_passes_the_resolved_database_and_its_flags_to_worker_processes() -> None:
    args = build_parser().parse_args(["serve", "--no-worker"])

    env = serve_environment(args, settings(), "postgresql://postgres:@/postgres?host=/s")

    assert env == {
        "DATABASE_URL": "postgresql://postgres:@/postgres?host=/s",
        "RINGBACK_RUN_WORKER": "false",
    }


def test_sandbox_points_whatsapp_at_the_local_graph_stand_in_when_no_base_url_is_set() -> None:
    args = build_parser().parse_args(["serve", "--sandbox", "--port", "8123"])

    env = serve_environment(args, settings(), "postgresql://x/y")

    assert env["RINGBACK_SANDBOX"] == "true"
    assert env["RINGBACK_RUN_WORKER"] == "true"
    assert env["WHATSAPP_API_BASE_URL"] == "http://127.0.0.1:8123/_sandbox/graph/v21.0"


def test_sandbox_signs_webhooks_with_the_demo_secret_unless_one_is_configured() -> None:
    args = build_parser().parse_args(["serve", "--sandbox"])

    default = serve_environment(args, settings(), "x")
    configured = serve_environment(args, settings(whatsapp_app_secret="ours"), "x")
    not_sandbox = serve_environment(build_parser().parse_args(["serve"]), settings(), "x")

    assert default["WHATSAPP_APP_SECRET"] == SANDBOX_APP_SECRET
    assert "WHATSAPP_APP_SECRET" not in configured
    assert "WHATSAPP_APP_SECRET" not in not_sandbox


def test_demo_reads_reply_from_and_url() -> None:
    args = build_parser().parse_args(
        ["demo", "--reply", "Bonjour", "--from", "+33698765432", "--url", "http://h:9"]
    )

    assert (args.reply, args.sender, args.base_url) == ("Bonjour", "+33698765432", "http://h:9")
    assert build_parser().parse_args(["demo"]).sender == "+33612345678"


def test_sandbox_keeps_an_explicit_whatsapp_base_url() -> None:
    args = build_parser().parse_args(["serve", "--sandbox"])

    env = serve_environment(args, settings(whatsapp_api_base_url="http://graph.local"), "x")

    assert "WHATSAPP_API_BASE_URL" not in env


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/_sandbox/graph/v21.0"),
        ("0.0.0.0", "http://127.0.0.1:8000/_sandbox/graph/v21.0"),
        ("::", "http://[::1]:8000/_sandbox/graph/v21.0"),
        ("::1", "http://[::1]:8000/_sandbox/graph/v21.0"),
        ("relay.local", "http://relay.local:8000/_sandbox/graph/v21.0"),
    ],
)
def test_the_sandbox_url_is_reachable_from_this_machine(host: str, expected: str) -> None:
    assert sandbox_graph_url(host, 8000) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, True),
        ("", True),
        ("1", True),
        ("true", True),
        ("0", False),
        ("false", False),
        ("No", False),
    ],
)
def test_the_server_runs_the_outbox_worker_unless_told_not_to(
    raw: str | None, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is not None:
        monkeypatch.setenv("RINGBACK_RUN_WORKER", raw)
    assert Settings(_env_file=None).run_worker is expected


def test_a_run_worker_flag_that_is_no_boolean_stops_the_server_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RINGBACK_RUN_WORKER", "maybe")
    with pytest.raises(ValidationError, match="run_worker"):
        Settings(_env_file=None)


def test_the_demo_curl_uses_a_valid_french_mobile_number() -> None:
    number = phonenumbers.parse(random_french_mobile())

    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.region_code_for_number(number) == "FR"
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
