"""Secrets never reach a log line (SPEC §2, issue 13 item 6): the handler ``configure_logging``
installs writes every line — uvicorn's access line with its query string included — without them,
in both formats."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from uvicorn.protocols.utils import get_path_with_query_string

from ringback.http.logs import REDACTED, configure_logging, redact

VERIFY_TOKEN = "verify-me-7f3a9c1e5b"
OPS_TOKEN = "rb_ops_Zq8XkP3mN0aB4cD5eF6gH7iJ8kL9mN0oP1qR2sT3uV4"
SESSION = "session-cookie-value-Qw3Er5Ty7Ui9"


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """``configure_logging`` for one test, the loggers it changes put back afterwards."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (
            list(logging.getLogger(name).handlers),
            logging.getLogger(name).level,
            logging.getLogger(name).propagate,
        )
        for name in names
    }
    try:
        yield
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def access_line(query: str, status: int = 403, path: str = "/webhooks/whatsapp") -> None:
    """What uvicorn's access logger is called with for such a request (same format, same args)."""
    # a scope as uvicorn's server builds it: uvicorn 0.55 reads the path from ``raw_path``
    scope = {"path": path, "raw_path": path.encode("ascii"), "query_string": query.encode("ascii")}
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:50000",
        "GET",
        get_path_with_query_string(scope),  # type: ignore[arg-type]
        "1.1",
        status,
    )


HANDSHAKES = [
    f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444",
    f"hub.verify_token={VERIFY_TOKEN}",
    f"hub.challenge=1&hub%2Everify%5Ftoken={VERIFY_TOKEN}",  # the name encoded: still read as it
    f'hub.verify_token={VERIFY_TOKEN}"&x=1',  # a raw quote the client put in its guess
    f"hub.verify_token={VERIFY_TOKEN}#frag",
]


@pytest.mark.usefixtures("logged")
@pytest.mark.parametrize("log_format", ["console", "json"])
@pytest.mark.parametrize("query", HANDSHAKES)
def test_the_verify_token_never_reaches_the_access_line(
    capsys: pytest.CaptureFixture[str], log_format: str, query: str
) -> None:
    configure_logging(log_format)  # type: ignore[arg-type]
    access_line(query)
    line = capsys.readouterr().err.strip()
    assert "/webhooks/whatsapp?" in line
    assert VERIFY_TOKEN not in line
    assert REDACTED in line
    if log_format == "json":
        assert json.loads(line)["logger"] == "uvicorn.access"


@pytest.mark.usefixtures("logged")
@pytest.mark.parametrize("log_format", ["console", "json"])
def test_secret_looking_parameters_are_redacted_and_the_rest_kept(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configure_logging(log_format)  # type: ignore[arg-type]
    secrets = {
        "token": "s1-token",
        "access_token": "s2-access",
        "key": "s3-key",
        "api_key": "s4-apikey",
        "secret": "s5-secret",
        "client_secret": "s6-client",
        "password": "s7-password",
        "signature": "s8-signature",
        "Token": "s9-upper",
    }
    kept = {"restaurant_id": "42", "cursor": "abc.def", "phone": "%2B33612345678", "limit": "5"}
    query = "&".join(f"{k}={v}" for k, v in {**kept, **secrets}.items())
    access_line(query, 200, "/api/ops/v1/calls")
    line = capsys.readouterr().err.strip()
    for value in secrets.values():
        assert value not in line
    for name, value in kept.items():
        assert f"{name}={value}" in line


@pytest.mark.usefixtures("logged")
@pytest.mark.parametrize("log_format", ["console", "json"])
def test_credentials_are_redacted_from_messages_extras_and_tracebacks(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configure_logging(log_format)  # type: ignore[arg-type]
    log = logging.getLogger("ringback.test")
    log.warning(
        "headers %s",
        [(b"authorization", f"Bearer {OPS_TOKEN}".encode()), (b"cookie", b"ringback_ops=x")],
        extra={"seen": f"Authorization: Zoho-oauthtoken {OPS_TOKEN}", "url": f"/x?token={SESSION}"},
    )
    try:
        raise ValueError(f"bad sign-in token {OPS_TOKEN} with cookie ringback_ops={SESSION}")
    except ValueError:
        log.exception("sign-in failed")
    out = capsys.readouterr().err
    assert OPS_TOKEN not in out
    assert SESSION not in out
    assert "ringback_ops=x" not in out
    assert "sign-in failed" in out
    assert "ValueError" in out
    if log_format == "json":
        events = [json.loads(line) for line in out.splitlines()]
        assert [e["logger"] for e in events] == ["ringback.test", "ringback.test"]
        assert REDACTED in events[0]["seen"]
        assert REDACTED in events[1]["exception"]


@pytest.mark.usefixtures("logged")
@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_password_in_a_url_is_redacted(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configure_logging(log_format)  # type: ignore[arg-type]
    logging.getLogger("ringback.test").error(
        "cannot reach %s", "postgresql+asyncpg://ringback:db-pass-Xy7@db.internal:5432/ringback"
    )
    line = capsys.readouterr().err
    assert "db-pass-Xy7" not in line
    assert "postgresql+asyncpg://ringback:[REDACTED]@db.internal:5432/ringback" in line


@pytest.mark.parametrize(
    "text",
    [
        "whatsapp webhook: 1 moved, 0 kept, 0 opt-outs, 0 opt-ins, 0 changes ignored",
        "sandbox accepted message wamid.x for 33612345678 via 123: template=missed parameters=[]",
        '127.0.0.1:1 - "GET /api/ops/v1/calls?limit=5&from=2026-05-10T00:00:00Z HTTP/1.1" 200',
        "request failed: POST /ops/login -> 500 (ValueError)",
        "missing Authorization header; the cookie, if any, is ignored",
    ],
)
def test_lines_without_secrets_are_left_as_they_are(text: str) -> None:
    assert redact(text) == text
