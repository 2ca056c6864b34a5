"""Sends recorded at the same time share one statement and one commit (``SqlOutbox.mark_sent``'s
group record, issue 15), and each send gets what its own statement would have said.

``asyncio.gather`` starts every record before the writer task runs (asyncio runs ready callbacks
in order), so the records a test starts together form one group.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.bootstrap import Container
from ringback.db.tables import call, message, message_event
from ringback.db.tx import Database
from ringback.messages import receipt_queries
from ringback.messages.outbox import CallReply, SentRecord, SqlOutbox, record_params
from ringback.messages.ports import ClaimedMessage
from ringback.messages.queries import record_sends_statement
from ringback.messages.states import MessageStatus, Receipt
from ringback.relay.model import Outcome
from tests.conftest import MakeRestaurant, Tenant
from tests.messages.test_kept_receipts import held_message, state, waiting_for_a_lock

pytestmark = pytest.mark.sql


async def held_messages(
    container: Container, tenant: Tenant, outbox: SqlOutbox, count: int
) -> list[tuple[ClaimedMessage, int]]:
    """``count`` reports' messages, claimed by ``outbox``, each with its call's id; the calls
    say ``SENT``, as the decision of a send made inline stores them (``_with_lease``): the
    reports were queued (inline sends are off here), so that is written here."""
    held = [await held_message(container, tenant, outbox) for _ in range(count)]
    async with container.engine.begin() as conn:
        rows = await conn.execute(
            select(message.c.id, message.c.call_id).where(message.c.id.in_([m.id for m in held]))
        )
        calls = {row.id: row.call_id for row in rows}
        await conn.execute(
            update(call).where(call.c.id.in_(calls.values())).values(outcome=Outcome.SENT.value)
        )
    return [(m, calls[m.id]) for m in held]


async def call_rows_read(conn: AsyncConnection) -> int:
    """How many times this transaction has read ``call`` so far (scans of its indexes or
    table)."""
    row = (
        await conn.execute(
            text(
                "SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) AS n"
                " FROM pg_stat_xact_user_tables WHERE relname = 'call'"
            )
        )
    ).one()
    return int(row.n)


async def stored(container: Container, message_id: int) -> tuple[str, str | None, str | None]:
    """The message's status and provider id, and its call's outcome."""
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                select(message.c.status, message.c.provider_message_id, call.c.outcome)
                .join(call, call.c.id == message.c.call_id)
                .where(message.c.id == message_id)
            )
        ).one()
    return row.status, row.provider_message_id, row.outcome


async def test_sends_recorded_together_share_one_statement_and_each_is_recorded(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    held = await held_messages(queued, tenant, outbox, 6)
    wamids = [f"wamid.group{uuid.uuid4().hex}" for _ in held]

    moved = await asyncio.gather(
        *(
            outbox.mark_sent(m, wamid, CallReply(call_id, Outcome.SENT))
            for (m, call_id), wamid in zip(held, wamids, strict=True)
        )
    )

    assert moved == [True] * len(held)
    assert outbox._sent.statements == 1
    for (m, _), wamid in zip(held, wamids, strict=True):
        assert await stored(queued, m.id) == (MessageStatus.SENT.value, wamid, Outcome.SENT.value)
        assert await state(queued, m.id, wamid) == (MessageStatus.SENT.value, _SENT, 0)


async def written(container: Container, message_id: int) -> tuple[object, ...]:
    """Every column a send's record writes, save its own id and times: the message's, its
    timeline's and its call's."""
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    message.c.status,
                    message.c.lease_token,
                    message.c.lease_expires_at,
                    message.c.provider_message_id,
                    message.c.last_error,
                    message.c.attempts,
                    call.c.outcome,
                )
                .join(call, call.c.id == message.c.call_id)
                .where(message.c.id == message_id)
            )
        ).one()
        events = (
            await conn.execute(
                select(message_event.c.status, message_event.c.attempt, message_event.c.detail)
                .where(message_event.c.message_id == message_id)
                .order_by(message_event.c.id)
            )
        ).all()
    provider_id = row.provider_message_id
    # the provider ids differ by test design: compared through what they are to their message
    return (
        row.status,
        row.lease_token,
        row.lease_expires_at,
        provider_id is not None,
        row.last_error,
        row.attempts,
        row.outcome,
        [(e.status, e.attempt, e.detail == provider_id) for e in events],
    )


async def test_a_send_in_a_group_writes_exactly_what_a_send_alone_writes(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    """Every column, event and outcome a record writes, the same for a send alone (a group of
    one) and for each send of a group."""
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    (alone, alone_call), (first, first_call), (second, second_call) = await held_messages(
        queued, tenant, outbox, 3
    )
    assert await outbox.mark_sent(
        alone, "wamid.x" + uuid.uuid4().hex, CallReply(alone_call, Outcome.SENT)
    )
    assert outbox._sent.statements == 1
    await asyncio.gather(
        outbox.mark_sent(first, "wamid.y" + uuid.uuid4().hex, CallReply(first_call, Outcome.SENT)),
        outbox.mark_sent(
            second, "wamid.z" + uuid.uuid4().hex, CallReply(second_call, Outcome.SENT)
        ),
    )
    assert outbox._sent.statements == 2

    expected = await written(queued, alone.id)
    assert expected == (
        MessageStatus.SENT.value,
        None,  # the lease ended
        None,
        True,  # the provider's id is the message's
        None,
        1,
        Outcome.SENT.value,
        [("queued", 0, False), ("sending", 1, False), ("sent", 1, True)],
    )
    assert await written(queued, first.id) == expected
    assert await written(queued, second.id) == expected


async def test_a_lost_lease_in_a_group_moves_nothing_and_its_call_says_queued(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    (kept, kept_call), (lost, lost_call), (other, other_call) = await held_messages(
        queued, tenant, outbox, 3
    )
    stale = replace(lost, lease_token=uuid.uuid4())  # another holder's lease now

    moved = await asyncio.gather(
        outbox.mark_sent(kept, "wamid.a" + uuid.uuid4().hex, CallReply(kept_call, Outcome.SENT)),
        outbox.mark_sent(stale, "wamid.b" + uuid.uuid4().hex, CallReply(lost_call, Outcome.SENT)),
        outbox.mark_sent(other, "wamid.c" + uuid.uuid4().hex, CallReply(other_call, Outcome.SENT)),
    )

    assert list(moved) == [True, False, True]
    assert outbox._sent.statements == 1
    assert await stored(queued, lost.id) == (
        MessageStatus.SENDING.value,
        None,
        Outcome.QUEUED.value,
    )
    assert (await stored(queued, kept.id))[0::2] == (MessageStatus.SENT.value, "SENT")
    assert (await stored(queued, other.id))[0::2] == (MessageStatus.SENT.value, "SENT")


def sent_records(
    held: ClaimedMessage, call_id: int, wamid_prefix: str, reply: Outcome
) -> dict[str, list[Any]]:
    """``record_sends_statement``'s parameters for one send, with a fresh provider id."""
    wamid = wamid_prefix + uuid.uuid4().hex
    return record_params([SentRecord(held, wamid, CallReply(call_id, reply))])


