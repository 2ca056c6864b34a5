"""A restaurant's CCAI settings through the admin API (SPEC §6), and the call API reading them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from ringback.tenancy.model import Restaurant, TokenKind
from tests.api.ccai_support import APPS, basic, ccai, inbound_body, outbound_body
from tests.conftest import ADMIN_TOKEN, Tenant, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["ccai"]

BASE = "/api/admin/v1"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

SETTINGS: dict[str, Any] = {
    "languages": ["en", "FR"],
    "menus": [
        {"id": 1, "name": "Bookings", "menu_type": "ivr_menu"},
        {"id": 2, "name": "Groups", "menu_type": "ivr_menu", "parent_id": 1, "state": "open"},
    ],
    "agents": [{"id": 7, "email": "host@example.com", "name": "Host"}],
    "outbound_numbers": [{"number": "+33 1 84 88 00 00", "default": True}],
    "tickets": [{"ticket_id": "T-1", "phone_number": "+33 6 12 34 56 78"}],
}


async def create(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    payload = {
        "name": f"Chez CCAI {uuid.uuid4().hex[:8]}",
        "country": "FR",
        "timezone": "Europe/Paris",
        **body,
    }
    return await client.post(f"{BASE}/restaurants", json=payload, headers=ADMIN)


async def test_ccai_settings_are_stored_and_shown_with_defaults(ccai: httpx.AsyncClient) -> None:
    reply = await create(ccai, ccai=SETTINGS)
    assert reply.status_code == 201, reply.text
    shown = reply.json()["data"]["ccai"]
    assert shown["languages"] == ["en", "fr"]
    assert shown["menus"][1] == {
        "id": 2,
        "name": "Groups",
        "menu_type": "ivr_menu",
        "state": "open",
        "parent_id": 1,
        "output_msg": None,
        "position": 0,
    }
    assert shown["agents"][0]["available"] is True
    assert shown["agents"][0]["can_call"] is True
    assert shown["tickets"] == [{"ticket_id": "T-1", "phone_number": "+33 6 12 34 56 78"}]


async def test_restaurant_without_ccai_settings_speaks_english_only(
    ccai: httpx.AsyncClient,
) -> None:
    reply = await create(ccai)
    assert reply.json()["data"]["ccai"] == {
        "languages": ["en"],
        "menus": [],
        "agents": [],
        "outbound_numbers": [],
        "tickets": [],
    }


async def test_patch_replaces_the_ccai_keys_given_and_keeps_the_others(
    ccai: httpx.AsyncClient,
) -> None:
    restaurant = (await create(ccai, ccai=SETTINGS)).json()["data"]
    reply = await ccai.patch(
        f"{BASE}/restaurants/{restaurant['id']}",
        json={"ccai": {"languages": ["de"], "tickets": []}},
        headers=ADMIN,
    )
    assert reply.status_code == 200, reply.text
    shown = reply.json()["data"]["ccai"]
    assert shown["languages"] == ["de"]
    assert shown["tickets"] == []
    assert [m["id"] for m in shown["menus"]] == [1, 2]
    assert shown["agents"][0]["email"] == "host@example.com"


@pytest.mark.parametrize(
    ("ccai_body", "field"),
    [
        ({"languages": ["xx"]}, "body.ccai.languages"),
        ({"languages": []}, "body.ccai.languages"),
        (
            {"menus": [{"id": 1, "name": "A", "menu_type": "fax_menu"}]},
            "body.ccai.menus.0.menu_type",
        ),
        (
            {"menus": [{"id": 1, "name": "A", "menu_type": "ivr_menu", "state": "closed"}]},
            "body.ccai.menus.0.state",
        ),
        (
            {
                "menus": [
                    {"id": 1, "name": "A", "menu_type": "ivr_menu"},
                    {"id": 1, "name": "B", "menu_type": "web_menu"},
                ]
            },
            "body.ccai.menus",
        ),
        (
            {"menus": [{"id": 1, "name": "A", "menu_type": "ivr_menu", "parent_id": 5}]},
            "body.ccai.menus",
        ),
        ({"agents": [{"id": 1, "email": "not-an-email", "name": "A"}]}, "body.ccai.agents.0.email"),
        (
            {
                "agents": [
                    {"id": 1, "email": "a@example.com", "name": "A"},
                    {"id": 2, "email": "A@example.com", "name": "B"},
                ]
            },
            "body.ccai.agents",
        ),
        (
            {
                "outbound_numbers": [
                    {"number": "+33184880000", "default": True},
                    {"number": "+33184880001", "default": True},
                ]
            },
            "body.ccai.outbound_numbers",
        ),
        ({"outbound_numbers": [{"number": "call me"}]}, "body.ccai.outbound_numbers.0.number"),
        (
            {"tickets": [{"ticket_id": "T-1", "phone_number": "not a number"}]},
            "body.ccai.tickets.0.phone_number",
        ),
        (
            {
                "tickets": [
                    {"ticket_id": "T-1", "phone_number": "+33612345678"},
                    {"ticket_id": "T-1", "phone_number": "+33612345679"},
                ]
            },
            "body.ccai.tickets",
        ),
        ({"queues": []}, "body.ccai.queues"),
    ],
)
async def test_invalid_ccai_settings_are_refused_naming_the_field(
    ccai: httpx.AsyncClient, ccai_body: dict[str, Any], field: str
) -> None:
    reply = await create(ccai, ccai=ccai_body)
    assert reply.status_code == 422
    assert field in {d["field"] for d in reply.json()["error"]["details"]}


async def test_ccai_may_be_left_out_of_a_patch_but_not_null(ccai: httpx.AsyncClient) -> None:
    restaurant = (await create(ccai, ccai=SETTINGS)).json()["data"]
    reply = await ccai.patch(
        f"{BASE}/restaurants/{restaurant['id']}", json={"ccai": None}, headers=ADMIN
    )
    assert reply.status_code == 422


async def test_call_api_follows_the_settings_the_admin_api_wrote(
    ccai: httpx.AsyncClient,
) -> None:
    restaurant = (await create(ccai, ccai=SETTINGS)).json()["data"]
    minted = await ccai.post(
        f"{BASE}/restaurants/{restaurant['id']}/tokens", json={"kind": "ccai"}, headers=ADMIN
    )
    token = minted.json()["data"]["token"]
    tenant = Tenant(restaurant=_restaurant(restaurant), tokens={TokenKind.CCAI: token})

    inbound = await ccai.post(
        f"{APPS}/calls",
        json=inbound_body(random_mobile(), menu_id=2, lang="fr"),
        headers=basic(tenant),
    )
    assert inbound.status_code == 201, inbound.text
    assert inbound.json()["menu_path"]["name"] == "Bookings / Groups"
    assert inbound.json()["outbound_number"] == "+33 1 84 88 00 00"
    outbound = await ccai.post(
        f"{APPS}/calls",
        json={**outbound_body("x", agent_email="HOST@example.com"), "ticket_id": "T-1"},
        headers=basic(tenant),
    )
    assert outbound.status_code == 201, outbound.text
    assert outbound.json()["agent_info"]["id"] == 7
    assert outbound.json()["end_user_number"] == "+33612345678"

    await ccai.patch(
        f"{BASE}/restaurants/{restaurant['id']}",
        json={"ccai": {"menus": [{"id": 1, "name": "Bookings", "menu_type": "ivr_menu"}]}},
        headers=ADMIN,
    )
    later = await ccai.get(f"/manager/api/v1/calls/{inbound.json()['id']}", headers=basic(tenant))
    # the call keeps the menu it was made on; the menu it names is gone from the settings
    assert later.json()["menu_path"]["name"] == "Bookings / Groups"
    assert later.json()["selected_menu"]["deleted"] is True
    assert later.json()["selected_menu"]["id"] == 2


def _restaurant(data: dict[str, Any]) -> Restaurant:
    return Restaurant(
        id=int(data["id"]),
        slug=data["slug"],
        name=data["name"],
        country=data["country"],
        timezone=data["timezone"],
    )
