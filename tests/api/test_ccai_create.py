"""POST /apps/api/v1/calls: the seed's examples, every message in SPEC §6's order, the object."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ringback.bootstrap import Container
from ringback.db.tables import call, ccai_call
from tests.api.ccai_support import (
    APPS,
    DEFAULT_OUTBOUND,
    INBOUND,
    OTHER_OUTBOUND,
    OUTBOUND,
    SCHEDULED,
    basic,
    ccai,
    create_call,
    created,
    future,
    inbound_body,
    make_ccai_restaurant,
    outbound_body,
    scheduled_body,
)
from tests.conftest import MakeRestaurant, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["ccai"]

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

CALL_KEYS = {
    "id", "parent_id", "lang", "call_type", "status", "created_at", "updated_at", "queued_at",
    "assigned_at", "connected_at", "ends_at", "scheduled_at", "wait_duration", "call_duration",
    "hold_duration", "rating", "has_feedback", "voip_provider", "out_ticket_id", "out_ticket_url",
    "verified", "recording_url", "recording_permission", "voicemail_reason", "deflection",
    "deflection_details", "disconnected_by", "fail_reason", "fail_details", "support_number",
    "answer_type", "offer_type", "offer_events", "outbound_number", "selected_menu", "menu_path",
    "agent_info", "end_user", "photos", "videos", "transfers", "participants", "end_user_number",
    "missed_call",
}  # fmt: skip
PARTICIPANT_KEYS = {
    "id", "type", "status", "call_id", "user_id", "end_user_id", "call_duration",
    "hold_duration", "connected_at", "ended_at", "fail_reason",
}  # fmt: skip

# Each example of the seed, as SPEC §6 reads it: (request, status, message). Where the seed's own
# request could not reach its rule, the request is rebuilt to reach it (SPEC §6).
SEED_ERRORS: dict[str, tuple[dict[str, Any], int, str]] = {
    "outbound: agent is not available": (
        outbound_body("+1 205-123-4567", agent_email="agent@somedomain.com"),
        400,
        "Agent is not available to take this call",
    ),
    "outbound: ticket_id or end_user_number required": (
        {"call_type": OUTBOUND, "agent_email": "admin@somedomain.com", "lang": "en"},
        400,
        "ticket_id or end_user_number required",
    ),
    "outbound: not a valid agent email": (
        outbound_body("+1 205-123-4567", agent_email="nobody@somedomain.com"),
        400,
        "Not a valid agent email",
    ),
    "outbound: agent email required": (
        {"call_type": OUTBOUND, "end_user_number": "+1 205-123-4567", "lang": "en"},
        400,
        "Agent email required",
    ),
    "outbound: agent does not have access to make calls": (
        outbound_body("+1 205-123-4567", agent_email="allen@somedomain.com"),
        400,
        "Agent does not have access to make calls",
    ),
    "outbound: end_user_number is not well-formed": (
        outbound_body("123123", outbound_number=OTHER_OUTBOUND),
        400,
        "end_user_number is not well-formed",
    ),
    "outbound: contact not found": (
        {
            "call_type": OUTBOUND,
            "agent_email": "admin@somedomain.com",
            "outbound_number": OTHER_OUTBOUND,
            "ticket_id": 1,
            "lang": "en",
        },
        400,
        "Contact not found",
    ),
    "outbound: invalid call type": (
        {**outbound_body("123123"), "call_type": "InvalidCallType"},
        400,
        "Invalid call type",
    ),
    "inbound: end_user_number is not well formed": (
        inbound_body("+1 999-657-12"),
        400,
        "end_user_number is not well formed",
    ),
    "inbound: menu in manual redirection": (
        inbound_body("+1 859-657-9625", menu_id=13),
        400,
        "Menu is in 'manual redirection' state, can't accept calls",
    ),
    "inbound: invalid call type": (
        {**inbound_body("+1 859-657-9625"), "call_type": "InvalidCallType"},
        400,
        "Invalid call type",
    ),
    "inbound: menu_id is required": (
        {"call_type": INBOUND, "lang": "en", "end_user_number": "+1 859-657-9625"},
        400,
        "menu_id is required",
    ),
    "inbound: only IVR and mobile menus": (
        inbound_body("+1 859-657-9625", menu_id=50),
        400,
        "Only IVR and mobile menu IDs are permitted",
    ),
    "inbound: menu after hours": (
        inbound_body("+1 859-657-9625", menu_id=12),
        400,
        "Menu is in 'after hours' state, can't accept incoming calls",
    ),
    "inbound: language not available": (
        inbound_body("+1 859-657-9625", lang="fr"),
        400,
        "Language 'fr' is not available",
    ),
    "inbound: language not found": (
        inbound_body("+1 859-657-9625", lang="xy"),
        400,
        "Language 'xy' is not found",
    ),
    "inbound: menu_id is not found": (
        inbound_body("+1 859-657-9625", menu_id=9999),
        400,
        "menu_id 9999 is not found",
    ),
    "inbound: menu_id is not well formed": (
        inbound_body("+1 859-657-9625", menu_id="menu_999"),
        400,
        "menu_id is not well formed",
    ),
    "inbound: end_user_number is required": (
        {"call_type": INBOUND, "lang": "en", "menu_id": 9},
        400,
        "end_user_number is required",
    ),
    "scheduled: end_user_number is not well formed": (
        scheduled_body("+1 999-657-12"),
        400,
        "end_user_number is not well formed",
    ),
    "scheduled: menu in manual redirection": (
        scheduled_body("+1 859-657-9625", menu_id=15),
        400,
        "Menu is in 'manual redirection' state, can't accept calls",
    ),
    "scheduled: invalid call type": (
        {**scheduled_body("+1 859-657-9625"), "call_type": "InvalidCallType"},
        400,
        "Invalid call type",
    ),
    "scheduled: menu_id is required": (
        {k: v for k, v in scheduled_body("+1 859-657-9625").items() if k != "menu_id"},
        400,
        "menu_id is required",
    ),
    "scheduled: only mobile and web menus": (
        scheduled_body("+1 859-657-9625", menu_id=51),
        400,
        "Only mobile and web menu IDs are permitted",
    ),
    "scheduled: menu after hours": (
        scheduled_body("+1 859-657-9625", menu_id=14),
        400,
        "Menu is in 'after hours' state, can't accept incoming calls",
    ),
    "scheduled: language not available": (
        scheduled_body("+1 859-657-9625", lang="fr"),
        400,
        "Language 'fr' is not available",
    ),
    "scheduled: language not found": (
        scheduled_body("+1 859-657-9625", lang="xy"),
        400,
        "Language 'xy' is not found",
    ),
    "scheduled: menu_id is not found": (
        scheduled_body("+1 859-657-9625", menu_id=9999),
        400,
        "menu_id 9999 is not found",
    ),
    "scheduled: menu_id is not well formed": (
        scheduled_body("+1 859-657-9625", menu_id="menu_999"),
        400,
        "menu_id is not well formed",
    ),
    "scheduled: end_user_number is required": (
        {k: v for k, v in scheduled_body("x").items() if k != "end_user_number"},
        400,
        "end_user_number is required",
    ),
    "scheduled: scheduled_at is required": (
        {k: v for k, v in scheduled_body("+1 859-657-9625").items() if k != "scheduled_at"},
        400,
        "scheduled_at is required",
    ),
}


@pytest.mark.parametrize("example", list(SEED_ERRORS))
async def test_each_seed_error_example_answers_its_status_and_message(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, example: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    body, status, message = SEED_ERRORS[example]
    reply = await create_call(ccai, tenant, body)
    assert reply.status_code == status
    assert reply.json() == {"message": message}


async def stored_calls(container: Container, restaurant_id: int) -> int:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            select(ccai_call.c.call_id).where(ccai_call.c.restaurant_id == restaurant_id)
        )
        return len(rows.all())


async def walk(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    body: dict[str, Any],
    steps: list[tuple[dict[str, Any], str]],
) -> dict[str, Any]:
    """Fix one rule at a time: each step's request must fail on exactly the next rule."""
    tenant = await make_ccai_restaurant(make_restaurant)
    for change, message in steps:
        reply = await create_call(ccai, tenant, body)
        assert (reply.status_code, reply.json()) == (400, {"message": message})
        body = {k: v for k, v in {**body, **change}.items() if v is not None}
    assert await stored_calls(container, tenant.id) == 0
    return await created(ccai, tenant, body)


