"""A send's record and a status webhook for its message id, in either order (SPEC §3: a status
webhook for a message id not yet committed is kept and applied when it is).

The record is one statement that takes the id's lock and looks for kept receipts; these tests hold
the webhook's side of the race still, so the order is the test's and not the machine's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select, text

from ringback.bootstrap import Container
from ringback.db.tables import message, message_event, pending_receipt
from ringback.db.tx import Database
from ringback.messages import receipt_queries
from ringback.messages.outbox import SqlOutbox
from ringback.messages.ports import ClaimedMessage
from ringback.messages.states import MessageStatus, Receipt
from ringback.relay.model import CallEvent, Direction, Disposition, Outcome, Source
from ringback.relay.service import utc_now
from tests.conftest import MakeRestaurant, Tenant, random_mobile
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = pytest.mark.sql


async def held_message(container: Container, tenant: Tenant, outbox: SqlOutbox) -> ClaimedMessage:
    decision = await container.relay.handle(
        tenant.restaurant,
        CallEvent(
            source=Source.PARTNER,
            external_id=uuid.uuid4().hex,
            direction=Direction.INBOUND,
            disposition=Disposition.MISSED,
            raw_number=random_mobile(),
            occurred_at=utc_now(),
        ),
    )
    assert decision.outcome is Outcome.QUEUED
    held = [m for m in await outbox.claim_due(1000, 30) if m.id == decision.message_id]
    assert held, "the message was not due"
    return held[0]


async def state(container: Container, message_id: int, wamid: str) -> tuple[str, list[str], int]:
    async with container.engine.connect() as conn:
        status = await conn.scalar(select(message.c.status).where(message.c.id == message_id))
        events = await conn.scalars(
            select(message_event.c.status)
            .where(message_event.c.message_id == message_id)
            .order_by(message_event.c.id)
        )
        kept = await conn.scalar(
            select(func.count()).where(pending_receipt.c.provider_message_id == wamid)
        )
    return str(status), list(events), int(kept or 0)


async def waiting_for_a_lock(container: Container) -> None:
    """Until some statement of this database waits for an advisory lock."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event = 'advisory'"
    )
    deadline = asyncio.get_running_loop().time() + SLOW_MACHINE_SECONDS
    while True:
        async with container.engine.connect() as conn:
            if await conn.scalar(waiting):
                return
        assert asyncio.get_running_loop().time() < deadline, "the record never waited"
        await asyncio.sleep(0.01)


async def test_a_receipt_kept_while_the_record_waits_for_its_lock_is_applied_by_the_record(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    held = await held_message(queued, tenant, outbox)
    wamid = f"wamid.kept{uuid.uuid4().hex}"
    delivered = Receipt(wamid, MessageStatus.DELIVERED, dt.datetime.now(dt.UTC), None)

    async with queued.engine.connect() as webhook:
        # the webhook took the id's lock, found no message and keeps its receipt...
        await receipt_queries.lock_provider_id(webhook, wamid)
        await receipt_queries.keep_pending(webhook, held.phone_number_id, delivered)
        # ...while the send's record starts, and waits for the lock
        record = asyncio.create_task(outbox.mark_sent(held, wamid))
        await waiting_for_a_lock(queued)
        await webhook.commit()

    assert await record is True
    status, events, kept = await state(queued, held.id, wamid)
    assert status == MessageStatus.DELIVERED.value
    assert events == ["queued", "sending", "sent", "delivered"]
    assert kept == 0


async def test_a_record_without_kept_receipts_leaves_the_message_sent(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    held = await held_message(queued, tenant, outbox)
    wamid = f"wamid.none{uuid.uuid4().hex}"

    assert await outbox.mark_sent(held, wamid) is True
    assert await outbox.mark_sent(held, wamid) is False  # the lease ended with the first record

    status, events, kept = await state(queued, held.id, wamid)
    assert status == MessageStatus.SENT.value
    assert events == ["queued", "sending", "sent"]
    assert kept == 0
