"""Client timestamps outside [2000-01-01, 3000-01-01) UTC, at every door, and stored extremes.

SPEC §3: such a timestamp is the door's validation error naming the field and nothing is stored;
no stored value (``-infinity``, ``infinity``, year 1, written by older code) makes a read fail;
no reply is a 5xx after the request's effects committed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import respx
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from ringback.bootstrap import Container
from ringback.db.tables import call, ccai_call, message, reservation
from ringback.tenancy.model import TokenKind
from tests.api.ccai_support import (
    APPS,
    MANAGER,
    basic,
    ccai,
    created,
    inbound_body,
    make_ccai_restaurant,
    move,
    scheduled_body,
)
from tests.api.test_webhooks_telnyx import line, send
from tests.conftest import MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["ccai"]

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# Outside the range once the offset is applied; the first two overflow a datetime when converted to
# UTC (before year 1, after year 9999), the next is what .NET's DateTime.MinValue serializes to.
OUTSIDE = [
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "1999-12-31T23:59:59.999Z",
    "2000-01-01T00:30:00+01:00",
    "3000-01-01T00:00:00Z",
    "2999-12-31T23:30:00-01:00",
]


async def calls_of(container: Container, tenant: Tenant) -> int:
    async with container.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(call).where(call.c.restaurant_id == tenant.id)
        )
    return int(count or 0)


async def reservations_of(container: Container, tenant: Tenant) -> int:
    async with container.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(reservation)
            .where(reservation.c.restaurant_id == tenant.id)
        )
    return int(count or 0)


def native_fields(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return [d["field"] for d in error["details"]]


# --- partner ------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", OUTSIDE)
async def test_partner_occurred_at_outside_the_range_is_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    moment: str,
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        "/api/partner/v1/missed-calls",
        headers=tenant.auth(),
        json={"caller_phone_number": random_mobile(), "occurred_at": moment},
    )
    assert native_fields(reply) == ["body.occurred_at"]
    assert "2000-01-01" in reply.json()["error"]["details"][0]["message"]
    assert await calls_of(container, tenant) == 0
    assert not graph.calls


@pytest.mark.parametrize("moment", OUTSIDE)
async def test_partner_reservation_start_at_outside_the_range_is_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container, moment: str
) -> None:
    tenant = await make_restaurant()
    good = {
        "external_id": "resa-ok",
        "start_at": "2030-05-10T20:00:00+02:00",
        "party_size": 2,
        "status": "CONFIRMED",
        "customer": {"phone_number": random_mobile()},
    }
    bad = {**good, "external_id": "resa-bad", "start_at": moment}
    reply = await client.put(
        "/api/partner/v1/reservations", headers=tenant.auth(), json=[good, bad]
    )
    assert native_fields(reply) == ["body.1.start_at"]
    assert await reservations_of(container, tenant) == 0


@pytest.mark.parametrize("moment", ["2000-01-01T00:00:00Z", "2999-12-31T23:59:59.999Z"])
async def test_partner_reservation_at_the_ends_of_the_range_is_stored_and_read_back(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, moment: str
) -> None:
    tenant = await make_restaurant()
    reply = await client.put(
        "/api/partner/v1/reservations",
        headers=tenant.auth(),
        json=[
            {
                "external_id": "edge",
                "start_at": moment,
                "party_size": 2,
                "status": "CONFIRMED",
                "customer": {"phone_number": random_mobile()},
            }
        ],
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"][0]["start_at"] == moment.replace("00Z", "00.000Z")


# --- Zoho ---------------------------------------------------------------------------------------


def zoho_headers(tenant: Tenant) -> dict[str, str]:
    return {
        "Authorization": f"Zoho-oauthtoken {tenant.tokens[TokenKind.ZOHO]}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.mark.parametrize(
    "start_time", ["0001-01-01 00:00:00", "9999-12-31 23:59:59", "1999-12-31 23:59:59"]
)
@pytest.mark.parametrize("state", ["ringing", "missed"])
async def test_zoho_start_time_outside_the_range_is_invalid_param_value(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    start_time: str,
    state: str,
) -> None:
    tenant = await make_restaurant()
    form = {
        "type": "received",
        "state": state,
        "id": f"z-{uuid.uuid4().hex[:8]}",
        "from": random_mobile(),
        "to": "+33140000000",
        "start_time": start_time,
    }
    reply = await client.post(
        "/phonebridge/v3/callnotify", content=urlencode(form), headers=zoho_headers(tenant)
    )
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["code"] == "INVALID_PARAM_VALUE"
    assert body["details"] == {"params": ["start_time"]}
    assert await calls_of(container, tenant) == 0
    assert not graph.calls


# --- CCAI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", [*OUTSIDE, "0001-01-01T00:00:00", "9999-12-31T23:59:59"])
async def test_ccai_scheduled_at_outside_the_range_is_not_valid(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container, moment: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await ccai.post(
        f"{APPS}/calls",
        json=scheduled_body(random_mobile(), scheduled_at=moment),
        headers=basic(tenant),
    )
    assert reply.status_code == 400, reply.text
    assert reply.json() == {"message": "scheduled_at is not valid"}
    assert await calls_of(container, tenant) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "connected", "connected_at": "0001-01-01T00:30:00+01:00"}, "connected_at"),
        ({"status": "connected", "connected_at": "9999-12-31T23:59:59-05:00"}, "connected_at"),
        ({"status": "connected", "connected_at": "1999-12-31T23:59:59"}, "connected_at"),
        (
            {"status": "failed", "fail_reason": "eu_abandoned", "ends_at": "0001-01-01T00:00:00"},
            "ends_at",
        ),
        ({"status": "failed", "ends_at": "0001-01-01T00:30:00+01:00"}, "ends_at"),
        ({"status": "failed", "ends_at": "3000-01-01T00:00:00Z"}, "ends_at"),
    ],
)
async def test_ccai_patch_moment_outside_the_range_is_refused_before_any_move_or_message(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    body: dict[str, Any],
    field: str,
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    reply = await move(ccai, tenant, data["id"], **body)
    assert reply.status_code == 400, reply.text
    assert reply.json() == {"message": f"{field} is not valid"}
    after = await ccai.get(f"{MANAGER}/calls/{data['id']}", headers=basic(tenant))
    assert after.status_code == 200
    assert after.json()["status"] == "queued"
    assert after.json()["missed_call"] is None
    assert not graph.calls


@pytest.mark.parametrize(
    "name", ["created_at[from]", "created_at[to]", "updated_at[from]", "updated_at[to]"]
)
@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00"]
)
async def test_ccai_list_filter_outside_the_range_is_not_valid(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, name: str, moment: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await ccai.get(f"{MANAGER}/calls", params={name: moment}, headers=basic(tenant))
    assert reply.status_code == 400, reply.text
    assert reply.json() == {"message": f"{name} is not valid"}


# --- Telnyx -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "where", "moment"),
    [
        ("initiated", "occurred_at", "0001-01-01T00:00:00Z"),
        ("initiated", "occurred_at", "9999-12-31T23:59:59-05:00"),
        ("initiated", "start_time", "0001-01-01T00:00:00Z"),
        ("hangup", "start_time", "0001-01-01T00:00:00Z"),
        ("hangup", "start_time", "0001-01-01T00:30:00+01:00"),
        ("hangup", "occurred_at", "3000-01-01T00:00:00Z"),
        ("hangup", "end_time", "9999-12-31T23:59:59-05:00"),
    ],
)
async def test_telnyx_moment_outside_the_range_is_a_400_naming_it_and_nothing_is_stored(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    kind: str,
    where: str,
    moment: str,
) -> None:
    phone = await line(make_restaurant)
    body = json.loads(phone.event(kind))
    if where == "occurred_at":
        body["data"]["occurred_at"] = moment
        field = "data.occurred_at"
    else:
        body["data"]["payload"][where] = moment
        field = f"data.payload.{where}"
    reply = await send(client, phone, json.dumps(body).encode())
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "MALFORMED_REQUEST"
    assert [d["field"] for d in error["details"]] == [field]
    assert await calls_of(container, phone.tenant) == 0
    assert not graph.calls


# --- ops ----------------------------------------------------------------------------------------

OPS_FILTERS = [
    ("from", "0001-01-01T00:00:00+01:00"),
    ("to", "9999-12-31T23:59:59-05:00"),
    ("from", "1999-12-31T23:59:59Z"),
    ("to", "3000-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(
    "path", ["/api/ops/v1/calls", "/api/ops/v1/calls.csv", "/api/ops/v1/stats"]
)
@pytest.mark.parametrize(("name", "moment"), OPS_FILTERS)
async def test_ops_filter_outside_the_range_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, path: str, name: str, moment: str
) -> None:
    tenant = await make_restaurant()
    reply = await client.get(path, params={name: moment}, headers=tenant.auth(TokenKind.OPS))
    assert native_fields(reply) == [f"query.{name}"]


@pytest.mark.parametrize("bucket", ["day", "hour"])
@pytest.mark.parametrize(
    ("timezone", "start", "end"),
    [
        ("Pacific/Kiritimati", "2999-12-30T00:00:00Z", "2999-12-31T23:59:59.999Z"),
        ("Etc/GMT+12", "2999-12-30T00:00:00Z", "2999-12-31T23:59:59.999Z"),
        ("Etc/GMT+12", "2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z"),
        ("Pacific/Kiritimati", "2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z"),
        ("Pacific/Kiritimati", None, "2000-01-01T00:00:00Z"),
        ("Europe/Paris", "2999-12-31T00:00:00Z", None),
    ],
)
async def test_ops_stats_at_the_ends_of_the_range_never_fail(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    bucket: str,
    timezone: str,
    start: str | None,
    end: str | None,
) -> None:
    tenant = await make_restaurant(timezone=timezone)
    params = {"bucket": bucket} | ({"from": start} if start else {}) | ({"to": end} if end else {})
    reply = await client.get("/api/ops/v1/stats", params=params, headers=tenant.auth(TokenKind.OPS))
    if end is None:  # `to` defaults to now, before this `from`: a bad range, named
        assert native_fields(reply) == ["query.from"]
        return
    assert reply.status_code == 200, reply.text
    starts = [b["start"] for b in reply.json()["data"]["buckets"]]
    assert starts
    assert all(STAMP.match(s) for s in starts)


# --- stored extremes ----------------------------------------------------------------------------

EXTREMES = ["-infinity", "infinity", "0001-01-01 00:00:00+00", "9999-12-31 23:59:59.999+00"]


async def _report(client: httpx.AsyncClient, tenant: Tenant) -> int:
    reply = await client.post(
        "/api/partner/v1/missed-calls",
        headers=tenant.auth(),
        json={"caller_phone_number": random_mobile()},
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["data"]["id"])


async def _set_extremes(container: Container, call_id: int, value: str) -> None:
    """What older code may have written: the call's and its message's timestamps at an extreme."""
    moment = text(f"'{value}'::timestamptz")
    async with container.engine.begin() as conn:
        await conn.execute(
            update(call)
            .where(call.c.id == call_id)
            .values(occurred_at=moment, created_at=moment, recovered_at=moment)
        )
        await conn.execute(
            update(message).where(message.c.call_id == call_id).values(updated_at=moment)
        )


@pytest.mark.parametrize("value", EXTREMES)
async def test_ops_reads_never_fail_on_a_stored_extreme(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    value: str,
) -> None:
    tenant = await make_restaurant()
    ops = tenant.auth(TokenKind.OPS)
    first = await _report(client, tenant)
    odd = await _report(client, tenant)
    last = await _report(client, tenant)
    await _set_extremes(container, odd, value)

    seen: list[int] = []
    cursor: str | None = None
    for _ in range(4):  # three calls, one a page: the cursor passes through the odd call
        params = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/api/ops/v1/calls", params=params, headers=ops)
        assert page.status_code == 200, page.text
        for item in page.json()["data"]:
            seen.append(int(item["id"]))
            assert STAMP.match(item["occurred_at"]), item["occurred_at"]
            assert STAMP.match(item["created_at"])
            assert STAMP.match(item["recovered_at"] or "2000-01-01T00:00:00.000Z")
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([first, odd, last])

    detail = await client.get(f"/api/ops/v1/calls/{odd}", headers=ops)
    assert detail.status_code == 200, detail.text
    data = detail.json()["data"]
    assert STAMP.match(data["occurred_at"])
    assert STAMP.match(data["message"]["updated_at"])
    assert data["occurred_at"][:4] in ("0001", "9999")

    export = await client.get("/api/ops/v1/calls.csv", headers=ops)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(int(r["id"]) for r in rows) == sorted([first, odd, last])
    odd_row = next(r for r in rows if int(r["id"]) == odd)
    assert STAMP.match(odd_row["occurred_at"])
    assert STAMP.match(odd_row["recovered_at"])

    stats = await client.get("/api/ops/v1/stats", headers=ops)
    assert stats.status_code == 200, stats.text


async def test_a_stored_reservation_extreme_reads_back(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_restaurant()
    reply = await client.put(
        "/api/partner/v1/reservations",
        headers=tenant.auth(),
        json=[
            {
                "external_id": "old",
                "start_at": "2030-05-10T20:00:00Z",
                "party_size": 2,
                "status": "CONFIRMED",
                "customer": {"phone_number": random_mobile()},
            }
        ],
    )
    assert reply.status_code == 200, reply.text
    reservation_id = reply.json()["data"][0]["id"]
    async with container.engine.begin() as conn:
        await conn.execute(
            update(reservation)
            .where(reservation.c.id == int(reservation_id))
            .values(start_at=text("'-infinity'::timestamptz"))
        )
    got = await client.get(f"/api/partner/v1/reservations/{reservation_id}", headers=tenant.auth())
    assert got.status_code == 200, got.text
    assert got.json()["data"]["start_at"] == "0001-01-01T00:00:00.000Z"


@pytest.mark.parametrize("value", EXTREMES)
async def test_ccai_reads_and_moves_never_fail_on_a_stored_extreme(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    value: str,
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    plain = await created(ccai, tenant, inbound_body(random_mobile()))
    scheduled = await created(ccai, tenant, scheduled_body(random_mobile()))
    moment = text(f"'{value}'::timestamptz")
    async with container.engine.begin() as conn:
        await conn.execute(
            update(ccai_call)
            .where(ccai_call.c.call_id == plain["id"])
            .values(status="connected", connected_at=moment, queued_at=moment)
        )
        await conn.execute(
            update(ccai_call)
            .where(ccai_call.c.call_id == scheduled["id"])
            .values(scheduled_at=moment)
        )
        await conn.execute(
            update(call)
            .where(call.c.id.in_([plain["id"], scheduled["id"]]))
            .values(occurred_at=moment, created_at=moment)
        )

    listed = await ccai.get(f"{MANAGER}/calls", headers=basic(tenant))
    assert listed.status_code == 200, listed.text
    for item in listed.json():
        for key in ("created_at", "queued_at", "connected_at", "scheduled_at"):
            assert item[key] is None or STAMP.match(item[key]), (key, item[key])
    one = await ccai.get(f"{MANAGER}/calls/{plain['id']}", headers=basic(tenant))
    assert one.status_code == 200, one.text

    # moves of those calls still answer (no 5xx), and what they answer is what was stored
    finished = await move(ccai, tenant, plain["id"], status="finished")
    if value.startswith(("infinity", "9999")):  # now is before that connection: refused
        assert finished.status_code == 400, finished.text
        assert finished.json() == {"message": "ends_at is not valid"}
    else:
        assert finished.status_code == 200, finished.text
    failed = await move(ccai, tenant, scheduled["id"], status="failed", fail_reason="eu_abandoned")
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "failed"
    again = await ccai.get(f"{MANAGER}/calls/{scheduled['id']}", headers=basic(tenant))
    assert again.status_code == 200
    assert again.json()["status"] == "failed"


# --- SQL parameters never logged ----------------------------------------------------------------


async def test_a_database_error_of_our_engine_does_not_carry_its_parameters(
    container: Container,
) -> None:
    """What a 500's traceback logs is the error's text: a customer's number must not be in it."""
    secret = "+33612345678 Jeanne Dupont"
    with pytest.raises(DBAPIError) as caught:
        async with container.engine.connect() as conn:
            await conn.execute(text("SELECT CAST(:n AS text), 1 / 0"), {"n": secret})
    assert "division by zero" in str(caught.value)
    assert "+33612345678" not in str(caught.value)
    assert "Jeanne" not in repr(caught.value)