async def test_a_send_that_replies_what_its_decision_stored_never_reads_its_call(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    """The decision of an inline send stored its call ``SENT``: the record that replies
    ``SENT`` runs no statement on ``call`` (migration 0012), while a lost lease's ``QUEUED``
    is written, in the same group."""
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    (sent, sent_call), (lost, lost_call) = await held_messages(queued, tenant, outbox, 2)
    stale = replace(lost, lease_token=uuid.uuid4())  # another holder's lease now
    async with queued.engine.begin() as conn:
        before = await call_rows_read(conn)
        await conn.execute(
            record_sends_statement(),
            sent_records(sent, sent_call, "wamid.r", Outcome.SENT),
        )
        assert await call_rows_read(conn) == before
        await conn.execute(
            record_sends_statement(),
            sent_records(stale, lost_call, "wamid.s", Outcome.SENT),
        )
        assert await call_rows_read(conn) == before + 1
    assert (await stored(queued, sent.id))[0::2] == (MessageStatus.SENT.value, "SENT")
    assert (await stored(queued, lost.id))[0::2] == (MessageStatus.SENDING.value, "QUEUED")


async def test_a_moved_send_whose_reply_is_not_the_decided_outcome_writes_it(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    """The function writes any reply other than the decided ``SENT``: it is told the decided
    outcome, it does not assume every reply is that one."""
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    ((held, call_id),) = await held_messages(queued, tenant, outbox, 1)
    async with queued.engine.begin() as conn:
        rows = await conn.execute(
            record_sends_statement(),
            sent_records(held, call_id, "wamid.t", Outcome.FAILED),
        )
        assert [(row.moved, row.kept) for row in rows] == [(True, False)]
    assert (await stored(queued, held.id))[0::2] == (MessageStatus.SENT.value, "FAILED")


async def test_a_group_the_server_refuses_is_recorded_one_send_at_a_time(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    (first, _), (clash, _), (good, _) = await held_messages(queued, tenant, outbox, 3)
    taken = "wamid.taken" + uuid.uuid4().hex
    assert await outbox.mark_sent(first, taken) is True  # alone: one statement
    good_id = "wamid.good" + uuid.uuid4().hex

    # the provider gives an id another message already carries: the group's statement fails
    results = await asyncio.gather(
        outbox.mark_sent(clash, taken), outbox.mark_sent(good, good_id), return_exceptions=True
    )

    assert results[1] is True
    assert isinstance(results[0], Exception)  # that send's own error, as if recorded alone
    assert outbox._sent.statements == 1 + 1 + 2  # the first, the refused group, each alone
    assert (await stored(queued, good.id))[:2] == (MessageStatus.SENT.value, good_id)
    assert (await stored(queued, clash.id))[:2] == (MessageStatus.SENDING.value, None)


async def test_a_receipt_kept_while_a_group_waits_for_its_lock_is_applied_to_its_message_only(
    queued: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    outbox = SqlOutbox(Database(queued.engine))
    held = [m for m, _ in await held_messages(queued, tenant, outbox, 3)]
    wamids = [f"wamid.{i}{uuid.uuid4().hex}" for i in range(3)]
    delivered = Receipt(wamids[1], MessageStatus.DELIVERED, dt.datetime.now(dt.UTC), None)

    async with queued.engine.connect() as webhook:
        # the webhook took the middle id's lock, found no message and keeps its receipt...
        await receipt_queries.lock_provider_id(webhook, wamids[1])
        await receipt_queries.keep_pending(webhook, held[1].phone_number_id, delivered)
        # ...while the group's record starts, and waits for that lock
        records = asyncio.gather(
            *(outbox.mark_sent(m, w) for m, w in zip(held, wamids, strict=True))
        )
        await waiting_for_a_lock(queued)
        await webhook.commit()

    assert await records == [True, True, True]
    assert outbox._sent.statements == 1
    timelines = [await state(queued, m.id, w) for m, w in zip(held, wamids, strict=True)]
    assert timelines[1] == (MessageStatus.DELIVERED.value, [*_SENT, "delivered"], 0)
    assert timelines[0] == timelines[2] == (MessageStatus.SENT.value, _SENT, 0)


_SENT = ["queued", "sending", "sent"]
