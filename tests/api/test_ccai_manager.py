"""GET /manager/api/v1/calls (pages, sorting, filters, headers), one call, the organization."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.doors.ccai.queries import CcaiCalls, NewCcaiCall
from ringback.settings import Settings
from tests.api.ccai_support import (
    INBOUND,
    MANAGER,
    OUTBOUND,
    basic,
    ccai,
    created,
    inbound_body,
    make_ccai_restaurant,
    moved,
    outbound_body,
)
from tests.conftest import MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["ccai"]

LINK = re.compile(r'<([^>]+)>; rel="(next|prev)"')
EPOCH = dt.datetime(2030, 1, 1, 10, 0, tzinfo=dt.UTC)


def links(reply: httpx.Response) -> dict[str, str]:
    header = reply.headers.get("link", "")
    found = {rel: url for url, rel in LINK.findall(header)}
    assert ", ".join(f'<{url}>; rel="{rel}"' for rel, url in found.items()) == header
    return found


async def seed(
    container: Container, tenant: Tenant, count: int, *, start: dt.datetime = EPOCH
) -> list[int]:
    """``count`` queued inbound calls, created one minute apart, three at a time sharing a minute
    (so the id tie-break matters)."""
    ids = []
    for n in range(count):
        at = start + dt.timedelta(minutes=n // 3)
        number = random_mobile()
        ids.append(
            await CcaiCalls(container.database).create_call(
                NewCcaiCall(
                    restaurant_id=tenant.id,
                    kind="inbound",
                    direction="inbound",
                    caller_raw=number,
                    caller_display=number,
                    customer_e164=None,
                    occurred_at=at,
                    created_at=at,
                    status="queued",
                    lang="en",
                    queued_at=at,
                )
            )
        )
    return ids


async def get(client: httpx.AsyncClient, tenant: Tenant, url: str) -> httpx.Response:
    return await client.get(url, headers=basic(tenant))


@pytest.mark.parametrize(
    ("query", "per"),
    [
        ("per=40&sort_column=created_at&sort_direction=ASC", 40),
        ("sort_direction=desc&per=33&sort_column=updated_at", 33),
        ("", 100),
    ],
)
async def test_following_link_walks_every_call_once(
    ccai: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    query: str,
    per: int,
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    ids = await seed(container, tenant, 250)
    url: str | None = f"http://test{MANAGER}/calls?{query}"
    seen: list[dict[str, Any]] = []
    pages = 0
    while url is not None:
        reply = await get(ccai, tenant, url)
        assert reply.status_code == 200
        assert reply.headers["total"] == "250"
        assert reply.headers["per-page"] == str(per)
        page = reply.json()
        assert 0 < len(page) <= per
        seen.extend(page)
        pages += 1
        found = links(reply)
        if pages > 1:
            assert found["prev"].startswith(f"http://test{MANAGER}/calls?")
            assert f"page={pages - 1}" in found["prev"]
        url = found.get("next")
    assert pages == -(-250 // per)
    assert sorted(c["id"] for c in seen) == sorted(ids)
    assert len({c["id"] for c in seen}) == 250
    if "ASC" in query:
        keys = [(c["created_at"], c["id"]) for c in seen]
        assert keys == sorted(keys)
    else:
        keys = [(c["updated_at"] if "updated" in query else "", c["id"]) for c in seen]
        assert keys == sorted(keys, reverse=True)


async def test_link_keeps_the_query_and_replaces_the_page(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    await seed(container, tenant, 7)
    query = "created_at[from]=2030-01-01T09:00:00Z&per=2&page=2&foo=bar"
    reply = await get(ccai, tenant, f"{MANAGER}/calls?{query}")
    base = f"http://test{MANAGER}/calls?created_at[from]=2030-01-01T09:00:00Z&per=2"
    assert reply.headers["link"] == (
        f'<{base}&page=3&foo=bar>; rel="next", <{base}&page=1&foo=bar>; rel="prev"'
    )
    last = await get(ccai, tenant, f"{MANAGER}/calls?per=2&page=4")
    assert [c for c in links(last)] == ["prev"]
    assert len(last.json()) == 1
    beyond = await get(ccai, tenant, f"{MANAGER}/calls?per=2&page=9")
    assert beyond.json() == []
    assert "link" not in beyond.headers
    assert beyond.headers["total"] == "7"


async def test_one_page_has_no_link_header(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    await seed(container, tenant, 3)
    reply = await get(ccai, tenant, f"{MANAGER}/calls")
    assert reply.headers["total"] == "3"
    assert reply.headers["per-page"] == "100"
    assert "link" not in reply.headers
    assert [c["id"] for c in reply.json()] == sorted((c["id"] for c in reply.json()), reverse=True)


@pytest.fixture
async def proxied(
    settings: Settings, container: Container
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two clients of one app: one on loopback (a trusted proxy), one from afar."""
    app = create_app(settings.model_copy(update={"ccai_rate_limit_per_second": 0}), container)
    near = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    far = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
    async with (
        httpx.AsyncClient(transport=near, base_url="http://ringback.example") as a,
        httpx.AsyncClient(transport=far, base_url="http://ringback.example") as b,
    ):
        yield a, b


