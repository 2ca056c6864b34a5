"""Telnyx Call Control webhooks through the real app and a real PostgreSQL (SPEC §7, §3)."""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from nacl.signing import SigningKey
from sqlalchemy import select

from ringback.bootstrap import Container
from ringback.db.tables import call, message
from tests.conftest import MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql

PAYLOADS = Path(__file__).parent.parent / "payloads"
MISSED_CAUSES = ["originator_cancel", "timeout", "no_answer", "user_busy", "call_rejected"]


class Line:
    """A restaurant on Telnyx with its signing key, and one call session on it."""

    def __init__(self, tenant: Tenant, key: SigningKey) -> None:
        self.tenant = tenant
        self.key = key
        self.session = str(uuid.uuid4())
        self.caller = random_mobile()

    @property
    def slug(self) -> str:
        return self.tenant.restaurant.slug

    def event(self, kind: str, started: dt.datetime | None = None, /, **payload: Any) -> bytes:
        body: dict[str, Any] = copy.deepcopy(
            json.loads((PAYLOADS / f"telnyx_call_{kind}.json").read_text())
        )
        started = started or dt.datetime.now(dt.UTC) - dt.timedelta(seconds=40)
        offsets = {"initiated": 0, "answered": 9, "hangup": 30}
        body["data"]["id"] = str(uuid.uuid4())
        body["data"]["occurred_at"] = _iso(started + dt.timedelta(seconds=offsets[kind]))
        values = body["data"]["payload"]
        values["call_session_id"] = self.session
        values["from"] = self.caller
        if "start_time" in values:
            values["start_time"] = _iso(started)
        values.update(payload)
        return json.dumps(body).encode()

    def headers(self, raw: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signed = self.key.sign(stamp.encode() + b"|" + raw).signature
        return {
            "Content-Type": "application/json",
            "telnyx-timestamp": stamp,
            "telnyx-signature-ed25519": base64.b64encode(signed).decode(),
        }


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def line(make_restaurant: MakeRestaurant, **overrides: Any) -> Line:
    key = SigningKey.generate()
    public = base64.b64encode(bytes(key.verify_key)).decode()
    return Line(await make_restaurant(telnyx_public_key=public, **overrides), key)


async def send(client: httpx.AsyncClient, line: Line, raw: bytes, **kw: Any) -> httpx.Response:
    return await client.post(
        f"/webhooks/telnyx/{line.slug}", content=raw, headers=line.headers(raw, **kw)
    )


async def calls_of(container: Container, tenant: Tenant) -> list[Any]:
    async with container.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(
                        call.c.id,
                        call.c.external_id,
                        call.c.direction,
                        call.c.disposition,
                        call.c.caller_phone_number,
                        call.c.occurred_at,
                        call.c.outcome,
                        call.c.answered_at,
                        call.c.recovered_at,
                        message.c.status.label("message_status"),
                    )
                    .select_from(call.outerjoin(message, message.c.call_id == call.c.id))
                    .where(call.c.restaurant_id == tenant.id)
                    .order_by(call.c.id)
                )
            ).all()
        )


