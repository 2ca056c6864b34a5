"""Every door's 401 names the scheme that door takes (SPEC §2 and §6): issue 13, item 9."""

from __future__ import annotations

import httpx
import pytest

from ringback.tenancy.model import TokenKind
from tests.conftest import MakeRestaurant

pytestmark = pytest.mark.sql

ZOHO_FORM = "type=received&state=ringing&id=challenge&from=%2B33612345678&to=%2B33140000000"
# (method, path, body) of one route per door, and the scheme its 401 must name.
DOORS = {
    "partner": ("POST", "/api/partner/v1/missed-calls", {"caller_phone_number": "+33612345678"}),
    "zoho": ("POST", "/phonebridge/v3/callnotify", ZOHO_FORM),
    "ccai apps": ("GET", "/apps/api/v1/calls/1/customer_flag", None),
    "ccai manager": ("GET", "/manager/api/v1/calls", None),
    "ops": ("GET", "/api/ops/v1/calls", None),
    "admin": ("GET", "/api/admin/v1/restaurants", None),
}
SCHEME = {
    "partner": "Bearer",
    "zoho": "Zoho-oauthtoken",
    "ccai apps": "Basic",
    "ccai manager": "Basic",
    "ops": "Bearer",
    "admin": "Bearer",
}


async def request(
    client: httpx.AsyncClient, door: str, authorization: str | None
) -> httpx.Response:
    method, path, body = DOORS[door]
    headers = {"Authorization": authorization} if authorization is not None else {}
    if isinstance(body, str):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await client.request(method, path, content=body, headers=headers)
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Zoho-oauthtoken not-a-token", "Basic bm90OmF0b2tlbg=="],
)
async def test_every_door_challenges_with_its_own_scheme(
    client: httpx.AsyncClient, door: str, authorization: str | None
) -> None:
    reply = await request(client, door, authorization)
    assert reply.status_code == 401, reply.text
    assert reply.headers["www-authenticate"] == SCHEME[door]


async def test_zoho_challenges_a_token_of_another_kind_with_its_own_scheme(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await request(client, "zoho", f"Zoho-oauthtoken {tenant.tokens[TokenKind.PARTNER]}")
    assert reply.status_code == 401
    assert reply.json() == {"status": "error", "code": "INVALID_OAUTHTOKEN"}
    assert reply.headers["www-authenticate"] == "Zoho-oauthtoken"
