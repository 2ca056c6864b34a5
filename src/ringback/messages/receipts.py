"""ReceiptsService: WhatsApp delivery receipts and opt-out words, applied in one transaction."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.db.tx import Database
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages import receipt_queries as receipts
from ringback.messages.queries import apply_receipts
from ringback.messages.states import (
    BusinessNumber,
    InboundText,
    OptIntent,
    WhatsAppChange,
    opt_intent,
)
from ringback.relay.phone import whatsapp_sender


@dataclass
class ReceiptsSummary:
    """What one webhook did, for logs and tests."""

    moved: list[str] = field(default_factory=list)
    pending: int = 0
    opted_out: int = 0
    opted_in: int = 0
    ignored_changes: int = 0


class ReceiptsService:
    def __init__(self, db: Database, metrics: Metrics | None = None) -> None:
        self._db = db
        self._metrics = metrics or NoMetrics()

    async def handle(self, changes: Sequence[WhatsAppChange]) -> ReceiptsSummary:
        """Apply every change of one webhook; it is all committed before this returns."""
        summary = ReceiptsSummary()
        async with self._db.transaction() as tx:
            for change in changes:
                numbers = await receipts.restaurants_for(tx.conn, change.phone_number_id)
                await apply_change(tx.conn, change, numbers, summary)
            await tx.commit()
        self.report(summary)
        return summary

    def report(self, summary: ReceiptsSummary) -> None:
        """Count the moves of a committed webhook (applied in another use case's Tx too)."""
        for status in summary.moved:
            self._metrics.message_moved(status)


async def apply_change(
    conn: AsyncConnection,
    change: WhatsAppChange,
    numbers: Sequence[BusinessNumber],
    summary: ReceiptsSummary,
) -> None:
    """The receipts and opt-out words of one change, in the caller's transaction; ``numbers``
    are the restaurants on its business number (none: the change is ignored)."""
    if not numbers:
        summary.ignored_changes += 1
        return
    await apply_statuses(conn, change, numbers, summary)
    await apply_opt_words(conn, change.texts, numbers, summary)


async def apply_statuses(
    conn: AsyncConnection,
    change: WhatsAppChange,
    numbers: Sequence[BusinessNumber],
    summary: ReceiptsSummary,
) -> None:
    """Move each message a receipt names, or keep the receipt until its id is recorded."""
    restaurant_ids = [n.restaurant_id for n in numbers]
    # Locks are taken in provider-id order so concurrent webhooks never wait on each other
    # in a cycle; a stable sort keeps one message's receipts in the order they came.
    by_id = sorted(change.receipts, key=lambda r: r.provider_message_id)
    for provider_id, grouped in itertools.groupby(by_id, key=lambda r: r.provider_message_id):
        reported = list(grouped)
        await receipts.lock_provider_id(conn, provider_id)
        known = await receipts.find_message(conn, provider_id, restaurant_ids)
        if known is None:
            for receipt in reported:
                await receipts.keep_pending(conn, change.phone_number_id, receipt)
            summary.pending += len(reported)
            continue
        moved = await apply_receipts(conn, known, reported)
        summary.moved.extend(status.value for status in moved)


async def apply_opt_words(
    conn: AsyncConnection,
    texts: Sequence[InboundText],
    numbers: Sequence[BusinessNumber],
    summary: ReceiptsSummary,
) -> None:
    """``STOP`` opts the sender out of every restaurant in ``numbers``, ``START`` back in."""
    for text in texts:
        intent = opt_intent(text.text)
        if intent is None:
            continue
        # WhatsApp gives the sender in international form: no restaurant's country changes it
        e164 = whatsapp_sender(text.sender)
        if e164 is None:
            continue
        for number in numbers:
            if intent is OptIntent.OUT:
                await receipts.opt_out(conn, number.restaurant_id, e164, text.sent_at)
                summary.opted_out += 1
            else:
                await receipts.opt_in(conn, number.restaurant_id, e164)
                summary.opted_in += 1