async def test_incoming_call_hung_up_unanswered_sends_exactly_one_whatsapp_message(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    assert (await send(client, phone, phone.event("initiated", started))).status_code == 200
    assert (await send(client, phone, phone.event("hangup", started))).status_code == 200
    [stored] = await calls_of(container, phone.tenant)
    assert stored.external_id == phone.session
    assert stored.direction == "inbound"
    assert stored.disposition == "missed"
    assert stored.caller_phone_number == phone.caller
    assert stored.occurred_at == started
    assert stored.outcome == "SENT"
    assert stored.message_status == "sent"
    assert len(graph.calls) == 1
    assert json.loads(graph.calls[0].request.content)["to"] == phone.caller.lstrip("+")


async def test_the_hangups_start_time_becomes_the_calls_time_over_the_initiated_event(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    """SPEC §3: a Telnyx call's ``occurred_at`` is the hangup's ``start_time``, else the
    ``occurred_at`` of ``call.initiated`` — the row keeps the time the decision used."""
    phone = await line(make_restaurant)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    initiated = phone.event("initiated", started + dt.timedelta(seconds=5))
    assert (await send(client, phone, initiated)).status_code == 200
    [before] = await calls_of(container, phone.tenant)
    assert before.occurred_at == started + dt.timedelta(seconds=5)
    assert (await send(client, phone, phone.event("hangup", started))).status_code == 200
    [stored] = await calls_of(container, phone.tenant)
    assert stored.occurred_at == started
    assert stored.outcome == "SENT"


@pytest.mark.parametrize("cause", MISSED_CAUSES)
async def test_every_missed_hangup_cause_makes_the_call_missed(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    cause: str,
) -> None:
    phone = await line(make_restaurant)
    await send(client, phone, phone.event("initiated"))
    await send(client, phone, phone.event("hangup", hangup_cause=cause))
    [stored] = await calls_of(container, phone.tenant)
    assert stored.disposition == "missed"
    assert len(graph.calls) == 1


@pytest.mark.parametrize("cause", ["normal_clearing", "time_limit", "not_found", "unspecified"])
async def test_a_hangup_for_any_other_cause_is_stored_without_a_message(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    cause: str,
) -> None:
    phone = await line(make_restaurant)
    await send(client, phone, phone.event("initiated"))
    await send(client, phone, phone.event("hangup", hangup_cause=cause))
    [stored] = await calls_of(container, phone.tenant)
    assert stored.disposition == "other"
    assert stored.outcome is None
    assert graph.calls.call_count == 0


async def test_an_answered_call_then_its_hangup_sends_nothing(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant)
    for raw in (
        phone.event("initiated"),
        phone.event("answered"),
        phone.event("hangup", hangup_cause="originator_cancel"),
    ):
        assert (await send(client, phone, raw)).status_code == 200
    [stored] = await calls_of(container, phone.tenant)
    assert stored.disposition == "answered"
    assert stored.answered_at is not None
    assert stored.outcome is None
    assert graph.calls.call_count == 0


# --- signatures ------------------------------------------------------------------------------


async def test_bad_signatures_and_timestamps_are_refused_and_store_nothing(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    phone = await line(make_restaurant)
    raw = phone.event("hangup")
    now = int(time.time())
    good = phone.headers(raw, timestamp=now)
    stranger = Line(phone.tenant, SigningKey.generate())
    attempts: list[tuple[bytes, dict[str, str]]] = [
        (raw, {}),
        (raw, {k: v for k, v in good.items() if k != "telnyx-signature-ed25519"}),
        (raw, {k: v for k, v in good.items() if k != "telnyx-timestamp"}),
        (raw, stranger.headers(raw)),
        (raw.replace(b"originator_cancel", b"user_busy"), good),
        (raw, {**good, "telnyx-timestamp": str(now + 1)}),
        (raw, {**good, "telnyx-signature-ed25519": "not base64!"}),
        # well past the 300 s tolerance: the clock may tick between here and the server
        (raw, phone.headers(raw, timestamp=now - 310)),
        (raw, phone.headers(raw, timestamp=now + 310)),
        (raw, {**good, "telnyx-timestamp": "yesterday"}),
    ]
    for body, headers in attempts:
        reply = await client.post(f"/webhooks/telnyx/{phone.slug}", content=body, headers=headers)
        assert reply.status_code == 401, headers
        assert reply.json()["error"]["code"] == "UNAUTHORIZED"
    assert await calls_of(container, phone.tenant) == []


async def test_a_timestamp_within_the_tolerance_is_accepted(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    phone = await line(make_restaurant)
    reply = await send(client, phone, phone.event("initiated"), timestamp=int(time.time()) - 290)
    assert reply.status_code == 200
    assert len(await calls_of(container, phone.tenant)) == 1


async def test_unknown_slug_and_restaurant_without_a_key_answer_the_same_401(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    phone = await line(make_restaurant)
    keyless = await make_restaurant()
    raw = phone.event("initiated")
    headers = phone.headers(raw)
    unknown = await client.post(
        f"/webhooks/telnyx/no-such-{uuid.uuid4().hex}", content=raw, headers=headers
    )
    no_key = await client.post(
        f"/webhooks/telnyx/{keyless.restaurant.slug}", content=raw, headers=headers
    )
    assert unknown.status_code == no_key.status_code == 401
    assert unknown.json()["error"]["message"] == no_key.json()["error"]["message"]


async def test_a_signed_body_that_is_not_json_is_a_bad_request(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant
) -> None:
    phone = await line(make_restaurant)
    reply = await send(client, phone, b"{oops")
    assert reply.status_code == 400


async def test_events_ringback_does_not_read_are_accepted_and_ignored(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    phone = await line(make_restaurant)
    body = json.loads(phone.event("answered"))
    body["data"]["event_type"] = "call.bridged"
    reply = await send(client, phone, json.dumps(body).encode())
    assert reply.status_code == 200
    assert await calls_of(container, phone.tenant) == []


# --- replays, races and order ----------------------------------------------------------------


async def test_a_replayed_hangup_sends_no_second_message(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant)
    await send(client, phone, phone.event("initiated"))
    hangup = phone.event("hangup")
    for _ in range(3):
        assert (await send(client, phone, hangup)).status_code == 200
    assert len(await calls_of(container, phone.tenant)) == 1
    assert len(graph.calls) == 1


async def test_concurrent_copies_of_a_hangup_send_one_message(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant)
    hangup = phone.event("hangup")
    replies = await asyncio.gather(*(send(client, phone, hangup) for _ in range(6)))
    assert [r.status_code for r in replies] == [200] * 6
    [stored] = await calls_of(container, phone.tenant)
    assert stored.outcome == "SENT"
    assert len(graph.calls) == 1


async def test_a_hangup_before_its_initiated_event_still_makes_one_missed_call(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=2)
    await send(client, phone, phone.event("hangup", started))
    await send(client, phone, phone.event("initiated", started))
    [stored] = await calls_of(container, phone.tenant)
    assert stored.disposition == "missed"
    assert stored.direction == "inbound"
    assert stored.occurred_at == started
    assert len(graph.calls) == 1


async def test_an_answered_event_after_the_hangup_cancels_the_queued_message_and_recovers_it(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant, send_delay_seconds=600)
    await send(client, phone, phone.event("initiated"))
    await send(client, phone, phone.event("hangup"))
    [before] = await calls_of(container, phone.tenant)
    assert before.outcome == "QUEUED"
    assert before.message_status == "queued"
    assert (await send(client, phone, phone.event("answered"))).status_code == 200
    [after] = await calls_of(container, phone.tenant)
    assert after.message_status == "cancelled"
    assert after.recovered_at is not None
    assert graph.calls.call_count == 0


async def test_a_later_event_of_the_session_with_another_number_is_ignored(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant)
    await send(client, phone, phone.event("initiated"))
    other = random_mobile()
    reply = await send(client, phone, phone.event("hangup", **{"from": other}))
    assert reply.status_code == 200
    [stored] = await calls_of(container, phone.tenant)
    assert stored.caller_phone_number == phone.caller
    assert stored.disposition == "other"
    assert graph.calls.call_count == 0


async def test_an_outgoing_call_never_answered_is_stored_but_never_missed(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
) -> None:
    phone = await line(make_restaurant)
    customer = random_mobile()
    restaurant_number = "+33185000000"
    await send(
        client,
        phone,
        phone.event("initiated", direction="outgoing", to=customer, **{"from": restaurant_number}),
    )
    await send(
        client,
        phone,
        phone.event("hangup", hangup_cause="no_answer", to=customer, **{"from": restaurant_number}),
    )
    [stored] = await calls_of(container, phone.tenant)
    assert stored.direction == "outbound"
    assert stored.disposition == "other"
    assert stored.caller_phone_number == customer
    assert graph.calls.call_count == 0
