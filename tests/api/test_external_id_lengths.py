"""Client strings are stored whole or refused at the door with its validation error, never cut
and never a 500 from the database (an index row has a size limit): issue 13, item 9."""

from __future__ import annotations

import base64
import json
import random
import string
import time
import uuid
from typing import Any

import httpx
import pytest
import respx
from nacl.signing import SigningKey
from sqlalchemy import select

from ringback.bootstrap import Container
from ringback.db.tables import call
from tests.api.test_zoho_callnotify import notify, params
from tests.conftest import MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql


async def zoho_calls(container: Container, tenant: Tenant) -> list[Any]:
    async with container.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(call.c.external_id, call.c.outcome, call.c.details)
                    .where(call.c.restaurant_id == tenant.id)
                    .order_by(call.c.id)
                )
            ).all()
        )


def assert_zoho_refused(reply: httpx.Response, param: str) -> None:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["code"] == "INVALID_PARAM_VALUE"
    assert body["details"] == {"params": [param]}


async def test_two_long_zoho_ids_sharing_their_first_128_characters_are_never_one_call(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    prefix = "z" * 128
    for suffix in ("-one", "-two"):
        reply = await notify(
            client, tenant, params("received", "missed", random_mobile(), prefix + suffix)
        )
        assert_zoho_refused(reply, "id")
    assert await zoho_calls(container, tenant) == []
    assert not graph.calls


async def test_a_zoho_id_of_128_characters_is_stored_whole(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    tenant = await make_restaurant()
    whole = uuid.uuid4().hex * 4
    reply = await notify(client, tenant, params("received", "missed", random_mobile(), whole))
    assert reply.status_code == 200, reply.text
    [stored] = await zoho_calls(container, tenant)
    assert stored.external_id == whole
    assert stored.outcome == "SENT"


@pytest.mark.parametrize("param", ["from", "to"])
async def test_a_zoho_number_too_long_for_any_phone_is_refused_not_a_500(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container, param: str
) -> None:
    tenant = await make_restaurant()
    call_type = "received" if param == "from" else "dialed"
    state = "missed" if param == "from" else "noanswer"
    # random digits: an index entry is compressed, and "111…" would fit
    number = "".join(random.choice(string.digits) for _ in range(3000))
    body = params(call_type, state, random_mobile(), "long-number", **{param: number})
    assert_zoho_refused(await notify(client, tenant, body), param)
    assert await zoho_calls(container, tenant) == []


async def test_zoho_details_are_stored_whole(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await make_restaurant()
    voiceuri = "https://recordings.example/" + "r" * 3000
    body = params("received", "ringing", random_mobile(), "whole-details", voiceuri=voiceuri)
    assert (await notify(client, tenant, body)).status_code == 200
    [stored] = await zoho_calls(container, tenant)
    assert stored.details["zoho_voiceuri"] == voiceuri


async def test_partner_ids_over_128_characters_are_refused_naming_the_field(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    long_id = "p" * 129
    reports = [
        (
            "/api/partner/v1/missed-calls",
            "post",
            {"caller_phone_number": random_mobile(), "external_call_id": long_id},
            "body.external_call_id",
        ),
        (
            "/api/partner/v1/customers",
            "put",
            [{"phone_number": random_mobile(), "external_id": long_id}],
            "body.0.external_id",
        ),
        (
            "/api/partner/v1/reservations",
            "put",
            [
                {
                    "external_id": long_id,
                    "start_at": "2031-01-02T19:30:00+01:00",
                    "party_size": 2,
                    "status": "PENDING",
                    "customer": {"phone_number": random_mobile()},
                }
            ],
            "body.0.external_id",
        ),
    ]
    for path, method, body, field in reports:
        reply = await client.request(method, path, json=body, headers=tenant.auth())
        assert reply.status_code == 422, reply.text
        error = reply.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert [d["field"] for d in error["details"]] == [field]


async def test_a_telnyx_session_id_too_long_is_refused_and_one_within_the_limit_kept_whole(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    key = SigningKey.generate()
    tenant = await make_restaurant(
        telnyx_public_key=base64.b64encode(bytes(key.verify_key)).decode()
    )

    async def initiated(session: str) -> httpx.Response:
        raw = json.dumps(
            {
                "data": {
                    "event_type": "call.initiated",
                    "occurred_at": "2030-01-01T10:00:00Z",
                    "payload": {
                        "call_session_id": session,
                        "direction": "incoming",
                        "from": random_mobile(),
                        "to": "+33140000000",
                    },
                }
            }
        ).encode()
        stamp = str(int(time.time()))
        signature = base64.b64encode(key.sign(stamp.encode() + b"|" + raw).signature).decode()
        return await client.post(
            f"/webhooks/telnyx/{tenant.restaurant.slug}",
            content=raw,
            headers={
                "Content-Type": "application/json",
                "telnyx-timestamp": stamp,
                "telnyx-signature-ed25519": signature,
            },
        )

    assert (await initiated("s" * 257)).status_code == 400
    whole = "s" * 256
    assert (await initiated(whole)).status_code == 200
    assert [row.external_id for row in await zoho_calls(container, tenant)] == [whole]
