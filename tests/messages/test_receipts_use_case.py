"""The receipts' use case on PostgreSQL: moves reported after the commit, kept receipts, STOP.

These were fake-store tests (tests/unit/test_receipts.py) while receipts had a unit of work of
their own; the use case now runs on the one ``Tx`` and the moves of ``messages/queries.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, insert, select

from ringback.bootstrap import Container
from ringback.db.tables import call, customer, message, pending_receipt
from ringback.db.tx import Database
from ringback.messages.receipts import ReceiptsService
from ringback.messages.states import InboundText, Receipt, WhatsAppChange
from ringback.messages.states import MessageStatus as S
from tests.conftest import DEFAULT_WHATSAPP, MakeRestaurant, Tenant, random_mobile

pytestmark = pytest.mark.sql

T0 = dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)


@dataclass
class RecordingMetrics:
    moved: list[str] = field(default_factory=list)

    def call_recorded(
        self, source: str, direction: str, disposition: str, outcome: str | None
    ) -> None:
        return None

    def message_moved(self, status: str, count: int = 1) -> None:
        self.moved.extend([status] * count)

    def dispatch_observed(self, result: str, seconds: float) -> None:
        return None

    def inbound_received(self, message_type: str, count: int = 1) -> None:
        return None


async def own_number(make_restaurant: MakeRestaurant) -> tuple[Tenant, str]:
    pnid = f"pn-{uuid.uuid4().hex[:12]}"
    tenant = await make_restaurant(whatsapp={**DEFAULT_WHATSAPP, "phone_number_id": pnid})
    return tenant, pnid


async def sent_message(container: Container, tenant: Tenant, wamid: str) -> None:
    """A message the Graph API accepted as ``wamid``, written as the outbox leaves one."""
    number = random_mobile()
    async with container.engine.begin() as conn:
        customer_id = await conn.scalar(
            insert(customer)
            .values(restaurant_id=tenant.id, phone_number=number)
            .returning(customer.c.id)
        )
        call_id = await conn.scalar(
            insert(call)
            .values(
                restaurant_id=tenant.id, source="partner", external_id=uuid.uuid4().hex,
                direction="inbound", disposition="missed", caller_raw=number,
                caller_phone_number=number, occurred_at=func.now(),
            )
            .returning(call.c.id)
        )  # fmt: skip
        await conn.execute(
            insert(message).values(
                restaurant_id=tenant.id, call_id=call_id, customer_id=customer_id,
                to_phone_number=number, template_type="MISSED_CALL", template_name="t",
                template_language="fr", parameters=[], status=S.SENT.value, attempts=1,
                next_attempt_at=func.now(), provider_message_id=wamid,
            )
        )  # fmt: skip


async def test_every_move_is_reported_to_the_metrics_after_the_commit(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant, pnid = await own_number(make_restaurant)
    wamid = f"wamid.{uuid.uuid4().hex}"
    await sent_message(container, tenant, wamid)
    metrics = RecordingMetrics()
    service = ReceiptsService(Database(container.engine), metrics)
    change = WhatsAppChange(
        pnid,
        receipts=[Receipt(wamid, S.DELIVERED, T0), Receipt(wamid, S.READ, T0)],
    )
    summary = await service.handle([change])
    async with container.engine.connect() as conn:
        status = await conn.scalar(
            select(message.c.status).where(message.c.provider_message_id == wamid)
        )
    assert status == S.READ.value  # committed
    assert metrics.moved == ["delivered", "read"]
    assert summary.moved == ["delivered", "read"]


async def test_receipts_for_unknown_ids_are_kept_and_unknown_numbers_ignored(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    _, pnid = await own_number(make_restaurant)
    service = ReceiptsService(Database(container.engine))
    kept = Receipt(f"wamid.{uuid.uuid4().hex}", S.DELIVERED, T0)
    summary = await service.handle(
        [
            WhatsAppChange(pnid, receipts=[kept]),
            WhatsAppChange(f"elsewhere-{uuid.uuid4().hex}", receipts=[Receipt("w-x", S.READ, T0)]),
        ]
    )
    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(pending_receipt.c.status).where(
                    pending_receipt.c.provider_message_id == kept.provider_message_id
                )
            )
        ).all()
    assert [row.status for row in rows] == [kept.status.value]
    assert summary.ignored_changes == 1


async def test_stop_opts_the_sender_out_of_every_restaurant_on_that_number(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    first, pnid = await own_number(make_restaurant)
    second = await make_restaurant(whatsapp={**DEFAULT_WHATSAPP, "phone_number_id": pnid})
    number = random_mobile()
    service = ReceiptsService(Database(container.engine))
    await service.handle([WhatsAppChange(pnid, texts=[InboundText(number[1:], "STOP", T0)])])
    async with container.engine.connect() as conn:
        opted_out = {
            (row.restaurant_id, row.phone_number)
            for row in await conn.execute(
                select(customer.c.restaurant_id, customer.c.phone_number).where(
                    customer.c.phone_number == number, customer.c.opted_out_at.is_not(None)
                )
            )
        }
    assert opted_out == {(first.id, number), (second.id, number)}