async def test_link_uses_the_forwarded_scheme_of_a_trusted_proxy_only(
    proxied: tuple[httpx.AsyncClient, httpx.AsyncClient],
    make_restaurant: MakeRestaurant,
    container: Container,
) -> None:
    near, far = proxied
    tenant = await make_ccai_restaurant(make_restaurant)
    await seed(container, tenant, 3)
    headers = {**basic(tenant), "X-Forwarded-Proto": "https"}
    trusted = await near.get(f"{MANAGER}/calls?per=1", headers=headers)
    assert links(trusted)["next"] == f"https://ringback.example{MANAGER}/calls?per=1&page=2"
    untrusted = await far.get(f"{MANAGER}/calls?per=1", headers=headers)
    assert links(untrusted)["next"] == f"http://ringback.example{MANAGER}/calls?per=1&page=2"


async def test_created_at_and_updated_at_filters_take_unencoded_brackets_and_offsets(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    ids = await seed(container, tenant, 15)  # minutes 0..4, three calls each
    window = "created_at[from]=2030-01-01T11:01:00+01:00&created_at[to]=2030-01-01T10:03:00Z"
    reply = await get(ccai, tenant, f"{MANAGER}/calls?{window}&sort_direction=ASC")
    assert reply.headers["total"] == "9"
    assert [c["id"] for c in reply.json()] == ids[3:12]
    none_yet = await get(ccai, tenant, f"{MANAGER}/calls?updated_at[from]=2030-01-01T10:05:00Z")
    assert none_yet.headers["total"] == "0"
    until = await get(ccai, tenant, f"{MANAGER}/calls?updated_at[to]=2030-01-01T10:00:00")
    assert until.headers["total"] == "3"


async def test_status_and_call_type_filters(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant, missed_calls_enabled=False)
    inbound = await created(ccai, tenant, inbound_body(random_mobile()))
    failed = await created(ccai, tenant, inbound_body(random_mobile()))
    await moved(ccai, tenant, failed["id"], status="failed")
    outbound = await created(ccai, tenant, outbound_body(random_mobile()))

    async def ids(query: str) -> list[int]:
        reply = await get(ccai, tenant, f"{MANAGER}/calls?{query}")
        assert reply.status_code == 200, reply.text
        return [c["id"] for c in reply.json()]

    assert await ids("status=queued") == [inbound["id"]]
    assert await ids("status=failed") == [failed["id"]]
    assert await ids(f"call_type={OUTBOUND}") == [outbound["id"]]
    assert await ids("call_type=IncomingCall&sort_direction=ASC") == [inbound["id"], failed["id"]]
    assert await ids(f"call_type={INBOUND}&status=assigned") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "page is not valid"),
        ("page=two", "page is not valid"),
        ("per=-1", "per is not valid"),
        ("sort_column=name", "sort_column is not valid"),
        ("sort_direction=sideways", "sort_direction is not valid"),
        ("created_at[from]=yesterday", "created_at[from] is not valid"),
        ("updated_at[to]=2030-13-01", "updated_at[to] is not valid"),
        ("status=ringing", "status is not valid"),
        ("call_type=Fax", "call_type is not valid"),
    ],
)
async def test_a_bad_list_parameter_is_a_400_naming_it(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, query: str, message: str
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await get(ccai, tenant, f"{MANAGER}/calls?{query}")
    assert (reply.status_code, reply.json()) == (400, {"message": message})


async def test_per_is_capped_at_100_and_unknown_parameters_are_ignored(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await get(ccai, tenant, f"{MANAGER}/calls?per=500&color=blue&q[x]=1")
    assert reply.status_code == 200
    assert reply.headers["per-page"] == "100"


async def test_list_holds_only_this_restaurants_ccai_calls(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant, graph: respx.MockRouter
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    other = await make_ccai_restaurant(make_restaurant)
    mine = await created(ccai, tenant, inbound_body(random_mobile()))
    await created(ccai, other, inbound_body(random_mobile()))
    partner = await ccai.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": random_mobile()},
        headers=tenant.auth(),
    )
    assert partner.status_code == 201
    reply = await get(ccai, tenant, f"{MANAGER}/calls")
    assert [c["id"] for c in reply.json()] == [mine["id"]]
    assert reply.headers["total"] == "1"
    partner_id = partner.json()["data"]["id"]
    assert (await get(ccai, tenant, f"{MANAGER}/calls/{partner_id}")).status_code == 404


async def test_one_call_is_the_call_object(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    data = await created(ccai, tenant, inbound_body(random_mobile()))
    reply = await get(ccai, tenant, f"{MANAGER}/calls/{data['id']}")
    assert reply.status_code == 200
    assert reply.json() == data
    for missing in ("999999999999", "abc", "-1"):
        reply = await get(ccai, tenant, f"{MANAGER}/calls/{missing}")
        assert (reply.status_code, reply.json()) == (404, {"message": "Not found"})


async def test_organization_names_the_restaurant_and_its_subdomain(
    ccai: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_ccai_restaurant(make_restaurant)
    reply = await get(ccai, tenant, f"{MANAGER}/settings/organization")
    assert reply.status_code == 200
    assert reply.json() == {"name": tenant.restaurant.name, "subdomain": tenant.restaurant.slug}
