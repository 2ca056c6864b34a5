"""The ``ringback`` console script as a user runs it, against the test database (SPEC §1)."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ringback.bootstrap import Container
from ringback.tenancy.model import TokenKind
from tests.e2e.processes import free_port
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


def ringback_command() -> list[str]:
    script = Path(sys.executable).with_name("ringback")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ringback.cli"]


def environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGBACK_", "WHATSAPP_"))}
    env["DATABASE_URL"] = database_url
    return env


async def ringback(database_url: str, cwd: Path, *args: str) -> Ran:
    process = await asyncio.create_subprocess_exec(
        *ringback_command(),
        *args,
        cwd=cwd,
        env=environment(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # a command imports the app and may run migrations: minutes, not seconds, on a loaded machine
    out, err = await asyncio.wait_for(process.communicate(), timeout=SLOW_MACHINE_SECONDS)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def test_migrate_is_idempotent_on_a_migrated_database(
    database_url: str, tmp_path: Path
) -> None:
    ran = await ringback(database_url, tmp_path, "migrate")

    assert ran.code == 0, ran.stderr
    assert "at head" in ran.stderr
    assert not (tmp_path / ".ringback").exists()


async def test_restaurants_create_prints_the_restaurant_as_json(
    database_url: str, tmp_path: Path
) -> None:
    ran = await ringback(
        database_url,
        tmp_path,
        "restaurants",
        "create",
        "--name",
        "Brasserie Été",
        "--country",
        "fr",
        "--timezone",
        "Europe/Paris",
    )

    restaurant = ran.json()
    assert restaurant["id"].isdigit()
    assert restaurant["slug"].startswith("brasserie-ete")
    assert (restaurant["country"], restaurant["timezone"]) == ("FR", "Europe/Paris")
    assert restaurant["whatsapp"]["access_token_set"] is False


async def test_restaurants_create_refuses_a_bad_country_on_stderr(
    database_url: str, tmp_path: Path
) -> None:
    ran = await ringback(
        database_url,
        tmp_path,
        "restaurants",
        "create",
        "--name",
        "Nowhere",
        "--country",
        "XX",
        "--timezone",
        "Europe/Paris",
    )

    assert ran.code == 2
    assert ran.stdout == ""
    assert "--country" in ran.stderr


async def test_tokens_create_prints_a_working_token_once(
    database_url: str, tmp_path: Path, container: Container
) -> None:
    restaurant = (
        await ringback(
            database_url,
            tmp_path,
            "restaurants",
            "create",
            "--name",
            "Token Test",
            "--country",
            "FR",
            "--timezone",
            "Europe/Paris",
        )
    ).json()

    minted = (
        await ringback(
            database_url,
            tmp_path,
            "tokens",
            "create",
            "--restaurant",
            restaurant["id"],
            "--kind",
            "zoho",
        )
    ).json()

    assert set(minted) == {"id", "token"}
    assert minted["id"].isdigit()
    found = await container.tenancy.authenticate(minted["token"], frozenset({TokenKind.ZOHO}))
    assert found is not None
    assert str(found.restaurant.id) == restaurant["id"]


async def test_tokens_create_for_an_unknown_restaurant_fails(
    database_url: str, tmp_path: Path
) -> None:
    ran = await ringback(
        database_url, tmp_path, "tokens", "create", "--restaurant", "999999999", "--kind", "ops"
    )

    assert ran.code == 1
    assert "no restaurant 999999999" in ran.stderr


async def test_demo_twice_keeps_one_restaurant_and_replaces_its_tokens(
    database_url: str, tmp_path: Path, container: Container
) -> None:
    first = (await ringback(database_url, tmp_path, "demo", "--json")).json()
    second = (await ringback(database_url, tmp_path, "demo", "--json")).json()

    assert first["restaurant"]["id"] == second["restaurant"]["id"]
    assert second["restaurant"]["slug"] == "demo-bistro"
    assert second["restaurant"]["whatsapp"]["access_token_set"] is True
    assert set(second["restaurant"]["whatsapp"]["templates"]) == {
        "MISSED_CALL",
        "MISSED_CALL_WITH_RESERVATION",
        "CALLBACK_UNANSWERED",
    }
    assert set(second["tokens"]) == {kind.value for kind in TokenKind}
    for kind in TokenKind:
        old, new = first["tokens"][kind.value]["token"], second["tokens"][kind.value]["token"]
        assert await container.tenancy.authenticate(old, frozenset({kind})) is None
        assert await container.tenancy.authenticate(new, frozenset({kind})) is not None
    assert first["curl"] != second["curl"]


async def test_demo_prints_the_tokens_and_a_curl_for_people(
    database_url: str, tmp_path: Path
) -> None:
    ran = await ringback(database_url, tmp_path, "demo")

    assert ran.code == 0, ran.stderr
    assert "rb_partner_" in ran.stdout
    assert "curl -sS -X POST http://127.0.0.1:8000/api/partner/v1/missed-calls" in ran.stdout


async def test_demo_tells_where_the_dashboard_is_what_to_sign_in_with_and_how_to_reply(
    database_url: str, tmp_path: Path
) -> None:
    ran = await ringback(database_url, tmp_path, "demo")

    assert ran.code == 0, ran.stderr
    dashboard = next(line for line in ran.stdout.splitlines() if line.startswith("Dashboard:"))
    assert "http://127.0.0.1:8000/ops" in dashboard
    assert "rb_ops_" in dashboard
    assert "ringback demo --reply" in ran.stdout


@pytest.fixture
async def sandbox_server(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """``ringback serve --sandbox`` on a free port; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = await asyncio.create_subprocess_exec(
        *ringback_command(),
        "serve",
        "--sandbox",
        "--no-worker",
        "--port",
        str(port),
        cwd=tmp_path,
        env=environment(database_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + SLOW_MACHINE_SECONDS
        async with httpx.AsyncClient(base_url=base, timeout=SLOW_MACHINE_SECONDS) as http:
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.returncode is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"ringback serve did not answer /healthz in {SLOW_MACHINE_SECONDS:g} s"
                    )
                await asyncio.sleep(0.05)
        yield base
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=SLOW_MACHINE_SECONDS)


