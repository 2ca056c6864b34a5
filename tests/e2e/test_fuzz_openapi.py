"""Property-based fuzzing of the native routes from their own ``/openapi.json`` (schemathesis).

A real ``ringback serve`` process on a database of this module alone (the fuzzer creates, patches
and revokes whatever it likes), reached with valid credentials so that the cases get past the
auth to the handlers. Every operation under ``/api/`` must answer without a 5xx, with a status,
content type, headers and body its OpenAPI document describes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ringback.app import create_app
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.e2e.own_database import create_tenant, engine_for, own_database
from tests.e2e.processes import running_server
from tests.fakegraph import FakeGraph
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.sql]

ADMIN = "fuzz-admin-token-0123456789abcdef"


@pytest.fixture(scope="module")
async def fuzz_database_url(pg_server_url: str) -> AsyncIterator[str]:
    """A migrated database for the fuzzer alone, dropped afterwards."""
    async with own_database(pg_server_url, "ringback_fuzz") as url:
        yield url


@dataclass(frozen=True)
class Credentials:
    partner: str
    ops: str

    def for_path(self, path: str) -> dict[str, str]:
        if path.startswith("/api/admin/"):
            return {"Authorization": f"Bearer {ADMIN}"}
        if path.startswith("/api/ops/"):
            return {"Authorization": f"Bearer {self.ops}"}
        return {"Authorization": f"Bearer {self.partner}"}


@pytest.fixture(scope="module")
async def credentials(fuzz_database_url: str) -> Credentials:
    engine = engine_for(fuzz_database_url)
    try:
        _, tokens = await create_tenant(engine, TokenKind.PARTNER, TokenKind.OPS)
    finally:
        await engine.dispose()
    return Credentials(partner=tokens[TokenKind.PARTNER], ops=tokens[TokenKind.OPS])


@pytest.fixture(scope="module")
async def server_url(
    fuzz_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    log = tmp_path_factory.mktemp("fuzz") / "serve.log"
    with FakeGraph() as graph:
        env = {
            **os.environ,
            "DATABASE_URL": fuzz_database_url,
            "WHATSAPP_API_BASE_URL": graph.base_url,
            "RINGBACK_ADMIN_TOKEN": ADMIN,
            "RINGBACK_RATE_LIMIT_PER_SECOND": "0",
        }
        async with running_server(env, log) as server:
            yield server.url
        server_log = log.read_text(errors="replace")
        assert "Traceback" not in server_log, server_log[-5000:]


def native_openapi() -> dict[str, Any]:
    """The document ``/openapi.json`` serves (the server process answers the same; checked)."""
    app = create_app(Settings(_env_file=None, database_url="postgresql://unused@localhost/x"))
    return app.openapi()


schema = schemathesis.openapi.from_dict(native_openapi()).include(path_regex=r"^/api/")


def test_the_server_serves_the_fuzzed_openapi_document(server_url: str) -> None:
    reply = httpx.get(f"{server_url}/openapi.json", timeout=SLOW_MACHINE_SECONDS)
    assert reply.json() == native_openapi()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_native_operation_answers_what_its_openapi_document_describes(
    case: Case[Any], server_url: str, credentials: Credentials
) -> None:
    case.call_and_validate(
        base_url=server_url,
        headers=credentials.for_path(case.path),
        # a batch PUT of 1,000 items is part of the fuzzing: on a loaded machine a reply is
        # slow, not missing (bench/batch_put.py measures how fast it is)
        timeout=SLOW_MACHINE_SECONDS,
        # Schema-valid is not always acceptable: a string may not be a phone number, a time
        # zone or a language code, which JSON Schema cannot say. Refusing those (422) is right.
        excluded_checks=[positive_data_acceptance],
    )


def test_every_native_operation_documents_the_error_envelope_for_422_and_other_errors() -> None:
    document = native_openapi()
    envelope = {"$ref": "#/components/schemas/NativeError"}
    native = {
        (path, method): operation
        for path, operations in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
    }
    assert native
    for operation in native.values():
        responses = operation["responses"]
        assert responses["default"]["content"]["application/json"]["schema"] == envelope
        if "422" in responses:  # the envelope, by this name or a door's own name for it
            ref = responses["422"]["content"]["application/json"]["schema"]["$ref"]
            component = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
            assert list(component["properties"]) == ["error"]