async def test_outbound_rules_are_checked_in_spec_order(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    body: dict[str, Any] = {"call_type": OUTBOUND, "lang": "xy"}
    data = await walk(
        ccai,
        make_restaurant,
        container,
        body,
        [
            ({"agent_email": "nobody@somedomain.com"}, "Agent email required"),
            ({"agent_email": "allen@somedomain.com"}, "Not a valid agent email"),
            ({"agent_email": "agent@somedomain.com"}, "Agent does not have access to make calls"),
            ({"agent_email": "ADMIN@somedomain.com"}, "Agent is not available to take this call"),
            (
                {"ticket_id": "no-such-ticket", "end_user_number": "123123"},
                "ticket_id or end_user_number required",
            ),
            ({"ticket_id": None}, "Contact not found"),
            ({"end_user_number": "+1 205-123-4567"}, "end_user_number is not well-formed"),
            ({"lang": "fr"}, "Language 'xy' is not found"),
            ({"lang": "en"}, "Language 'fr' is not available"),
        ],
    )
    assert data["status"] == "assigned"


async def test_inbound_rules_are_checked_in_spec_order(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    body: dict[str, Any] = {"call_type": "IncomingCall", "lang": "xy", "ticket_id": "nope"}
    data = await walk(
        ccai,
        make_restaurant,
        container,
        body,
        [
            ({"menu_id": "menu_999"}, "menu_id is required"),
            ({"menu_id": 9999}, "menu_id is not well formed"),
            ({"menu_id": 50}, "menu_id 9999 is not found"),
            ({"menu_id": 12}, "Only IVR and mobile menu IDs are permitted"),
            ({"menu_id": 13}, "Menu is in 'after hours' state, can't accept incoming calls"),
            ({"menu_id": 9}, "Menu is in 'manual redirection' state, can't accept calls"),
            ({"lang": "fr"}, "Language 'xy' is not found"),
            ({"lang": "en"}, "Language 'fr' is not available"),
            ({"end_user_number": "+1 999-657-12"}, "end_user_number is required"),
            ({"end_user_number": "+1 859-657-9625"}, "end_user_number is not well formed"),
            ({"ticket_id": None}, "Contact not found"),
        ],
    )
    assert data["call_type"] == INBOUND
    assert data["status"] == "queued"


async def test_scheduled_rules_are_checked_in_spec_order(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    body: dict[str, Any] = {
        "call_type": "ScheduledCall",
        "lang": "xy",
        "ticket_id": "nope",
        "call_id": "abc",
        "scheduled_at": "tomorrow",
    }
    data = await walk(
        ccai,
        make_restaurant,
        container,
        body,
        [
            ({"call_id": 999_999_999}, "call_id is not well formed"),
            ({"call_id": None}, "call_id 999999999 is not found"),
            ({"menu_id": "menu_999"}, "menu_id is required"),
            ({"menu_id": 9999}, "menu_id is not well formed"),
            ({"menu_id": 51}, "menu_id 9999 is not found"),
            ({"menu_id": 14}, "Only mobile and web menu IDs are permitted"),
            ({"menu_id": 15}, "Menu is in 'after hours' state, can't accept incoming calls"),
            ({"menu_id": 11}, "Menu is in 'manual redirection' state, can't accept calls"),
            ({"lang": "fr"}, "Language 'xy' is not found"),
            ({"lang": "en"}, "Language 'fr' is not available"),
            ({"end_user_number": "+1 999-657-12"}, "end_user_number is required"),
            ({"end_user_number": "+1 859-657-9625"}, "end_user_number is not well formed"),
            ({"ticket_id": None}, "Contact not found"),
            ({"scheduled_at": "2019-09-15T00:19:14.421Z"}, "scheduled_at is not well formed"),
            ({"scheduled_at": future()}, "scheduled_at must be in the future"),
        ],
    )
    assert data["call_type"] == SCHEDULED
    assert data["status"] == "scheduled"


async def test_outbound_call_with_end_user_number_is_assigned_with_agent_and_participants(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    body = outbound_body("+1 859-657-9625", outbound_number=DEFAULT_OUTBOUND)
    data = await created(ccai, tenant, body)

    assert set(data) == CALL_KEYS
    assert isinstance(data["id"], int)
    assert data["call_type"] == OUTBOUND
    assert data["status"] == "assigned"
    assert data["lang"] == "en"
    assert data["parent_id"] is None
    assert ISO_Z.match(data["created_at"])
    assert ISO_Z.match(data["updated_at"])
    assert data["assigned_at"] == data["created_at"]
    assert [data[k] for k in ("queued_at", "connected_at", "ends_at", "scheduled_at")] == [None] * 4
    assert (data["wait_duration"], data["call_duration"], data["hold_duration"]) == (0, 0, 0)
    assert data["outbound_number"] == DEFAULT_OUTBOUND
    assert data["out_ticket_id"] is None
    assert data["end_user_number"] == "+18596579625"
    assert data["selected_menu"] is None
    assert data["menu_path"] is None
    assert data["offer_type"] is None
    assert data["offer_events"] == []
    assert data["answer_type"] == "manual"
    assert data["recording_permission"] == "not_asked"
    assert data["voicemail_reason"] == "not_voicemail"
    assert data["deflection"] == "no_deflection"
    assert data["disconnected_by"] == "disconnected_by_unknown"
    assert data["fail_reason"] == "nothing"
    assert data["verified"] is False
    assert data["has_feedback"] is False
    assert data["missed_call"] is None
    assert data["photos"] == data["videos"] == data["transfers"] == data["deflection_details"] == []
    assert data["agent_info"] == {
        "id": 1,
        "agent_number": None,
        "name": "Admin UJET",
        "last_name": "UJET",
        "first_name": "Admin",
        "avatar_url": "https://somedomain.com/avatar.jpg",
    }
    agent, end_user = data["participants"]
    assert set(agent) == set(end_user) == PARTICIPANT_KEYS
    assert (agent["type"], agent["user_id"], agent["end_user_id"]) == ("agent", 1, None)
    assert (end_user["type"], end_user["user_id"]) == ("end_user", None)
    assert end_user["end_user_id"] == data["end_user"]["id"]
    for participant in (agent, end_user):
        assert participant["call_id"] == data["id"]
        assert participant["status"] == "waiting"
        assert participant["fail_reason"] == "nothing"
        assert participant["call_duration"] is None
        assert isinstance(participant["id"], int)
    assert agent["id"] != end_user["id"]


async def test_outbound_call_with_ticket_dials_the_tickets_number(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    body = {
        "call_type": "OutboundCall",
        "agent_email": "admin@somedomain.com",
        "ticket_id": "71450",
        "end_user_number": "+1 205-123-4567",
        "outbound_number": DEFAULT_OUTBOUND,
        "lang": "en",
    }
    data = await created(ccai, tenant, body)

    assert data["call_type"] == OUTBOUND
    assert data["out_ticket_id"] == "71450"
    assert data["end_user_number"] == "+18596579625"
    assert isinstance(data["end_user"]["id"], int)
    assert data["end_user"]["identifier"] is None


async def test_outbound_number_not_the_restaurants_is_echoed_with_202_and_stores_nothing(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    body = {
        "call_type": "Voice Outbound (API)",
        "agent_email": "admin@somedomain.com",
        "outbound_number": "+1 760-867-5309",
        "end_user_number": "+1 205-123-4567",
        "lang": "en",
        "extra": {"kept": [1, 2]},
    }
    reply = await ccai.post(f"{APPS}/calls", content=json.dumps(body), headers=basic(tenant))
    assert reply.status_code == 202
    assert reply.json() == body
    assert await stored_calls(container, tenant.id) == 0


async def test_several_outbound_numbers_without_a_default_need_the_agent_to_choose(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(
        make_restaurant,
        outbound_numbers=[{"number": DEFAULT_OUTBOUND}, {"number": OTHER_OUTBOUND}],
    )
    body = outbound_body("+1 859-657-9625")
    reply = await create_call(ccai, tenant, body)
    assert reply.status_code == 202
    assert reply.json() == body
    chosen = await created(ccai, tenant, {**body, "outbound_number": "+17604108538"})
    assert chosen["outbound_number"] == OTHER_OUTBOUND


async def test_outbound_without_number_uses_the_default_outbound_number(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, outbound_body("+1 859-657-9625"))
    assert data["outbound_number"] == DEFAULT_OUTBOUND


async def test_incoming_call_with_end_user_number_is_queued_on_its_menu(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    body = inbound_body("+82-10-6861-2345", recording_permission="recording_permission_granted")
    data = await created(ccai, tenant, body)

    assert set(data) == CALL_KEYS
    assert data["status"] == "queued"
    assert data["call_type"] == INBOUND
    assert data["queued_at"] == data["created_at"]
    assert data["assigned_at"] is None
    assert data["end_user_number"] == "+821068612345"
    assert data["selected_menu"] == {
        "id": 9,
        "name": "Lock Star",
        "parent_id": None,
        "position": 0,
        "deleted": False,
        "hidden": False,
        "menu_type": "ivr_menu",
        "output_msg": "You selected Lock Star.",
    }
    assert data["menu_path"] == {"items_count": 1, "name": "Lock Star", "materialized_path": "9"}
    assert data["agent_info"] is None
    assert data["offer_type"] == "cascade"
    assert data["offer_events"] == [{"casting_time": data["queued_at"], "group": "Lock Star"}]
    assert data["outbound_number"] == DEFAULT_OUTBOUND
    [end_user] = data["participants"]
    assert end_user["type"] == "end_user"
    assert end_user["end_user_id"] == data["end_user"]["id"]


async def test_incoming_call_ticket_wins_over_end_user_number(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(
        ccai, tenant, inbound_body("+82-10-6861-2345", ticket_id="76517", menu_id="10")
    )
    assert data["out_ticket_id"] == "76517"
    assert data["end_user_number"] == "+18596579625"
    assert data["selected_menu"]["menu_type"] == "mobile_menu"


async def test_menu_path_follows_the_parent_menus(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile(), menu_id=60))
    assert data["selected_menu"]["parent_id"] == 10
    assert data["selected_menu"]["position"] == 2
    assert data["menu_path"] == {
        "items_count": 2,
        "name": "App / Desserts",
        "materialized_path": "10/60",
    }


async def test_scheduled_call_with_menu_id_is_scheduled_at_the_given_time(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    at = future(hours=5)
    data = await created(ccai, tenant, scheduled_body("+82-10-6861-2345", scheduled_at=at))
    assert data["status"] == "scheduled"
    assert data["call_type"] == SCHEDULED
    assert data["scheduled_at"] == at
    assert data["queued_at"] is None
    assert data["offer_events"] == []
    assert data["selected_menu"]["id"] == 10


async def test_scheduled_call_with_call_id_links_its_parent_and_inherits_its_menu(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    parent = await created(ccai, tenant, inbound_body("+82-10-6861-2345"))
    body = scheduled_body("+82-10-6861-2345", call_id=parent["id"])
    del body["menu_id"]
    data = await created(ccai, tenant, body)
    assert data["parent_id"] == parent["id"]
    assert data["selected_menu"] == parent["selected_menu"]


async def test_scheduled_at_without_offset_is_read_as_utc(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    at = future(hours=3)
    data = await created(ccai, tenant, scheduled_body(random_mobile(), scheduled_at=at[:-1]))
    assert data["scheduled_at"] == at


async def test_call_id_of_another_restaurant_is_not_found(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    other = await make_ccai_restaurant(make_restaurant)
    foreign = await created(ccai, other, inbound_body(random_mobile()))
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await create_call(ccai, tenant, scheduled_body(random_mobile(), call_id=foreign["id"]))
    assert reply.status_code == 400
    assert reply.json() == {"message": f"call_id {foreign['id']} is not found"}


async def test_language_defaults_to_english_and_enabled_languages_are_accepted(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant, languages=["en", "fr"])
    body = inbound_body(random_mobile())
    del body["lang"]
    assert (await created(ccai, tenant, body))["lang"] == "en"
    assert (await created(ccai, tenant, inbound_body(random_mobile(), lang="fr")))["lang"] == "fr"


async def test_call_row_is_the_relays_row_with_source_ccai_and_its_own_id(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body("06 12 34 56 78"))
    async with container.engine.connect() as conn:
        row = (await conn.execute(select(call).where(call.c.id == data["id"]))).mappings().one()
    assert row["source"] == "ccai"
    assert row["external_id"] == str(data["id"])
    assert row["disposition"] == "other"
    assert row["direction"] == "inbound"
    assert row["restaurant_id"] == tenant.id
    assert data["end_user_number"] == "+33612345678"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "Request body is not valid JSON"),
        (b"[1, 2]", "Request body must be a JSON object"),
        (b"", "Invalid call type"),
    ],
)
async def test_body_that_is_not_a_json_object_is_a_400_with_a_message(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, content: bytes, message: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await ccai.post(
        f"{APPS}/calls",
        content=content,
        headers={**basic(tenant), "Content-Type": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.json() == {"message": message}
