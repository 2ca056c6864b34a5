"""The operations API (SPEC §8) over HTTP against the real app and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import re
import uuid
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import select

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.db.tables import api_token, message_event
from ringback.relay.model import CallEvent, Decision, Direction, Disposition, Source
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.conftest import ADMIN_TOKEN, MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql

OPS = TokenKind.OPS
# The dashboard's forms post from its own origin; SPEC §2 refuses a cookie-signed post without it.
SAME_ORIGIN = {"Origin": "http://test"}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CSV_HEADER = (
    "id,source,external_id,direction,disposition,caller_phone_number,occurred_at,created_at,"
    "outcome,template_type,customer_id,reservation_id,message_status,message_attempts,recovered_at"
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def record(
    container: Container,
    tenant: Tenant,
    *,
    number: str | None = None,
    source: Source = Source.PARTNER,
    direction: Direction = Direction.INBOUND,
    disposition: Disposition = Disposition.MISSED,
    occurred_at: dt.datetime | None = None,
    external_id: str | None = None,
) -> Decision:
    event = CallEvent(
        source=source,
        external_id=external_id or f"ops-{uuid.uuid4().hex[:12]}",
        direction=direction,
        disposition=disposition,
        raw_number=number or random_mobile(),
        occurred_at=occurred_at or now(),
    )
    return await container.relay.handle(tenant.restaurant, event)


async def calls(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> httpx.Response:
    return await client.get("/api/ops/v1/calls", params=params, headers=tenant.auth(OPS))


def ids(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [item["id"] for item in reply.json()["data"]]


def graph_refuses(graph: respx.MockRouter) -> None:
    graph.post(path__regex=r"/[^/]+/messages").mock(
        return_value=httpx.Response(400, json={"error": {"code": 100, "message": "bad"}})
    )


async def test_calls_list_newest_first_with_the_message_and_native_formats(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    older = await record(container, tenant, occurred_at=now() - dt.timedelta(minutes=5))
    newer = await record(container, tenant)
    reply = await calls(client, tenant)
    assert ids(reply) == [str(newer.call_id), str(older.call_id)]
    body = reply.json()
    assert body["next_cursor"] is None
    item = body["data"][0]
    assert item["outcome"] == "SENT"
    assert item["source"] == "partner"
    assert STAMP.match(item["occurred_at"])
    assert STAMP.match(item["created_at"])
    assert item["customer"]["id"] == str(newer.customer_id)
    assert set(item["message"]) == {
        "id",
        "status",
        "attempts",
        "next_attempt_at",
        "provider_message_id",
        "last_error",
        "updated_at",
    }
    assert item["message"]["status"] == "sent"
    assert item["message"]["attempts"] == 1
    assert item["message"]["provider_message_id"].startswith("wamid.")


async def test_each_filter_selects_only_matching_calls(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    caller = random_mobile()
    base = now() - dt.timedelta(hours=2)
    sent = await record(container, tenant, number=caller, occurred_at=base)
    zoho = await record(
        container, tenant, source=Source.ZOHO, occurred_at=base + dt.timedelta(minutes=1)
    )
    outbound = await record(
        container, tenant, direction=Direction.OUTBOUND, occurred_at=base + dt.timedelta(minutes=2)
    )
    hidden = await record(
        container, tenant, number="anonymous", occurred_at=base + dt.timedelta(minutes=3)
    )
    answered = await record(
        container,
        tenant,
        number=caller,
        disposition=Disposition.ANSWERED,
        occurred_at=base + dt.timedelta(minutes=30),
    )
    national = "0" + caller[3:5] + " " + caller[5:7] + " " + caller[7:9] + " " + caller[9:]

    assert ids(await calls(client, tenant, source="zoho")) == [str(zoho.call_id)]
    assert ids(await calls(client, tenant, direction="outbound")) == [str(outbound.call_id)]
    assert ids(await calls(client, tenant, disposition="answered")) == [str(answered.call_id)]
    assert ids(await calls(client, tenant, outcome="SKIPPED_HIDDEN_NUMBER")) == [
        str(hidden.call_id)
    ]
    assert set(ids(await calls(client, tenant, message_status="sent"))) == {
        str(sent.call_id),
        str(zoho.call_id),
        str(outbound.call_id),
    }
    assert ids(await calls(client, tenant, message_status="cancelled")) == []
    assert ids(await calls(client, tenant, phone=national)) == [
        str(answered.call_id),
        str(sent.call_id),
    ]
    assert ids(await calls(client, tenant, recovered="true")) == [str(sent.call_id)]
    assert ids(
        await calls(
            client,
            tenant,
            **{
                "from": (base + dt.timedelta(minutes=1)).isoformat(),
                "to": (base + dt.timedelta(minutes=3)).isoformat(),
            },
        )
    ) == [str(outbound.call_id), str(zoho.call_id)]
    assert len(ids(await calls(client, tenant, source="partner,zoho"))) == 5


async def test_recovered_filter_lists_missed_calls_answered_later(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant(send_delay_seconds=600)
    caller = random_mobile()
    missed = await record(
        container, tenant, number=caller, occurred_at=now() - dt.timedelta(hours=1)
    )
    other = await record(container, tenant, occurred_at=now() - dt.timedelta(minutes=50))
    await record(container, tenant, number=caller, disposition=Disposition.ANSWERED)
    assert ids(await calls(client, tenant, recovered="true")) == [str(missed.call_id)]
    assert str(other.call_id) in ids(await calls(client, tenant, recovered="false"))
    cancelled = await calls(client, tenant, message_status="cancelled")
    assert ids(cancelled) == [str(missed.call_id)]
    assert cancelled.json()["data"][0]["recovered_at"] is not None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "fax"}, "query.source"),
        ({"direction": "sideways"}, "query.direction"),
        ({"disposition": "lost"}, "query.disposition"),
        ({"outcome": "MAYBE"}, "query.outcome"),
        ({"message_status": "lost"}, "query.message_status"),
        ({"from": "yesterday"}, "query.from"),
        ({"to": "2026-01-01T10:00:00"}, "query.to"),
        ({"recovered": "perhaps"}, "query.recovered"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "501"}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
    ],
)
async def test_a_bad_filter_value_is_a_422_naming_the_field(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, params: dict[str, str], field: str
) -> None:
    tenant = await make_restaurant()
    reply = await calls(client, tenant, **params)
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["details"]] == [field]


async def test_a_walk_by_cursor_sees_each_call_once_while_new_calls_arrive(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant(missed_calls_enabled=False)
    start = now() - dt.timedelta(hours=1)
    same_instant = start + dt.timedelta(minutes=10)
    seeded = [
        (await record(container, tenant, occurred_at=start + dt.timedelta(minutes=i))).call_id
        for i in range(20)
    ]
    # Calls that share one occurred_at are ordered by id, across page boundaries too.
    seeded += [
        (await record(container, tenant, occurred_at=same_instant)).call_id for _ in range(5)
    ]
    seen: list[str] = []
    cursor: str | None = None
    arrived: list[int] = []
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = await calls(client, tenant, **params)
        seen += ids(page)
        cursor = page.json()["next_cursor"]
        # Newer calls and a late report of an old call arrive between pages.
        arrived.append((await record(container, tenant)).call_id)
        late = await record(container, tenant, occurred_at=start - dt.timedelta(minutes=len(seen)))
        arrived.append(late.call_id)
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {str(i) for i in seeded} <= set(seen)
    assert set(seen) <= {str(i) for i in seeded + arrived}


async def test_a_tampered_or_foreign_cursor_is_refused(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant(missed_calls_enabled=False)
    other = await make_restaurant()
    for _ in range(3):
        await record(container, tenant)
    cursor = (await calls(client, tenant, limit=1)).json()["next_cursor"]
    assert cursor is not None
    assert str(tenant.id) not in cursor.split("_")  # opaque: no readable fields
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[9] ^= 0x01  # another call id
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert (await calls(client, tenant, cursor=forged)).status_code == 422
    assert (await calls(client, other, cursor=cursor)).status_code == 422
    assert (await calls(client, tenant, cursor=cursor)).status_code == 200


async def test_one_call_shows_its_message_timeline(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    decision = await record(container, tenant)
    reply = await client.get(f"/api/ops/v1/calls/{decision.call_id}", headers=tenant.auth(OPS))
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert data["id"] == str(decision.call_id)
    timeline = data["message"]["timeline"]
    assert [e["status"] for e in timeline] == ["queued", "sending", "sent"]
    assert timeline[1]["attempt"] == 1
    assert timeline[2]["detail"] == data["message"]["provider_message_id"]
    assert all(STAMP.match(e["at"]) for e in timeline)


async def test_another_restaurants_call_message_and_customer_are_not_found(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    owner = await make_restaurant()
    stranger = await make_restaurant()
    decision = await record(container, owner)
    assert decision.message_id is not None
    headers = stranger.auth(OPS)
    replies = [
        await client.get(f"/api/ops/v1/calls/{decision.call_id}", headers=headers),
        await client.post(f"/api/ops/v1/messages/{decision.message_id}/retry", headers=headers),
        await client.put(f"/api/ops/v1/customers/{decision.customer_id}/opt-out", headers=headers),
        await client.get("/api/ops/v1/calls/not-a-number", headers=headers),
    ]
    assert [r.status_code for r in replies] == [404, 404, 404, 404]
    assert all(r.json()["error"]["code"] == "NOT_FOUND" for r in replies)
    assert ids(await calls(client, stranger)) == []


async def test_csv_streams_the_header_and_one_row_per_call(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    first = await record(container, tenant, occurred_at=now() - dt.timedelta(minutes=1))
    hidden = await record(container, tenant, number="=cmd|' /C calc'!A0")
    reply = await client.get("/api/ops/v1/calls.csv", headers=tenant.auth(OPS))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    lines = reply.text.splitlines()
    assert lines[0] == CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [r["id"] for r in rows] == [str(hidden.call_id), str(first.call_id)]
    assert rows[1]["outcome"] == "SENT"
    assert rows[1]["message_status"] == "sent"
    assert rows[1]["message_attempts"] == "1"
    assert rows[1]["customer_id"] == str(first.customer_id)
    assert STAMP.match(rows[1]["occurred_at"])
    assert rows[0]["caller_phone_number"].startswith("'=")
    filtered = await client.get(
        "/api/ops/v1/calls.csv", params={"outcome": "SENT"}, headers=tenant.auth(OPS)
    )
    assert len(filtered.text.splitlines()) == 2


async def test_stats_buckets_follow_the_restaurants_timezone_across_a_dst_change(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
) -> None:
    tenant = await make_restaurant(timezone="Europe/Paris")
    utc = dt.UTC
    # Paris left summer time on 2025-10-26 at 03:00 CEST (01:00 UTC): that day lasts 25 hours.
    moments = [
        dt.datetime(2025, 10, 25, 22, 30, tzinfo=utc),  # 00:30 CEST, 26 Oct
        dt.datetime(2025, 10, 26, 0, 30, tzinfo=utc),  # 02:30 CEST
        dt.datetime(2025, 10, 26, 1, 30, tzinfo=utc),  # 02:30 CET, the repeated hour
        dt.datetime(2025, 10, 26, 22, 30, tzinfo=utc),  # 23:30 CET, 26 Oct
        dt.datetime(2025, 10, 26, 23, 30, tzinfo=utc),  # 00:30 CET, 27 Oct
    ]
    for moment in moments:
        await record(container, tenant, number="anonymous", occurred_at=moment)
    headers = tenant.auth(OPS)
    days = await client.get(
        "/api/ops/v1/stats",
        params={"from": "2025-10-26T00:00:00+02:00", "to": "2025-10-28T00:00:00+01:00"},
        headers=headers,
    )
    assert days.status_code == 200, days.text
    data = days.json()["data"]
    assert data["bucket"] == "day"
    assert data["timezone"] == "Europe/Paris"
    assert [(b["start"], b["calls"]) for b in data["buckets"]] == [
        ("2025-10-25T22:00:00.000Z", 4),
        ("2025-10-26T23:00:00.000Z", 1),
    ]
    assert data["buckets"][0]["outcomes"]["SKIPPED_HIDDEN_NUMBER"] == 4
    assert data["totals"]["calls"] == 5
    assert data["totals"]["missed"] == 5
    assert data["totals"]["delivery_rate"] is None
    assert data["totals"]["recovery_rate"] == 0
    hours = await client.get(
        "/api/ops/v1/stats",
        params={"from": "2025-10-26T00:00:00Z", "to": "2025-10-26T02:00:00Z", "bucket": "hour"},
        headers=headers,
    )
    assert [(b["start"], b["calls"]) for b in hours.json()["data"]["buckets"]] == [
        ("2025-10-26T00:00:00.000Z", 1),
        ("2025-10-26T01:00:00.000Z", 1),
    ]


async def test_stats_default_to_seven_days_with_rates_and_delivery_counts(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    await record(container, tenant)
    await record(container, tenant, disposition=Disposition.ANSWERED)
    reply = await client.get("/api/ops/v1/stats", headers=tenant.auth(OPS))
    data = reply.json()["data"]
    assert len(data["buckets"]) in (7, 8)
    totals = data["totals"]
    assert totals["calls"] == 2
    assert totals["missed"] == 1
    assert totals["messages"] == {"sent": 1, "delivered": 0, "read": 0, "failed": 0}
    assert totals["delivery_rate"] == 0
    assert totals["outcomes"]["SENT"] == 1
    assert set(totals) == {
        "calls",
        "missed",
        "outcomes",
        "messages",
        "recovered",
        "recovery_rate",
        "delivery_rate",
        "replied",
        "reply_rate",
    }
    assert (totals["replied"], totals["reply_rate"]) == (0, 0)
    bad = await client.get("/api/ops/v1/stats", params={"bucket": "week"}, headers=tenant.auth(OPS))
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "query.bucket"


async def test_retry_requeues_a_failed_message_and_refuses_any_other(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    graph_refuses(graph)
    failed = await record(container, tenant)
    assert failed.outcome is not None
    assert failed.outcome.value == "FAILED"
    reply = await client.post(
        f"/api/ops/v1/messages/{failed.message_id}/retry", headers=tenant.auth(OPS)
    )
    assert reply.status_code == 200, reply.text
    message = reply.json()["data"]
    assert message["status"] == "queued"
    assert message["attempts"] == 0
    assert STAMP.match(message["next_attempt_at"])
    async with container.engine.connect() as conn:
        statuses = (
            await conn.execute(
                select(message_event.c.status, message_event.c.detail)
                .where(message_event.c.message_id == failed.message_id)
                .order_by(message_event.c.id)
            )
        ).all()
    assert [s for s, _ in statuses] == ["queued", "sending", "failed", "queued"]
    assert statuses[-1][1] == "requeued by ops"
    again = await client.post(
        f"/api/ops/v1/messages/{failed.message_id}/retry", headers=tenant.auth(OPS)
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"


async def test_an_opted_out_customers_next_missed_call_is_suppressed(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant(cooldown_hours=0)
    caller = random_mobile()
    first = await record(container, tenant, number=caller, disposition=Disposition.ANSWERED)
    url = f"/api/ops/v1/customers/{first.customer_id}/opt-out"
    put = await client.put(url, headers=tenant.auth(OPS))
    assert put.status_code == 200
    assert put.json()["data"]["opted_out"] is True
    suppressed = await record(container, tenant, number=caller)
    assert suppressed.outcome is not None
    assert suppressed.outcome.value == "SKIPPED_SUPPRESSED"
    removed = await client.delete(url, headers=tenant.auth(OPS))
    assert removed.json()["data"]["opted_out"] is False
    allowed = await record(container, tenant, number=caller)
    assert allowed.outcome is not None
    assert allowed.outcome.value == "SENT"


async def test_admin_token_chooses_a_restaurant_with_restaurant_id(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    decision = await record(container, tenant)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    chosen = await client.get(
        "/api/ops/v1/calls", params={"restaurant_id": tenant.id}, headers=admin
    )
    assert ids(chosen) == [str(decision.call_id)]
    missing = await client.get("/api/ops/v1/calls", headers=admin)
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "query.restaurant_id"
    unknown = await client.get("/api/ops/v1/stats", params={"restaurant_id": 10**15}, headers=admin)
    assert unknown.status_code == 404
    partner = await client.get("/api/ops/v1/calls", headers=tenant.auth(TokenKind.PARTNER))
    assert partner.status_code == 401
    nobody = await client.get("/api/ops/v1/calls")
    assert nobody.status_code == 401
    assert nobody.json()["error"]["code"] == "UNAUTHORIZED"


async def test_the_dashboard_cookie_signs_in_api_calls_until_logout(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant(name="Cookie Café")
    decision = await record(container, tenant)
    signin = await client.get("/ops")
    assert signin.status_code == 200
    assert 'name="token"' in signin.text
    assert "Cookie Café" not in signin.text
    refused = await client.post("/ops/login", data={"token": "rb_ops_wrong"}, headers=SAME_ORIGIN)
    assert refused.status_code == 401
    assert "ringback_ops" not in refused.headers.get("set-cookie", "")
    login = await client.post("/ops/login", data={"token": tenant.tokens[OPS]}, headers=SAME_ORIGIN)
    assert login.status_code == 303
    assert login.headers["location"] == "/ops"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in this test
    value = login.cookies["ringback_ops"]
    assert tenant.tokens[OPS] not in cookie
    jar = {"ringback_ops": value}
    page = await client.get("/ops", cookies=jar)
    assert "Cookie Café" in page.text
    listed = await client.get("/api/ops/v1/calls", cookies=jar)
    assert ids(listed) == [str(decision.call_id)]
    await client.post("/ops/logout", cookies=jar, headers=SAME_ORIGIN)
    after = await client.get("/api/ops/v1/calls", cookies=jar)
    assert after.status_code == 401
    client.cookies.clear()


async def test_revoking_the_ops_token_ends_its_dashboard_sessions(
    client: httpx.AsyncClient, container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    login = await client.post("/ops/login", data={"token": tenant.tokens[OPS]}, headers=SAME_ORIGIN)
    jar = {"ringback_ops": login.cookies["ringback_ops"]}
    client.cookies.clear()
    assert (await client.get("/api/ops/v1/calls", cookies=jar)).status_code == 200
    async with container.engine.begin() as conn:
        await conn.execute(
            api_token.update()
            .where(api_token.c.restaurant_id == tenant.id, api_token.c.kind == "ops")
            .values(revoked_at=now())
        )
    assert (await client.get("/api/ops/v1/calls", cookies=jar)).status_code == 401


async def test_rotating_the_admin_token_ends_admin_dashboard_sessions(
    client: httpx.AsyncClient,
    settings: Settings,
    container: Container,
    make_restaurant: MakeRestaurant,
) -> None:
    tenant = await make_restaurant()
    login = await client.post("/ops/login", data={"token": ADMIN_TOKEN}, headers=SAME_ORIGIN)
    jar = {"ringback_ops": login.cookies["ringback_ops"]}
    client.cookies.clear()
    params = {"restaurant_id": tenant.id}
    assert (await client.get("/api/ops/v1/calls", params=params, cookies=jar)).status_code == 200
    rotated = settings.model_copy(update={"admin_token": SecretStr("rotated-admin-token-0123456")})
    transport = httpx.ASGITransport(app=create_app(rotated, container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as after:
        reply = await after.get("/api/ops/v1/calls", params=params, cookies=jar)
    assert reply.status_code == 401


async def test_admin_sign_in_offers_a_restaurant_picker(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant(name="Picker Brasserie")
    login = await client.post("/ops/login", data={"token": ADMIN_TOKEN}, headers=SAME_ORIGIN)
    assert login.status_code == 303
    jar = {"ringback_ops": login.cookies["ringback_ops"]}
    client.cookies.clear()
    picker = await client.get("/ops", cookies=jar)
    assert f"/ops?restaurant_id={tenant.id}" in picker.text
    chosen = await client.get("/ops", params={"restaurant_id": tenant.id}, cookies=jar)
    assert 'data-admin="true"' in chosen.text
    assert "Picker Brasserie" in chosen.text
    api = await client.get("/api/ops/v1/stats", params={"restaurant_id": tenant.id}, cookies=jar)
    assert api.status_code == 200


async def test_dashboard_static_files_are_public(client: httpx.AsyncClient) -> None:
    script = await client.get("/ops/static/ops.js")
    common = await client.get("/ops/static/common.js")
    style = await client.get("/ops/static/ops.css")
    assert script.status_code == 200
    assert "window.Ringback" in script.text
    assert common.status_code == 200
    assert common.headers["content-type"].startswith("text/javascript")
    assert "/api/ops/v1" in common.text
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    assert (await client.get("/ops/static/../auth.py")).status_code == 404


async def test_concurrent_pages_of_two_restaurants_stay_apart(
    client: httpx.AsyncClient,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    one, two = await make_restaurant(), await make_restaurant()
    a, b = await asyncio.gather(record(container, one), record(container, two))
    got_one, got_two = await asyncio.gather(calls(client, one), calls(client, two))
    assert ids(got_one) == [str(a.call_id)]
    assert ids(got_two) == [str(b.call_id)]
