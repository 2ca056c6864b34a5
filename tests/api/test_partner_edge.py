"""The partner API's edge: validation, auth, errors, limits, the directory routes (SPEC §4)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import Container, build_container
from ringback.http.ratelimit import TokenBuckets
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.conftest import MakeRestaurant, make_settings
from tests.conftest import random_mobile as mobile
from tests.graphmock import POSTER
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = pytest.mark.sql
URL = "/api/partner/v1/missed-calls"


async def test_missing_and_bad_fields_are_listed_each(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        URL, headers=tenant.auth(), json={"external_call_id": "", "occurred_at": "yesterday"}
    )
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    fields = {d["field"] for d in error["details"]}
    assert fields == {"body.caller_phone_number", "body.external_call_id", "body.occurred_at"}


async def test_time_without_offset_is_refused(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        URL,
        headers=tenant.auth(),
        json={"caller_phone_number": mobile(), "occurred_at": "2026-05-10T14:23:00"},
    )
    assert reply.status_code == 422
    assert reply.json()["error"]["details"][0]["field"] == "body.occurred_at"


async def test_time_more_than_five_minutes_ahead_is_refused(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
    reply = await client.post(
        URL,
        headers=tenant.auth(),
        json={"caller_phone_number": mobile(), "occurred_at": ahead},
    )
    assert reply.status_code == 422


async def test_unknown_fields_are_ignored(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        URL,
        headers=tenant.auth(),
        json={"caller_phone_number": mobile(), "pbx": {"line": 3}},
    )
    assert reply.status_code == 201


async def test_body_that_is_not_json_is_a_malformed_request(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(
        URL, content=b"{not json", headers={**tenant.auth(), "content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "MALFORMED_REQUEST"


async def test_number_sent_as_json_number_is_a_validation_error(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.post(URL, headers=tenant.auth(), json={"caller_phone_number": 33612345678})
    assert reply.status_code == 422


async def test_body_over_256_kib_is_refused_with_413(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    padding = "x" * (256 * 1024)
    reply = await client.post(
        URL, headers=tenant.auth(), json={"caller_phone_number": mobile(), "pad": padding}
    )
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_chunked_body_over_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"caller_phone_number": "+33612345678", "pad": "'
        for _ in range(300):
            yield b"x" * 1024
        yield b'"}'

    reply = await client.post(
        URL, headers={**tenant.auth(), "content-type": "application/json"}, content=chunks()
    )
    assert reply.status_code == 413


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
async def test_missing_or_wrong_token_is_401_in_the_envelope(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    reply = await client.post(URL, headers=headers, json={"caller_phone_number": mobile()})
    assert reply.status_code == 401
    error = reply.json()["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert error["request_id"]


@pytest.mark.parametrize("kind", [TokenKind.ZOHO, TokenKind.CCAI, TokenKind.OPS])
async def test_token_of_another_kind_is_refused(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, kind: TokenKind
) -> None:
    tenant = await make_restaurant()
    reply = await client.get("/api/partner/v1/me", headers=tenant.auth(kind))
    assert reply.status_code == 401


async def test_request_id_is_echoed_or_minted(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    echoed = await client.get(
        "/api/partner/v1/me", headers={**tenant.auth(), "X-Request-ID": "abc-123"}
    )
    minted = await client.get("/api/partner/v1/me", headers=tenant.auth())
    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(minted.headers["x-request-id"]) == 32


async def test_me_describes_the_restaurant_and_token(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant(name="Chez Me")
    reply = await client.get("/api/partner/v1/me", headers=tenant.auth())
    assert reply.json() == {
        "data": {
            "restaurant": {
                "id": str(tenant.id),
                "slug": tenant.restaurant.slug,
                "name": "Chez Me",
                "country": "FR",
                "timezone": "Europe/Paris",
            },
            "token": {"kind": "partner"},
        }
    }


async def test_rate_limit_answers_429_with_retry_after(
    database_url: str, container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    app = create_app(make_settings(database_url, rate_limit_per_second=2), container)
    limits: TokenBuckets = app.state.rate_limits
    # the clock stands still: no token comes back while a loaded machine runs the requests
    # slowly, so what is refused does not depend on how fast they ran
    app.state.rate_limits = TokenBuckets(limits.rate, limits.burst, clock=lambda: 0.0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        statuses = [
            (await http.get("/api/partner/v1/me", headers=tenant.auth())).status_code
            for _ in range(6)
        ]
        limited = await http.get("/api/partner/v1/me", headers=tenant.auth())
    assert statuses == [200] * 4 + [429] * 2  # twice the rate at once, then nothing
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1


async def test_database_down_answers_503_not_a_hang() -> None:
    """How fast is the benchmarks' business, not a test's: the reply must come, a 503, before a
    wait that only a hang reaches on however loaded a machine."""
    settings: Settings = make_settings("postgresql://postgres@127.0.0.1:1/none")
    down = await build_container(settings, start_worker=False, graph=POSTER)
    app = create_app(settings, down)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            reply = await asyncio.wait_for(
                http.post(
                    URL,
                    headers={"Authorization": "Bearer rb_partner_x"},
                    json={"caller_phone_number": mobile()},
                ),
                SLOW_MACHINE_SECONDS,
            )
    finally:
        await down.aclose()
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == "UNAVAILABLE"


async def test_customers_are_upserted_by_normalized_number(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    digits = mobile()[4:]
    first = await client.put(
        "/api/partner/v1/customers",
        headers=tenant.auth(),
        json=[{"phone_number": f"+336{digits}", "name": "Ada Lovelace"}],
    )
    second = await client.put(
        "/api/partner/v1/customers",
        headers=tenant.auth(),
        json=[{"phone_number": f"06{digits}", "lang": "fr"}],
    )
    a, b = first.json()["data"][0], second.json()["data"][0]
    assert a["id"] == b["id"]
    assert b["name"] == "Ada Lovelace"
    assert b["lang"] == "fr"
    assert b["phone_number"] == f"+336{digits}"


async def test_batch_with_an_invalid_number_names_its_index_and_stores_nothing(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    good = mobile()
    reply = await client.put(
        "/api/partner/v1/customers",
        headers=tenant.auth(),
        json=[{"phone_number": good}, {"phone_number": "+33 1"}],
    )
    assert reply.status_code == 422
    assert reply.json()["error"]["details"] == [
        {"field": "body.1.phone_number", "message": "not a valid phone number"}
    ]
    again = await client.put(
        "/api/partner/v1/customers", headers=tenant.auth(), json=[{"phone_number": good}]
    )
    assert again.json()["data"][0]["created_at"] == again.json()["data"][0]["updated_at"]


async def test_batches_over_1000_items_are_refused(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    reply = await client.put(
        "/api/partner/v1/customers",
        headers=tenant.auth(),
        json=[{"phone_number": mobile()} for _ in range(1001)],
    )
    assert reply.status_code == 422


async def test_reservation_is_upserted_by_external_id_and_readable(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    number = mobile()
    body = {
        "external_id": "en-42",
        "start_at": "2030-01-02T19:30:00+01:00",
        "party_size": 2,
        "status": "PENDING",
        "customer": {"phone_number": number, "name": "Grace"},
    }
    first = (
        await client.put("/api/partner/v1/reservations", headers=tenant.auth(), json=[body])
    ).json()["data"][0]
    body["status"] = "CONFIRMED"
    second = (
        await client.put("/api/partner/v1/reservations", headers=tenant.auth(), json=[body])
    ).json()["data"][0]
    assert first["id"] == second["id"]
    got = await client.get(f"/api/partner/v1/reservations/{first['id']}", headers=tenant.auth())
    data = got.json()["data"]
    assert data["status"] == "CONFIRMED"
    assert data["start_at"] == "2030-01-02T18:30:00.000Z"
    assert data["customer"]["phone_number"] == number


async def test_reservation_of_another_restaurant_is_not_found(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    owner, other = await make_restaurant(), await make_restaurant()
    body = [
        {
            "external_id": "mine",
            "start_at": "2030-01-02T19:30:00+01:00",
            "party_size": 2,
            "status": "PENDING",
            "customer": {"phone_number": mobile()},
        }
    ]
    rid = (
        await client.put("/api/partner/v1/reservations", headers=owner.auth(), json=body)
    ).json()["data"][0]["id"]
    for path in (rid, "abc", "99999999999999999999"):
        reply = await client.get(f"/api/partner/v1/reservations/{path}", headers=other.auth())
        assert reply.status_code == 404
        assert reply.json()["error"]["code"] == "NOT_FOUND"
