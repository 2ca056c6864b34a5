"""A call's time is the one SPEC §3 names, whatever order its notifications arrive in: for Telnyx
the hangup's ``start_time``, else the ``occurred_at`` of ``call.initiated`` (issue 13, item 9);
for Zoho the ``start_time``, over the time a notification without one was received."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import httpx
import pytest
import respx

from ringback.bootstrap import Container
from tests.api.test_webhooks_telnyx import Line, _iso, calls_of, line, send
from tests.api.test_zoho_callnotify import gmt, notify, params, stored
from tests.conftest import MakeRestaurant, random_mobile

pytestmark = pytest.mark.sql


class Session:
    """One Telnyx call whose three times all differ: the hangup's ``start_time`` (``started``),
    ``call.initiated`` two seconds later and ``call.answered`` nine seconds after that."""

    def __init__(self, phone: Line) -> None:
        self.phone = phone
        # Line.event dates initiated at ``base``, answered 9 s and the hangup 30 s after it
        self.base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=2)
        self.started = self.base - dt.timedelta(seconds=2)
        self.initiated_at = self.base
        self.answered_at = self.base + dt.timedelta(seconds=9)

    def event(self, kind: str, **payload: Any) -> bytes:
        # only the hangup carries a start_time here: the SPEC reads the hangup's alone, and a
        # start_time elsewhere must not decide the test
        start_time = _iso(self.started) if kind == "hangup" else None
        return self.phone.event(kind, self.base, **{"start_time": start_time, **payload})


async def deliver(client: httpx.AsyncClient, session: Session, kinds: tuple[str, ...]) -> None:
    for kind in kinds:
        cause = {"hangup_cause": "normal_clearing"} if kind == "hangup" else {}
        reply = await send(client, session.phone, session.event(kind, **cause))
        assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("order", list(itertools.permutations(["initiated", "answered", "hangup"])))
async def test_an_answered_call_takes_the_hangups_start_time_in_any_order(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    order: tuple[str, ...],
) -> None:
    session = Session(await line(make_restaurant))
    await deliver(client, session, order)
    await deliver(client, session, order)  # every event again: repeats change nothing
    [call] = await calls_of(container, session.phone.tenant)
    assert call.disposition == "answered"
    assert call.occurred_at == session.started
    assert call.answered_at == session.answered_at
    assert not graph.calls


@pytest.mark.parametrize("order", [("initiated", "answered"), ("answered", "initiated")])
async def test_an_answered_call_without_its_hangup_takes_the_initiated_time(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    order: tuple[str, ...],
) -> None:
    session = Session(await line(make_restaurant))
    await deliver(client, session, order)
    [call] = await calls_of(container, session.phone.tenant)
    assert call.occurred_at == session.initiated_at
    assert call.answered_at == session.answered_at


@pytest.mark.parametrize("order", [("initiated", "hangup"), ("hangup", "initiated")])
async def test_a_missed_call_takes_the_hangups_start_time_in_either_order(
    client: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    graph: respx.MockRouter,
    order: tuple[str, ...],
) -> None:
    session = Session(await line(make_restaurant))
    for kind in order:
        assert (await send(client, session.phone, session.event(kind))).status_code == 200
    [call] = await calls_of(container, session.phone.tenant)
    assert call.disposition == "missed"
    assert call.outcome == "SENT"
    assert call.occurred_at == session.started
    assert len(graph.calls) == 1


async def test_a_hangup_without_start_time_keeps_the_initiated_time(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    session = Session(await line(make_restaurant))
    await send(client, session.phone, session.event("initiated"))
    raw = session.event("hangup", hangup_cause="normal_clearing", start_time=None)
    assert (await send(client, session.phone, raw)).status_code == 200
    [call] = await calls_of(container, session.phone.tenant)
    assert call.occurred_at == session.initiated_at


async def test_zoho_keeps_a_start_time_over_the_receipt_time_of_a_later_notification(
    client: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    """``answered`` needs no ``start_time``: one sent without must not replace the call's."""
    tenant = await make_restaurant()
    number = random_mobile()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    ringing = params("received", "ringing", number, "zoho-time", start_time=gmt(started))
    answered = params("received", "answered", number, "zoho-time")
    del answered["start_time"]
    ended = params("received", "ended", number, "zoho-time", start_time=gmt(started))
    for body in (ringing, answered):
        assert (await notify(client, tenant, body)).status_code == 200
    assert (await stored(container, tenant, "zoho-time")).occurred_at == started
    for body in (answered, ended):
        assert (await notify(client, tenant, body)).status_code == 200
    assert (await stored(container, tenant, "zoho-time")).occurred_at == started
