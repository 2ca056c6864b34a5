"""A CCAI status move and the relay's decision commit together (SPEC §3: nothing lost)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.db.tx import Tx
from ringback.relay.model import CallEvent, Decision
from ringback.relay.service import RelayService
from ringback.settings import Settings
from ringback.tenancy.model import Restaurant
from tests.api.ccai_support import created, inbound_body, make_ccai_restaurant, move, moved
from tests.api.conftest import sent_bodies
from tests.conftest import MakeRestaurant, random_mobile
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = pytest.mark.sql


class CommitFails(Exception):
    pass


class FailingFirstCommit(RelayService):
    """The real relay, whose first decision's transaction fails to commit, as if the process
    died right there."""

    failures_left = 1

    async def decide(self, tx: Tx, restaurant: Restaurant, event: CallEvent) -> Decision:
        decision = await super().decide(tx, restaurant, event)
        if self.failures_left:
            self.failures_left -= 1

            async def fail() -> None:
                raise CommitFails

            tx.commit = fail  # type: ignore[method-assign]
        return decision


async def test_a_failed_decision_leaves_the_call_unmoved_and_the_retry_sends_one_message(
    settings: Settings,
    container: Container,
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    # the reply says SENT only if the send finishes within the deadline: one only a hang reaches
    relay = FailingFirstCommit(
        container.database, container.dispatcher, inline_timeout=SLOW_MACHINE_SECONDS
    )
    app = create_app(
        settings.model_copy(update={"ccai_rate_limit_per_second": 0}),
        dataclasses.replace(container, relay=relay),
    )
    tenant = await make_ccai_restaurant(make_restaurant)
    number = random_mobile()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as ccai:
        data = await created(ccai, tenant, inbound_body(number))
        failed = await move(ccai, tenant, data["id"], status="failed", fail_reason="eu_abandoned")
        assert failed.status_code == 500
        unmoved = (
            await ccai.get(f"/manager/api/v1/calls/{data['id']}", headers=failed.request.headers)
        ).json()
        assert unmoved["status"] == "queued"
        assert unmoved["missed_call"] is None
        retried = await moved(ccai, tenant, data["id"], status="failed", fail_reason="eu_abandoned")
    assert retried["status"] == "failed"
    assert retried["missed_call"]["outcome"] == "SENT"
    assert [body["to"] for body in sent_bodies(graph)] == [number.lstrip("+")]
