"""No secret reaches the real server's log (SPEC §2, issue 13 item 6): the WhatsApp verify token
(right or guessed, however its name is encoded), tokens in query strings, the sign-in token, the
session cookie and Authorization headers, whatever the reply."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from ringback.tenancy.model import TokenKind
from tests.conftest import ADMIN_TOKEN, MakeRestaurant
from tests.e2e.processes import running_server, stop

pytestmark = [pytest.mark.e2e, pytest.mark.sql]

VERIFY_TOKEN = "verify-token-in-the-log-4b8d1f"
GUESSES = ["guess-one-9a7c2e", "guess-two-5d3b1f"]


@pytest.mark.parametrize("log_format", ["console", "json"])
async def test_no_secret_reaches_the_server_log(
    database_url: str, tmp_path: Path, make_restaurant: MakeRestaurant, log_format: str
) -> None:
    tenant = await make_restaurant()
    ops, zoho = tenant.tokens[TokenKind.OPS], tenant.tokens[TokenKind.ZOHO]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RINGBACK_ADMIN_TOKEN": ADMIN_TOKEN,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "RINGBACK_LOG_FORMAT": log_format,
    }
    log = tmp_path / "serve.log"
    # Generous: the server shares a busy 2-core machine with the rest of the suite.
    async with running_server(env, log, "--no-worker") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            hub = "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=8412"
            right = await http.get(f"{hub}&hub.verify_token={VERIFY_TOKEN}")
            assert right.status_code == 200
            wrong = await http.get(f"{hub}&hub.verify_token={GUESSES[0]}")
            assert wrong.status_code == 403
            encoded = await http.get(f"{hub}&hub%2Everify%5Ftoken={GUESSES[1]}")
            assert encoded.status_code == 403

            signed_in = await http.post(
                "/ops/login",
                content=f"token={quote(ops, safe='')}",
                headers={
                    "Origin": server.url,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            assert signed_in.status_code == 303
            session = signed_in.cookies["ringback_ops"]
            http.cookies.clear()
            cookie = {"Cookie": f"ringback_ops={session}"}
            assert (await http.get("/api/ops/v1/calls", headers=cookie)).status_code == 200
            forged = await http.post("/api/ops/v1/messages/1/retry", headers=cookie)
            assert forged.status_code == 403

            in_query = await http.get(
                f"/api/ops/v1/calls?token={ops}&access_token={zoho}&restaurant_id=1",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert in_query.status_code < 500
            refused = await http.get(
                "/api/ops/v1/calls", headers={"Authorization": f"Bearer {ops}x"}
            )
            assert refused.status_code == 401
            zoho_reply = await http.post(
                f"/phonebridge/v3/callnotify?token={zoho}",
                content=b"type=received",
                headers={"Authorization": f"Zoho-oauthtoken {zoho}"},
            )
            assert zoho_reply.status_code == 400
        assert stop(server.process)

    output = log.read_text(errors="replace")
    assert "/webhooks/whatsapp?hub.mode=subscribe" in output  # the access lines are there
    assert "/api/ops/v1/calls?" in output
    for secret in [VERIFY_TOKEN, *GUESSES, ops, zoho, ADMIN_TOKEN, session]:
        assert secret not in output, f"{secret[:12]}… is in the log"
    assert "[REDACTED]" in output
