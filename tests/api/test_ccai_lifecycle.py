"""PATCH /apps/api/v1/calls/{id} and customer_flag: moves, timestamps, the relay's decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import update

from ringback.bootstrap import Container
from ringback.db.tables import call, ccai_call
from ringback.doors.ccai.calls import MOVES, CallStatus
from tests.api.ccai_support import (
    APPS,
    MANAGER,
    basic,
    ccai,
    created,
    inbound_body,
    make_ccai_restaurant,
    move,
    moved,
    outbound_body,
    scheduled_body,
)
from tests.api.conftest import sent_bodies
from tests.conftest import MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["ccai"]


async def set_status(container: Container, call_id: int, status: str) -> None:
    async with container.engine.begin() as conn:
        await conn.execute(
            update(ccai_call).where(ccai_call.c.call_id == call_id).values(status=status)
        )


def template_message(number: str, name: str, template: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": number.lstrip("+"),
        "type": "template",
        "template": {
            "name": template,
            "language": {"code": "fr"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": name}]}],
        },
    }


@pytest.mark.parametrize("source", list(CallStatus))
async def test_only_the_moves_of_the_transition_table_are_allowed(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    source: CallStatus,
) -> None:
    # texting off: the missed endings on the way are stored and decided, never sent
    tenant = await make_ccai_restaurant(make_restaurant, missed_calls_enabled=False)
    for target in CallStatus:
        data = await created(ccai, tenant, inbound_body(random_mobile()))
        if source is CallStatus.RECOVERED:
            async with container.engine.begin() as conn:
                await conn.execute(
                    update(call)
                    .where(call.c.id == data["id"])
                    .values(recovered_at=dt.datetime.now(dt.UTC))
                )
        else:
            await set_status(container, data["id"], source.value)
        reply = await move(ccai, tenant, data["id"], status=target.value)
        if target in MOVES.get(source, frozenset()):
            assert reply.status_code == 200, (source, target, reply.text)
            assert reply.json()["status"] == target.value
        else:
            assert reply.status_code == 409, (source, target)
            assert reply.json() == {
                "message": f"Call cannot move from {source.value} to {target.value}"
            }


async def test_timestamps_and_durations_follow_the_status(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    call_id = data["id"]

    assigned = await moved(ccai, tenant, call_id, status="assigned")
    assert assigned["assigned_at"] is not None
    assert assigned["connected_at"] is None
    connecting = await moved(ccai, tenant, call_id, status="connecting")
    assert connecting["assigned_at"] == assigned["assigned_at"]
    created_at = dt.datetime.fromisoformat(data["created_at"])
    connected_at = created_at + dt.timedelta(seconds=30)
    ends_at = connected_at + dt.timedelta(seconds=95)
    connected = await moved(
        ccai, tenant, call_id, status="connected", connected_at=connected_at.isoformat()
    )
    assert connected["connected_at"] == connected_at.isoformat(timespec="milliseconds")[:-6] + "Z"
    assert connected["wait_duration"] == 30
    assert connected["call_duration"] == 0
    assert connected["ends_at"] is None
    assert {p["status"] for p in connected["participants"]} == {"connected"}
    finished = await moved(ccai, tenant, call_id, status="finished", ends_at=ends_at.isoformat())
    assert finished["status"] == "finished"
    assert finished["call_duration"] == 95
    assert finished["wait_duration"] == 30
    [participant] = finished["participants"]
    assert participant["status"] == "finished"
    assert participant["call_duration"] == 95
    assert participant["connected_at"] == finished["connected_at"]
    assert participant["ended_at"] == finished["ends_at"]
    assert finished["updated_at"] >= data["updated_at"]
    assert finished["missed_call"] is None
    assert sent_bodies(graph) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "hung_up"}, "status is not valid"),
        ({}, "status is not valid"),
        ({"status": "failed", "fail_reason": "Not A Reason!"}, "fail_reason is not valid"),
        ({"status": "deflected", "deflection": 7}, "deflection is not valid"),
        ({"status": "voicemail", "voicemail_reason": ""}, "voicemail_reason is not valid"),
        ({"status": "failed", "connected_at": "2030-01-01T00:00:00Z"}, "connected_at is not valid"),
        ({"status": "connected", "connected_at": "soon"}, "connected_at is not valid"),
        ({"status": "failed", "ends_at": "yesterday"}, "ends_at is not valid"),
        ({"status": "assigned", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at is not valid"),
    ],
)
async def test_a_bad_patch_value_is_a_400_naming_the_field(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    body: dict[str, Any],
    message: str,
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    reply = await move(ccai, tenant, data["id"], **body)
    assert reply.status_code == 400
    assert reply.json() == {"message": message}


async def test_ends_at_before_connected_at_is_refused(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, outbound_body(random_mobile()))
    connected = await moved(ccai, tenant, data["id"], status="connected")
    earlier = dt.datetime.fromisoformat(connected["connected_at"]) - dt.timedelta(minutes=1)
    reply = await move(ccai, tenant, data["id"], status="finished", ends_at=earlier.isoformat())
    assert reply.status_code == 400
    assert reply.json() == {"message": "ends_at is not valid"}


async def assert_missed_message(
    graph: respx.MockRouter, tenant: Tenant, number: str, template: str
) -> None:
    assert sent_bodies(graph) == [template_message(number, tenant.restaurant.name, template)]
    request = graph.calls[0].request
    assert request.headers["authorization"] == "Bearer wa-access-token"
    assert request.url.path.endswith("/1234567890/messages")


@pytest.mark.parametrize(
    "ending",
    [
        {"status": "failed", "fail_reason": "eu_abandoned"},
        {"status": "deflected", "deflection": "deflect_to_voicemail"},
        {"status": "voicemail", "voicemail_reason": "after_hours"},
    ],
)
async def test_inbound_call_ending_unanswered_sends_the_missed_call_message(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
    ending: dict[str, str],
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    data = await created(ccai, tenant, inbound_body(number))
    ended = await moved(ccai, tenant, data["id"], **ending)

    assert ended["status"] == ending["status"]
    for field in ("fail_reason", "deflection", "voicemail_reason"):
        if field in ending:
            assert ended[field] == ending[field]
    assert ended["missed_call"] == {
        "outcome": "SENT",
        "template_type": "MISSED_CALL",
        "message_status": "sent",
    }
    await assert_missed_message(graph, tenant, number, "missed_call")


async def test_scheduled_call_failing_unconnected_sends_the_missed_call_message(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    data = await created(ccai, tenant, scheduled_body(number))
    await moved(ccai, tenant, data["id"], status="queued")
    ended = await moved(ccai, tenant, data["id"], status="failed", fail_reason="eu_no_answer")
    assert ended["missed_call"]["outcome"] == "SENT"
    await assert_missed_message(graph, tenant, number, "missed_call")


@pytest.mark.parametrize("reason", ["eu_no_answer", "eu_busy", "eu_rejected"])
async def test_outbound_call_the_customer_did_not_take_sends_callback_unanswered(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter, reason: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    data = await created(ccai, tenant, outbound_body(number))
    await moved(ccai, tenant, data["id"], status="connecting")
    ended = await moved(ccai, tenant, data["id"], status="failed", fail_reason=reason)
    assert ended["missed_call"] == {
        "outcome": "SENT",
        "template_type": "CALLBACK_UNANSWERED",
        "message_status": "sent",
    }
    assert ended["participants"][0]["status"] == "failed"
    assert ended["participants"][0]["fail_reason"] == reason
    await assert_missed_message(graph, tenant, number, "callback_unanswered")


async def test_outbound_call_failing_for_another_reason_sends_nothing(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, outbound_body(random_mobile()))
    ended = await moved(ccai, tenant, data["id"], status="failed", fail_reason="agent_no_answer")
    assert ended["missed_call"] is None
    assert sent_bodies(graph) == []


async def test_outbound_wrong_number_is_decided_invalid_and_not_sent(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, outbound_body(random_mobile()))
    ended = await moved(ccai, tenant, data["id"], status="failed", fail_reason="eu_wrong_number")
    assert ended["missed_call"] == {
        "outcome": "SKIPPED_INVALID_NUMBER",
        "template_type": None,
        "message_status": None,
    }
    assert sent_bodies(graph) == []


async def test_inbound_call_failing_after_it_connected_is_not_missed(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    await moved(ccai, tenant, data["id"], status="connected")
    ended = await moved(ccai, tenant, data["id"], status="failed", fail_reason="eu_abandoned")
    assert ended["missed_call"] is None
    assert sent_bodies(graph) == []


async def test_voicemail_then_failed_sends_one_message(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    data = await created(ccai, tenant, inbound_body(number))
    await moved(ccai, tenant, data["id"], status="voicemail")
    ended = await moved(ccai, tenant, data["id"], status="failed")
    assert ended["missed_call"]["outcome"] == "SENT"
    assert len(sent_bodies(graph)) == 1


async def test_connecting_a_later_call_recovers_the_customers_missed_call_and_cancels_its_message(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant, send_delay_seconds=3600)
    number = random_mobile()
    missed = await created(ccai, tenant, inbound_body(number))
    ended = await moved(ccai, tenant, missed["id"], status="failed", fail_reason="eu_abandoned")
    assert ended["missed_call"] == {
        "outcome": "QUEUED",
        "template_type": "MISSED_CALL",
        "message_status": "queued",
    }

    callback = await created(ccai, tenant, outbound_body(number))
    connected = await moved(ccai, tenant, callback["id"], status="connected")
    assert connected["status"] == "connected"
    assert connected["missed_call"] is None

    reply = await ccai.get(f"{MANAGER}/calls/{missed['id']}", headers=basic(tenant))
    recovered = reply.json()
    assert recovered["status"] == "recovered"
    assert recovered["missed_call"]["message_status"] == "cancelled"
    assert recovered["updated_at"] >= ended["updated_at"]
    assert sent_bodies(graph) == []
    refused = await move(ccai, tenant, missed["id"], status="queued")
    assert refused.status_code == 409
    assert refused.json() == {"message": "Call cannot move from recovered to queued"}


async def test_scheduled_callback_that_connects_recovers_its_parent_whatever_its_age(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    parent = await created(ccai, tenant, inbound_body(number))
    await moved(ccai, tenant, parent["id"], status="failed", fail_reason="eu_abandoned")
    async with container.engine.begin() as conn:
        three_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        await conn.execute(
            update(call).where(call.c.id == parent["id"]).values(occurred_at=three_days_ago)
        )
    body = scheduled_body(number, call_id=parent["id"])
    del body["menu_id"]
    callback = await created(ccai, tenant, body)
    await moved(ccai, tenant, callback["id"], status="queued")
    await moved(ccai, tenant, callback["id"], status="connected")

    reply = await ccai.get(f"{MANAGER}/calls/{parent['id']}", headers=basic(tenant))
    assert reply.json()["status"] == "recovered"
    reply = await ccai.get(f"{MANAGER}/calls/{callback['id']}", headers=basic(tenant))
    assert reply.json()["status"] == "connected"
    assert reply.json()["parent_id"] == parent["id"]


async def test_patch_of_another_restaurants_call_is_not_found(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    owner = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, owner, inbound_body(random_mobile()))
    stranger = await make_ccai_restaurant(make_restaurant)
    reply = await move(ccai, stranger, data["id"], status="assigned")
    assert (reply.status_code, reply.json()) == (404, {"message": "Not found"})
    reply = await set_flags(ccai, stranger, data["id"], bad_actor=True)
    assert (reply.status_code, reply.json()) == (404, {"message": "Not found"})
    reply = await flags(ccai, stranger, data["id"])
    assert (reply.status_code, reply.json()) == (404, {"message": "Not found"})
    reply = await ccai.get(f"{MANAGER}/calls/{data['id']}", headers=basic(stranger))
    assert (reply.status_code, reply.json()) == (404, {"message": "Not found"})
    reply = await ccai.get(f"{MANAGER}/calls/{data['id']}", headers=basic(owner))
    assert reply.json()["status"] == "queued"


async def flags(client: httpx.AsyncClient, tenant: Tenant, call_id: int) -> httpx.Response:
    return await client.get(f"{APPS}/calls/{call_id}/customer_flag", headers=basic(tenant))


async def set_flags(
    client: httpx.AsyncClient, tenant: Tenant, call_id: int, **body: Any
) -> httpx.Response:
    return await client.patch(
        f"{APPS}/calls/{call_id}/customer_flag", json=body, headers=basic(tenant)
    )


async def test_customer_flags_of_a_new_customer_are_all_false(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    reply = await flags(ccai, tenant, data["id"])
    assert reply.status_code == 200
    assert reply.json() == {
        "verified_customer": False,
        "bad_actor": False,
        "repeat_customer": False,
    }


async def test_repeat_customer_defaults_to_whether_the_customer_called_before(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    first = await created(ccai, tenant, inbound_body(number))
    second = await created(ccai, tenant, inbound_body(number))
    assert (await flags(ccai, tenant, first["id"])).json()["repeat_customer"] is False
    assert (await flags(ccai, tenant, second["id"])).json()["repeat_customer"] is True


async def test_patching_flags_sets_them_on_the_customer_with_either_spelling(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    data = await created(ccai, tenant, inbound_body(number))
    reply = await set_flags(ccai, tenant, data["id"], verified_customer=True, repeat_customers=True)
    assert reply.status_code == 200
    assert reply.json() == {"verified_customer": True, "bad_actor": False, "repeat_customer": True}
    reply = await set_flags(ccai, tenant, data["id"], repeat_customer=False)
    assert reply.json()["repeat_customer"] is False
    later = await created(ccai, tenant, inbound_body(number))
    assert later["verified"] is True
    assert (await flags(ccai, tenant, later["id"])).json() == {
        "verified_customer": True,
        "bad_actor": False,
        "repeat_customer": False,
    }


async def test_bad_actor_suppresses_the_missed_call_message(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    reply = await set_flags(ccai, tenant, data["id"], bad_actor=True)
    assert reply.json()["bad_actor"] is True
    ended = await moved(ccai, tenant, data["id"], status="failed", fail_reason="eu_abandoned")
    assert ended["missed_call"]["outcome"] == "SKIPPED_SUPPRESSED"
    assert sent_bodies(graph) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"bad_actor": "yes"}, "bad_actor is not valid"),
        ({"verified_customer": 1}, "verified_customer is not valid"),
        ({"repeat_customers": "true"}, "repeat_customers is not valid"),
    ],
)
async def test_a_flag_that_is_not_a_boolean_is_a_400(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, body: dict[str, Any], message: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    reply = await set_flags(ccai, tenant, data["id"], **body)
    assert (reply.status_code, reply.json()) == (400, {"message": message})


async def test_a_call_without_a_known_customer_has_no_flags_to_set(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    # possible, so well-formed, but not a valid number: no customer is made for it
    data = await created(ccai, tenant, outbound_body("+1 205-123-4567"))
    assert data["end_user"] is None
    assert (await flags(ccai, tenant, data["id"])).json() == {
        "verified_customer": False,
        "bad_actor": False,
        "repeat_customer": False,
    }
    reply = await set_flags(ccai, tenant, data["id"], bad_actor=True)
    assert (reply.status_code, reply.json()) == (
        400,
        {"message": "The call has no end user to flag"},
    )