async def test_the_curl_printed_by_demo_sends_through_the_sandbox(
    database_url: str, tmp_path: Path, sandbox_server: str
) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed: the test runs the printed command as a user would")
    demo = (
        await ringback(database_url, tmp_path, "demo", "--json", "--base-url", sandbox_server)
    ).json()

    curl = await asyncio.create_subprocess_exec(
        *shlex.split(demo["curl"]), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(curl.communicate(), timeout=SLOW_MACHINE_SECONDS)

    reply = json.loads(out)["data"]
    assert reply["outcome"] == "SENT"
    assert reply["template_type"] == "MISSED_CALL"


async def test_the_printed_curl_then_reply_make_a_replied_call_and_a_conversation(
    database_url: str, tmp_path: Path, sandbox_server: str
) -> None:
    """A newcomer's way (SPEC §10): the demo's curl reports a missed call, its reply command
    writes back as that caller, and the ops API shows the conversation and the replied call."""
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed: the test runs the printed command as a user would")
    demo = (
        await ringback(database_url, tmp_path, "demo", "--json", "--base-url", sandbox_server)
    ).json()
    curl = await asyncio.create_subprocess_exec(
        *shlex.split(demo["curl"]), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(curl.communicate(), timeout=SLOW_MACHINE_SECONDS)
    call = json.loads(out)["data"]
    command = shlex.split(demo["reply"])
    assert Path(command[0]).name == "ringback"
    assert command[1:3] == ["demo", "--reply"]

    replied = await ringback(database_url, tmp_path, *command[1:])

    assert replied.code == 0, replied.stderr
    assert f"{sandbox_server}/ops" in replied.stdout
    assert demo["dashboard"] == f"{sandbox_server}/ops"
    ops = {"Authorization": f"Bearer {demo['tokens']['ops']['token']}"}
    async with httpx.AsyncClient(base_url=sandbox_server, timeout=SLOW_MACHINE_SECONDS) as http:
        listed = await http.get(
            "/api/ops/v1/conversations",
            params={"phone": call["caller_phone_number"]},
            headers=ops,
        )
        item = await http.get(f"/api/ops/v1/calls/{call['id']}", headers=ops)
    (chat,) = listed.json()["data"]
    assert chat["last_message"]["text"] == command[3]
    assert chat["unread"] == 1
    assert chat["window_open_until"] is not None
    assert call["outcome"] == "SENT"
    assert item.json()["data"]["replied_at"] is not None


async def test_demo_reply_defaults_to_the_demo_caller(
    database_url: str, tmp_path: Path, sandbox_server: str
) -> None:
    await ringback(database_url, tmp_path, "demo", "--base-url", sandbox_server)
    text = f"Une table pour quatre ? {uuid.uuid4().hex[:6]}"

    ran = await ringback(database_url, tmp_path, "demo", "--reply", text, "--url", sandbox_server)

    assert ran.code == 0, ran.stderr
    assert ran.stdout.startswith("+33612345678 wrote to Demo Bistro")


async def test_demo_reply_without_a_server_says_so(database_url: str, tmp_path: Path) -> None:
    await ringback(database_url, tmp_path, "demo")
    nobody = f"http://127.0.0.1:{free_port()}"

    ran = await ringback(database_url, tmp_path, "demo", "--reply", "allô ?", "--url", nobody)

    assert ran.code == 1
    assert "no server answered" in ran.stderr
