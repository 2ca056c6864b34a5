"""The ops API's conversations (SPEC §10): the inbox list with unread counts and keyset pages,
one thread with both directions and the customer's calls, the read mark, tenancy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx

from ringback.tenancy.model import TokenKind
from tests.api.conversations_support import (
    OPS,
    deliver,
    hooks,
    inbound,
    own_number,
    pnid,
    report_missed,
    webhook,
)
from tests.conftest import ADMIN_TOKEN, MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["hooks"]

BASE = "/api/ops/v1/conversations"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


async def write(
    client: httpx.AsyncClient, tenant: Tenant, sender: str, text: str, at: dt.datetime, **kw: Any
) -> dict[str, Any]:
    item = inbound(sender=sender, text=text, at=at, **kw)
    assert (await deliver(client, webhook(pnid(tenant), item))).status_code == 200
    return item


async def inbox(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> httpx.Response:
    return await client.get(BASE, params=params, headers=tenant.auth(OPS))


async def listed(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    reply = await inbox(client, tenant, **params)
    assert reply.status_code == 200, reply.text
    data: list[dict[str, Any]] = reply.json()["data"]
    return data


async def test_the_inbox_lists_newest_activity_first_with_last_message_unread_and_window(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await own_number(make_restaurant)
    old, recent = random_mobile(), random_mobile()
    await write(hooks, tenant, old, "hier soir", NOW - dt.timedelta(hours=30))
    await write(hooks, tenant, recent, "premier", NOW - dt.timedelta(minutes=3))
    await write(hooks, tenant, recent, "second, " + "x" * 600, NOW - dt.timedelta(minutes=2))

    data = await listed(hooks, tenant)

    assert [c["customer"]["phone_number"] for c in data] == [recent, old]
    first = data[0]
    assert first["unread"] == 2
    assert first["last_message"]["direction"] == "inbound"
    assert first["last_message"]["type"] == "text"
    assert first["last_message"]["text"] == ("second, " + "x" * 600)[:500]
    assert first["last_message"]["at"] == _z(NOW - dt.timedelta(minutes=2))
    assert first["updated_at"] == _z(NOW - dt.timedelta(minutes=2))
    assert first["window_open_until"] == _z(NOW - dt.timedelta(minutes=2) + dt.timedelta(hours=24))
    assert first["customer"]["opted_out"] is False
    assert data[1]["window_open_until"] is None  # 30 h ago: the window closed
    assert set(first) >= {"id", "customer", "last_message", "unread", "window_open_until"}


async def test_keyset_pages_walk_every_conversation_once(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await own_number(make_restaurant)
    senders = [random_mobile() for _ in range(7)]
    for minutes, sender in enumerate(senders):
        await write(hooks, tenant, sender, "bonjour", NOW - dt.timedelta(minutes=minutes))

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        reply = await inbox(hooks, tenant, **params)
        body = reply.json()
        seen += [c["customer"]["phone_number"] for c in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == senders
    assert pages == 3


async def test_unread_and_phone_filters(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await own_number(make_restaurant)
    read, unread = random_mobile(), random_mobile()
    await write(hooks, tenant, read, "lu", NOW - dt.timedelta(minutes=5))
    await write(hooks, tenant, unread, "pas lu", NOW - dt.timedelta(minutes=4))
    (chat,) = [c for c in await listed(hooks, tenant) if c["customer"]["phone_number"] == read]
    marked = await hooks.post(f"{BASE}/{chat['id']}/read", headers=tenant.auth(OPS))

    only_unread = await listed(hooks, tenant, unread="true")
    national = "0" + read.removeprefix("+33")
    by_phone = await listed(hooks, tenant, phone=national)

    assert marked.status_code == 204
    assert marked.content == b""
    assert [c["customer"]["phone_number"] for c in only_unread] == [unread]
    assert [c["customer"]["phone_number"] for c in by_phone] == [read]
    assert by_phone[0]["unread"] == 0
    assert by_phone[0]["read_at"] is not None


async def test_a_message_after_the_read_mark_counts_as_unread_again(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    await write(hooks, tenant, sender, "un", NOW - dt.timedelta(minutes=5))
    (chat,) = await listed(hooks, tenant)
    await hooks.post(f"{BASE}/{chat['id']}/read", headers=tenant.auth(OPS))

    await write(hooks, tenant, sender, "deux", NOW - dt.timedelta(minutes=1))

    (again,) = await listed(hooks, tenant)
    assert again["unread"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "101"}, "query.limit"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"unread": "maybe"}, "query.unread"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"phone": "1" * 65}, "query.phone"),
    ],
)
async def test_bad_list_parameters_are_422_naming_them(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, params: dict[str, str], field: str
) -> None:
    tenant = await own_number(make_restaurant)

    reply = await inbox(hooks, tenant, **params)

    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["details"]] == [field]


async def test_a_cursor_of_another_restaurant_or_of_the_calls_list_is_refused(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    ours = await own_number(make_restaurant)
    theirs = await own_number(make_restaurant)
    for minutes in range(3):
        await write(hooks, ours, random_mobile(), "x", NOW - dt.timedelta(minutes=minutes))
        await report_missed(hooks, ours)
    cursor = (await inbox(hooks, ours, limit=1)).json()["next_cursor"]
    calls_cursor = (
        await hooks.get("/api/ops/v1/calls", params={"limit": 1}, headers=ours.auth(OPS))
    ).json()["next_cursor"]

    foreign = await inbox(hooks, theirs, cursor=cursor)
    crossed = await inbox(hooks, ours, cursor=calls_cursor)

    assert (foreign.status_code, crossed.status_code) == (422, 422)


# --- one thread ----------------------------------------------------------------------------


async def test_the_thread_has_both_directions_in_time_order_and_the_customers_calls(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    missed = await report_missed(hooks, tenant, sender)
    sent = await _template_wamid(hooks, tenant, missed["id"])
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    await write(hooks, tenant, sender, "Oui, pour ce soir", later, context_id=sent)
    photo = inbound("image", sender=sender, at=later + dt.timedelta(seconds=1))
    await deliver(hooks, webhook(pnid(tenant), photo))
    (chat,) = await listed(hooks, tenant)

    reply = await hooks.get(f"{BASE}/{chat['id']}", headers=tenant.auth(OPS))

    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    messages = data["messages"]
    assert [(m["author"], m["type"]) for m in messages] == [
        ("template", "template"),
        ("customer", "text"),
        ("customer", "image"),
    ]
    template_item, text_item, photo_item = messages
    assert template_item["message"]["status"] == "sent"
    assert template_item["call_id"] == missed["id"]
    assert template_item["template"] == {"name": "missed_call", "parameters": ["Chez Test"]}
    assert text_item["context"] == {
        "id": sent,
        "quoted": {"author": "template", "type": "template", "text": None},
    }
    assert photo_item["media"] == {"id": "1479537139650973", "mime_type": "image/jpeg"}
    assert photo_item["text"] == "La table près de la fenêtre, c'est possible ?"
    assert [c["id"] for c in data["calls"]] == [missed["id"]]
    assert data["calls"][0]["replied_at"] == _z(later)
    assert data["reply"] == {"allowed": True, "code": None, "message": None}
    assert data["unread"] == 2


async def test_the_thread_says_why_a_reply_is_refused(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    await write(hooks, tenant, sender, "il y a longtemps", NOW - dt.timedelta(hours=25))
    (chat,) = await listed(hooks, tenant)

    closed = (await hooks.get(f"{BASE}/{chat['id']}", headers=tenant.auth(OPS))).json()["data"]
    await write(hooks, tenant, sender, "STOP", NOW)
    stopped = (await hooks.get(f"{BASE}/{chat['id']}", headers=tenant.auth(OPS))).json()["data"]

    assert closed["reply"]["allowed"] is False
    assert closed["reply"]["code"] == "WINDOW_CLOSED"
    assert "24 hours" in closed["reply"]["message"]
    assert stopped["reply"]["code"] == "OPTED_OUT"
    assert stopped["customer"]["opted_out"] is True


# --- tenancy ---------------------------------------------------------------------------------


async def test_another_restaurants_conversation_is_not_found_everywhere(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    ours = await own_number(make_restaurant)
    theirs = await own_number(make_restaurant)
    await write(hooks, theirs, random_mobile(), "privé", NOW)
    (chat,) = await listed(hooks, theirs)
    path = f"{BASE}/{chat['id']}"

    replies = [
        await hooks.get(path, headers=ours.auth(OPS)),
        await hooks.post(f"{path}/read", headers=ours.auth(OPS)),
        await hooks.post(f"{path}/messages", json={"text": "hi"}, headers=ours.auth(OPS)),
    ]

    assert [r.status_code for r in replies] == [404, 404, 404]
    assert {r.json()["error"]["code"] for r in replies} == {"NOT_FOUND"}
    assert await listed(hooks, ours) == []
    assert (await listed(hooks, theirs))[0]["unread"] == 1


@pytest.mark.parametrize("bad_id", ["abc", "1.0", "\u0661", "99999999999999999999"])
async def test_an_id_that_is_not_one_is_not_found(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, bad_id: str
) -> None:
    tenant = await own_number(make_restaurant)

    reply = await hooks.get(f"{BASE}/{bad_id}", headers=tenant.auth(OPS))

    assert reply.status_code == 404


async def test_other_tokens_are_refused_and_the_admin_chooses_a_restaurant(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await own_number(make_restaurant)
    await write(hooks, tenant, random_mobile(), "bonjour", NOW)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    partner = await hooks.get(BASE, headers=tenant.auth(TokenKind.PARTNER))
    unchosen = await hooks.get(BASE, headers=admin)
    chosen = await hooks.get(BASE, params={"restaurant_id": tenant.id}, headers=admin)

    assert partner.status_code == 401
    assert unchosen.status_code == 422
    assert len(chosen.json()["data"]) == 1


def _z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


async def _template_wamid(client: httpx.AsyncClient, tenant: Tenant, call_id: str) -> str:
    reply = await client.get(f"/api/ops/v1/calls/{call_id}", headers=tenant.auth(OPS))
    wamid: str = reply.json()["data"]["message"]["provider_message_id"]
    return wamid
