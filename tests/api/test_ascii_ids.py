"""Ids and integer parameters are ASCII decimal digits only (SPEC §2; issue 13, item 2).

``str.isdigit()`` also takes superscripts (``int()`` then raised: a 500) and other scripts' digits
(U+0661, Arabic-Indic one, read as 1: the request reached row 1). On every door such an id is not
found and such a parameter invalid, in the door's own shape; so is a number too big to store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx

from ringback.bootstrap import Container
from ringback.relay.model import CallEvent, Decision, Direction, Disposition, Source
from ringback.tenancy.model import TokenKind
from tests.api.ccai_support import (
    APPS,
    MANAGER,
    basic,
    ccai,
    create_call,
    created,
    inbound_body,
    make_ccai_restaurant,
    scheduled_body,
)
from tests.conftest import ADMIN_TOKEN, MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["ccai"]

OPS = TokenKind.OPS
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))


def arabic(number: int | str) -> str:
    """The same number in Arabic-Indic digits: ``str.isdigit()`` and ``int()`` both accept it."""
    return str(number).translate(ARABIC_INDIC)


# Not ASCII decimal digits, or beyond PostgreSQL's bigint. The first one made int() raise (a 500).
NOT_AN_ID = ["\u00b9", "\uff11", "+1", "-1", "1_0", "1.0", "0x1", "9223372036854775808", "9" * 5000]
# In a path a space is not trimmed either (query parameters are trimmed first).
NOT_A_PATH_ID = [*NOT_AN_ID, " 1", "1 "]


async def record_failed_call(
    container: Container, tenant: Tenant, graph: respx.MockRouter
) -> Decision:
    graph.post(path__regex=r"/[^/]+/messages").mock(
        return_value=httpx.Response(400, json={"error": {"code": 100, "message": "bad"}})
    )
    event = CallEvent(
        source=Source.PARTNER,
        external_id=f"ascii-{random_mobile()}",
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=random_mobile(),
        occurred_at=dt.datetime.now(dt.UTC),
    )
    decision = await container.relay.handle(tenant.restaurant, event)
    assert decision.outcome is not None
    assert decision.outcome.value == "FAILED"
    return decision


def native_not_found(reply: httpx.Response) -> bool:
    return reply.status_code == 404 and reply.json()["error"]["code"] == "NOT_FOUND"


def native_invalid(reply: httpx.Response, field: str) -> bool:
    if reply.status_code != 422:
        return False
    error = reply.json()["error"]
    return error["code"] == "VALIDATION_ERROR" and [d["field"] for d in error["details"]] == [field]


# --- ops --------------------------------------------------------------------------------------


@pytest.mark.parametrize("odd", NOT_A_PATH_ID)
async def test_ops_path_ids_that_are_not_ascii_digits_are_not_found(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, odd: str
) -> None:
    tenant = await make_restaurant()
    auth = tenant.auth(OPS)
    replies = [
        await client.get(f"/api/ops/v1/calls/{odd}", headers=auth),
        await client.post(f"/api/ops/v1/messages/{odd}/retry", headers=auth),
        await client.put(f"/api/ops/v1/customers/{odd}/opt-out", headers=auth),
        await client.delete(f"/api/ops/v1/customers/{odd}/opt-out", headers=auth),
    ]
    assert [native_not_found(r) for r in replies] == [True] * 4, [r.text for r in replies]


async def test_ops_ids_in_other_digits_never_reach_the_row_they_look_like(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    auth = tenant.auth(OPS)
    failed = await record_failed_call(container, tenant, graph)
    assert failed.message_id is not None
    assert failed.customer_id is not None

    assert native_not_found(
        await client.get(f"/api/ops/v1/calls/{arabic(failed.call_id)}", headers=auth)
    )
    retry = await client.post(
        f"/api/ops/v1/messages/{arabic(failed.message_id)}/retry", headers=auth
    )
    assert native_not_found(retry)
    opt_out = await client.put(
        f"/api/ops/v1/customers/{arabic(failed.customer_id)}/opt-out", headers=auth
    )
    assert native_not_found(opt_out)

    item = (await client.get(f"/api/ops/v1/calls/{failed.call_id}", headers=auth)).json()["data"]
    assert item["message"]["status"] == "failed"  # not requeued
    assert item["customer"]["opted_out"] is False


@pytest.mark.parametrize("odd", NOT_AN_ID)
async def test_ops_limit_that_is_not_ascii_digits_is_a_422_naming_it(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, odd: str
) -> None:
    tenant = await make_restaurant()
    reply = await client.get("/api/ops/v1/calls", params={"limit": odd}, headers=tenant.auth(OPS))
    assert native_invalid(reply, "query.limit"), reply.text


async def test_ops_limit_in_other_digits_is_a_422(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.get(
        "/api/ops/v1/calls", params={"limit": arabic(10)}, headers=tenant.auth(OPS)
    )
    assert native_invalid(reply, "query.limit"), reply.text


@pytest.mark.parametrize(
    "route", ["/api/ops/v1/calls", "/api/ops/v1/stats", "/api/ops/v1/calls.csv"]
)
async def test_admin_restaurant_id_that_is_not_ascii_digits_is_a_422_naming_it(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, route: str
) -> None:
    tenant = await make_restaurant()
    for odd in [*NOT_AN_ID, arabic(tenant.id)]:
        reply = await client.get(route, params={"restaurant_id": odd}, headers=ADMIN)
        assert native_invalid(reply, "query.restaurant_id"), (odd, reply.status_code, reply.text)
    chosen = await client.get(route, params={"restaurant_id": tenant.id}, headers=ADMIN)
    assert chosen.status_code == 200


async def test_the_dashboard_picker_ignores_a_restaurant_id_that_is_not_ascii_digits(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant(name="Digits Bistro")
    login = await client.post(
        "/ops/login", data={"token": ADMIN_TOKEN}, headers={"Origin": "http://test"}
    )
    assert login.status_code == 303
    jar = {"ringback_ops": login.cookies["ringback_ops"]}
    client.cookies.clear()
    for odd in ["\u00b9", arabic(tenant.id)]:
        page = await client.get("/ops", params={"restaurant_id": odd}, cookies=jar)
        assert page.status_code == 200
        assert f"/ops?restaurant_id={tenant.id}" in page.text  # the picker, no restaurant chosen
        assert 'data-admin="true"' not in page.text


# --- partner ----------------------------------------------------------------------------------


async def test_partner_reservation_ids_that_are_not_ascii_digits_are_not_found(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    body = [
        {
            "external_id": "ascii-ids",
            "start_at": "2030-01-02T19:30:00+01:00",
            "party_size": 2,
            "status": "PENDING",
            "customer": {"phone_number": random_mobile()},
        }
    ]
    put = await client.put("/api/partner/v1/reservations", headers=tenant.auth(), json=body)
    rid = put.json()["data"][0]["id"]
    for odd in [*NOT_A_PATH_ID, arabic(rid)]:
        reply = await client.get(f"/api/partner/v1/reservations/{odd}", headers=tenant.auth())
        assert native_not_found(reply), (odd, reply.status_code, reply.text)
    found = await client.get(f"/api/partner/v1/reservations/{rid}", headers=tenant.auth())
    assert found.status_code == 200


@pytest.mark.parametrize("odd", ['"1_0"', '"+2"', '" 2"', '"2.0"', '"\u0662"'])
async def test_partner_party_size_given_as_a_string_must_be_ascii_digits(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, odd: str
) -> None:
    tenant = await make_restaurant()
    body = (
        '[{"external_id": "ascii-size", "start_at": "2030-01-02T19:30:00+01:00", '
        f'"party_size": {odd}, "status": "PENDING", "customer": '
        f'{{"phone_number": "{random_mobile()}"}}}}]'
    )
    reply = await client.put(
        "/api/partner/v1/reservations",
        headers={**tenant.auth(), "Content-Type": "application/json"},
        content=body,
    )
    assert native_invalid(reply, "body.0.party_size"), reply.text


# --- admin ------------------------------------------------------------------------------------


async def test_admin_ids_that_are_not_ascii_digits_are_not_found(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    for odd in [*NOT_A_PATH_ID, arabic(tenant.id)]:
        replies = [
            await client.get(f"/api/admin/v1/restaurants/{odd}", headers=ADMIN),
            await client.patch(
                f"/api/admin/v1/restaurants/{odd}", headers=ADMIN, json={"name": "Renamed"}
            ),
            await client.post(
                f"/api/admin/v1/restaurants/{odd}/tokens", headers=ADMIN, json={"kind": "ops"}
            ),
            await client.delete(f"/api/admin/v1/tokens/{odd}", headers=ADMIN),
        ]
        assert [native_not_found(r) for r in replies] == [True] * 4, [r.text for r in replies]
    same = await client.get(f"/api/admin/v1/restaurants/{tenant.id}", headers=ADMIN)
    assert same.json()["data"]["name"] == tenant.restaurant.name


async def test_revoking_a_token_named_in_other_digits_revokes_nothing(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    minted = await client.post(
        f"/api/admin/v1/restaurants/{tenant.id}/tokens", headers=ADMIN, json={"kind": "partner"}
    )
    token = minted.json()["data"]
    reply = await client.delete(f"/api/admin/v1/tokens/{arabic(token['id'])}", headers=ADMIN)
    assert native_not_found(reply)
    me = await client.get(
        "/api/partner/v1/me", headers={"Authorization": f"Bearer {token['token']}"}
    )
    assert me.status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("send_delay_seconds", "1_0"),
        ("send_delay_seconds", "+5"),
        ("send_delay_seconds", "\u0665"),
        ("ccai.menus.0.id", "+9"),
        ("ccai.menus.0.id", "\u0669"),
        ("ccai.menus.0.position", "0_1"),
    ],
)
async def test_admin_integer_settings_given_as_strings_must_be_ascii_digits(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    menu: dict[str, Any] = {"id": 9, "name": "Main", "menu_type": "ivr_menu", "position": 0}
    body: dict[str, Any] = {
        "name": "Ascii Settings",
        "country": "FR",
        "timezone": "Europe/Paris",
        "ccai": {"menus": [menu]},
    }
    if field == "send_delay_seconds":
        body[field] = value
    else:
        menu[field.rsplit(".", 1)[1]] = value
    reply = await client.post("/api/admin/v1/restaurants", headers=ADMIN, json=body)
    assert native_invalid(reply, f"body.{field}"), reply.text


# --- CCAI -------------------------------------------------------------------------------------


def ccai_not_found(reply: httpx.Response) -> bool:
    return (reply.status_code, reply.json()) == (404, {"message": "Not found"})


async def test_ccai_call_ids_that_are_not_ascii_digits_are_not_found(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    call = await created(ccai, tenant, inbound_body(random_mobile()))
    auth = basic(tenant)
    for odd in [*NOT_A_PATH_ID, arabic(call["id"])]:
        replies = [
            await ccai.patch(f"{APPS}/calls/{odd}", headers=auth, json={"status": "assigned"}),
            await ccai.get(f"{APPS}/calls/{odd}/customer_flag", headers=auth),
            await ccai.patch(
                f"{APPS}/calls/{odd}/customer_flag", headers=auth, json={"bad_actor": True}
            ),
            await ccai.get(f"{MANAGER}/calls/{odd}", headers=auth),
        ]
        assert [ccai_not_found(r) for r in replies] == [True] * 4, [r.text for r in replies]
    flags = await ccai.get(f"{APPS}/calls/{call['id']}/customer_flag", headers=auth)
    assert flags.json()["bad_actor"] is False
    same = await ccai.get(f"{MANAGER}/calls/{call['id']}", headers=auth)
    assert same.json()["status"] == call["status"]


@pytest.mark.parametrize("name", ["page", "per"])
async def test_ccai_page_and_per_that_are_not_ascii_digits_are_not_valid(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, name: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    for odd in [*NOT_AN_ID, arabic(2)]:
        reply = await ccai.get(f"{MANAGER}/calls", params={name: odd}, headers=basic(tenant))
        assert (reply.status_code, reply.json()) == (400, {"message": f"{name} is not valid"}), odd


@pytest.mark.parametrize("odd", ["\u00b9", arabic(9), "+9", "9.0", "9_0", "99999999999999999999"])
async def test_ccai_menu_id_string_that_is_not_ascii_digits_is_not_well_formed(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, odd: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await create_call(ccai, tenant, inbound_body(random_mobile(), menu_id=odd))
    assert (reply.status_code, reply.json()) == (400, {"message": "menu_id is not well formed"})


async def test_ccai_menu_id_string_of_ascii_digits_is_still_read(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    call = await created(ccai, tenant, inbound_body(random_mobile(), menu_id="9"))
    assert call["selected_menu"]["id"] == 9


async def test_ccai_call_id_string_that_is_not_ascii_digits_is_not_well_formed(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    parent = await created(ccai, tenant, inbound_body(random_mobile()))
    for odd in ["\u00b9", arabic(parent["id"]), f"+{parent['id']}"]:
        body = scheduled_body(random_mobile(), call_id=odd)
        reply = await create_call(ccai, tenant, body)
        assert (reply.status_code, reply.json()) == (
            400,
            {"message": "call_id is not well formed"},
        ), odd
    linked = await created(ccai, tenant, scheduled_body(random_mobile(), call_id=str(parent["id"])))
    assert linked["parent_id"] == parent["id"]
