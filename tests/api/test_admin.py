"""The admin API (SPEC §8): restaurants and tokens behind RINGBACK_ADMIN_TOKEN."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.tenancy.model import TokenKind
from tests.conftest import ADMIN_TOKEN, MakeRestaurant, make_settings

pytestmark = pytest.mark.sql

BASE = "/api/admin/v1"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WHATSAPP: dict[str, Any] = {
    "phone_number_id": "109876543210",
    "access_token": "EAAG-secret-access-token",
    "templates": {"MISSED_CALL": {"name": "missed_call", "language": "fr"}},
    "fallback_first_name": "ami",
}


@pytest.fixture
def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The in-process client, with the admin token on every request."""
    client.headers.update(ADMIN)
    return client


def unique_name() -> str:
    return f"Chez Admin {uuid.uuid4().hex[:8]}"


async def create(admin: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    payload = {"name": unique_name(), "country": "FR", "timezone": "Europe/Paris", **body}
    reply = await admin.post(f"{BASE}/restaurants", json=payload)
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


def fields_of(reply: httpx.Response) -> set[str]:
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return {detail["field"] for detail in error["details"]}


async def test_created_restaurant_has_defaults_a_derived_slug_and_a_string_id(
    admin: httpx.AsyncClient,
) -> None:
    name = unique_name()
    data = await create(admin, name=name)

    assert data["id"].isdigit()
    assert data["slug"] == name.lower().replace(" ", "-")
    assert (data["name"], data["country"], data["timezone"]) == (name, "FR", "Europe/Paris")
    assert data["missed_calls_enabled"] is True
    assert (data["cooldown_hours"], data["max_call_age_hours"]) == (6, 24)
    assert data["send_delay_seconds"] == 0
    assert data["quiet_hours"] is None
    assert data["whatsapp"]["access_token_set"] is False
    assert data["created_at"].endswith("Z")


async def test_a_second_restaurant_with_the_same_name_gets_a_suffixed_slug(
    admin: httpx.AsyncClient,
) -> None:
    name = unique_name()
    first = await create(admin, name=name)
    second = await create(admin, name=name)

    assert second["slug"] == f"{first['slug']}-2"


async def test_an_explicit_slug_that_is_taken_is_a_conflict(admin: httpx.AsyncClient) -> None:
    slug = f"taken-{uuid.uuid4().hex[:8]}"
    await create(admin, slug=slug)

    reply = await admin.post(
        f"{BASE}/restaurants",
        json={"name": "Other", "slug": slug, "country": "FR", "timezone": "Europe/Paris"},
    )

    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "CONFLICT"


async def test_created_restaurant_can_be_read_back_and_is_listed(admin: httpx.AsyncClient) -> None:
    data = await create(admin, whatsapp=WHATSAPP, quiet_hours={"start": "21:00", "end": "09:00"})

    one = await admin.get(f"{BASE}/restaurants/{data['id']}")
    listed = await admin.get(f"{BASE}/restaurants")

    assert one.status_code == 200
    assert one.json() == {"data": data}
    assert data["quiet_hours"] == {"start": "21:00", "end": "09:00"}
    assert data["id"] in [item["id"] for item in listed.json()["data"]]


async def test_bad_country_timezone_and_quiet_hours_are_refused_naming_each_field(
    admin: httpx.AsyncClient,
) -> None:
    reply = await admin.post(
        f"{BASE}/restaurants",
        json={
            "name": "Nowhere",
            "country": "XX",
            "timezone": "Mars/Olympus_Mons",
            "quiet_hours": {"start": "25:00", "end": "9h"},
        },
    )

    assert fields_of(reply) == {
        "body.country",
        "body.timezone",
        "body.quiet_hours.start",
        "body.quiet_hours.end",
    }


async def test_bad_settings_and_unknown_keys_are_refused_naming_each_field(
    admin: httpx.AsyncClient,
) -> None:
    reply = await admin.post(
        f"{BASE}/restaurants",
        json={
            "country": "FR",
            "timezone": "Europe/Paris",
            "cooldown_hours": -1,
            "send_delay_seconds": "soon",
            "whatsapp": {"templates": {"NOT_A_TYPE": {"name": "x", "language": "fr"}}},
            "colour": "blue",
        },
    )

    assert fields_of(reply) == {
        "body.name",
        "body.cooldown_hours",
        "body.send_delay_seconds",
        "body.whatsapp.templates.NOT_A_TYPE.[key]",
        "body.colour",
    }


async def test_replies_never_contain_the_whatsapp_access_token(admin: httpx.AsyncClient) -> None:
    data = await create(admin, whatsapp=WHATSAPP)
    listed = await admin.get(f"{BASE}/restaurants")

    assert data["whatsapp"] == {
        "phone_number_id": "109876543210",
        "access_token_set": True,
        "templates": {"MISSED_CALL": {"name": "missed_call", "language": "fr"}},
        "fallback_first_name": "ami",
    }
    assert WHATSAPP["access_token"] not in listed.text
    assert 'access_token"' not in listed.text


async def test_patch_changes_only_the_keys_given(admin: httpx.AsyncClient) -> None:
    data = await create(admin, cooldown_hours=3, whatsapp=WHATSAPP)

    reply = await admin.patch(
        f"{BASE}/restaurants/{data['id']}",
        json={"missed_calls_enabled": False, "quiet_hours": {"start": "22:00", "end": "08:30"}},
    )

    assert reply.status_code == 200, reply.text
    patched = reply.json()["data"]
    assert patched["missed_calls_enabled"] is False
    assert patched["quiet_hours"] == {"start": "22:00", "end": "08:30"}
    assert patched["cooldown_hours"] == 3
    assert patched["whatsapp"] == data["whatsapp"]
    assert patched["name"] == data["name"]


async def test_patching_whatsapp_without_an_access_token_keeps_the_stored_one(
    admin: httpx.AsyncClient, container: Container
) -> None:
    data = await create(admin, whatsapp=WHATSAPP)
    templates = {"CALLBACK_UNANSWERED": {"name": "callback", "language": "en_US"}}

    reply = await admin.patch(
        f"{BASE}/restaurants/{data['id']}",
        json={"whatsapp": {"phone_number_id": "555", "templates": templates}},
    )

    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["whatsapp"]["access_token_set"] is True
    assert reply.json()["data"]["whatsapp"]["templates"] == templates
    stored = await container.tenancy.restaurant(int(data["id"]))
    assert stored is not None
    assert stored.whatsapp.access_token == WHATSAPP["access_token"]
    assert stored.whatsapp.phone_number_id == "555"


async def test_patching_an_explicit_null_access_token_clears_it(admin: httpx.AsyncClient) -> None:
    data = await create(admin, whatsapp=WHATSAPP)

    reply = await admin.patch(
        f"{BASE}/restaurants/{data['id']}",
        json={"whatsapp": {**WHATSAPP, "access_token": None}},
    )

    assert reply.json()["data"]["whatsapp"]["access_token_set"] is False


async def test_patch_refuses_null_for_a_required_setting_and_a_bad_timezone(
    admin: httpx.AsyncClient,
) -> None:
    data = await create(admin)

    reply = await admin.patch(
        f"{BASE}/restaurants/{data['id']}", json={"name": None, "timezone": "Paris"}
    )

    assert fields_of(reply) == {"body.name", "body.timezone"}


@pytest.mark.parametrize("restaurant_id", ["999999999999", "abc", "99999999999999999999999"])
async def test_an_unknown_or_malformed_restaurant_id_is_not_found(
    admin: httpx.AsyncClient, restaurant_id: str
) -> None:
    got = await admin.get(f"{BASE}/restaurants/{restaurant_id}")
    patched = await admin.patch(f"{BASE}/restaurants/{restaurant_id}", json={"name": "X"})
    minted = await admin.post(f"{BASE}/restaurants/{restaurant_id}/tokens", json={"kind": "ops"})

    for reply in (got, patched, minted):
        assert reply.status_code == 404
        assert reply.json()["error"]["code"] == "NOT_FOUND"


async def test_a_minted_token_authenticates_for_its_kind_only(
    admin: httpx.AsyncClient, container: Container
) -> None:
    data = await create(admin)

    reply = await admin.post(
        f"{BASE}/restaurants/{data['id']}/tokens", json={"kind": "partner", "name": "pos"}
    )

    assert reply.status_code == 201, reply.text
    minted = reply.json()["data"]
    assert minted["kind"] == "partner"
    assert minted["id"].isdigit()
    partner = await container.tenancy.authenticate(minted["token"], frozenset({TokenKind.PARTNER}))
    assert partner is not None
    assert str(partner.restaurant.id) == data["id"]
    assert await container.tenancy.authenticate(minted["token"], frozenset({TokenKind.OPS})) is None


async def test_an_unknown_token_kind_is_refused(admin: httpx.AsyncClient) -> None:
    data = await create(admin)

    reply = await admin.post(f"{BASE}/restaurants/{data['id']}/tokens", json={"kind": "root"})

    assert fields_of(reply) == {"body.kind"}


async def test_a_deleted_token_stops_working_at_once(
    admin: httpx.AsyncClient, container: Container
) -> None:
    data = await create(admin)
    minted = (
        await admin.post(f"{BASE}/restaurants/{data['id']}/tokens", json={"kind": "ops"})
    ).json()["data"]

    deleted = await admin.delete(f"{BASE}/tokens/{minted['id']}")
    again = await admin.delete(f"{BASE}/tokens/{minted['id']}")

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert await container.tenancy.authenticate(minted["token"], frozenset(TokenKind)) is None
    assert again.status_code == 404


async def test_a_minted_token_works_on_the_partner_api_until_deleted(
    admin: httpx.AsyncClient,
) -> None:
    data = await create(admin)
    minted = (
        await admin.post(f"{BASE}/restaurants/{data['id']}/tokens", json={"kind": "partner"})
    ).json()["data"]
    partner = {"Authorization": f"Bearer {minted['token']}"}

    before = await admin.get("/api/partner/v1/me", headers=partner)
    await admin.delete(f"{BASE}/tokens/{minted['id']}")
    after = await admin.get("/api/partner/v1/me", headers=partner)

    assert before.status_code == 200
    assert before.json()["data"]["restaurant"]["id"] == data["id"]
    assert after.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-admin-token"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    ],
    ids=["missing", "wrong", "wrong-scheme", "longer"],
)
async def test_a_missing_or_wrong_admin_token_is_unauthorized_with_a_request_id(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get(f"{BASE}/restaurants", headers=headers)

    assert reply.status_code == 401
    error = reply.json()["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert error["request_id"]
    assert error["request_id"] == reply.headers["x-request-id"]


async def test_an_unauthenticated_body_is_not_read_before_the_token_is_checked(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post(
        f"{BASE}/restaurants", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert reply.status_code == 401


async def test_partner_tokens_are_not_admin_tokens(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()

    reply = await client.get(f"{BASE}/restaurants", headers=tenant.auth(TokenKind.PARTNER))

    assert reply.status_code == 401


async def test_the_admin_api_is_disabled_when_no_admin_token_is_configured(
    database_url: str, container: Container
) -> None:
    app = create_app(make_settings(database_url, admin_token=None), container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        empty = await http.get(f"{BASE}/restaurants", headers={"Authorization": "Bearer "})
        guessed = await http.get(f"{BASE}/restaurants", headers={"Authorization": "Bearer None"})

    assert empty.status_code == 401
    assert guessed.status_code == 401
    assert guessed.json()["error"]["code"] == "UNAUTHORIZED"


async def test_every_admin_route_is_documented_with_examples(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    create_op = paths[f"{BASE}/restaurants"]["post"]
    assert set(paths[f"{BASE}/restaurants/{{restaurant_id}}"]) == {"get", "patch"}
    assert "post" in paths[f"{BASE}/restaurants/{{restaurant_id}}/tokens"]
    assert "delete" in paths[f"{BASE}/tokens/{{token_id}}"]
    assert create_op["requestBody"]["content"]["application/json"]["examples"]
    assert create_op["security"] == [{"AdminToken": []}]
