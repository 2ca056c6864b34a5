"""InboundService: a WhatsApp webhook's effects, all in one transaction (SPEC §7, §10).

For each change, on each restaurant behind its business number: the senders' customers and
conversations (matched or created), the receipts (``messages.receipts``), the messages stored
once each with the conversation rows and replied calls they update, then the opt-out and opt-in
words of the messages stored now — a webhook retried after a START never replays its STOP. One
commit for the whole webhook: a database failure anywhere leaves nothing applied and the door
answers 5xx, so Meta delivers the webhook again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.conversations import queries
from ringback.conversations.model import InboundMessage, WebhookChange
from ringback.db.tx import Database
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages import receipt_queries
from ringback.messages.receipts import (
    ReceiptsService,
    ReceiptsSummary,
    apply_opt_words,
    apply_statuses,
)
from ringback.messages.states import BusinessNumber, InboundText, WhatsAppChange


@dataclass
class InboundSummary:
    """What one webhook did, for logs and tests."""

    receipts: ReceiptsSummary = field(default_factory=ReceiptsSummary)
    stored: list[tuple[str, str]] = field(default_factory=list)
    """(provider id, type) of each message stored now, once per restaurant."""
    repeated: int = 0
    """Messages a restaurant had stored already (webhook retries)."""


class InboundService:
    def __init__(
        self, db: Database, receipts: ReceiptsService, metrics: Metrics | None = None
    ) -> None:
        self._db = db
        self._receipts = receipts
        self._metrics = metrics or NoMetrics()

    async def receive(self, changes: Sequence[WebhookChange]) -> InboundSummary:
        """Apply every change of one webhook; it is all committed before this returns."""
        summary = InboundSummary()
        async with self._db.transaction() as tx:
            for change in changes:
                await _apply(tx.conn, change, summary)
            await tx.commit()
        self._receipts.report(summary.receipts)
        for _, message_type in summary.stored:
            self._metrics.inbound_received(message_type)
        return summary


async def _apply(conn: AsyncConnection, change: WebhookChange, summary: InboundSummary) -> None:
    numbers = await receipt_queries.restaurants_for(conn, change.phone_number_id)
    if not numbers:
        summary.receipts.ignored_changes += 1
        return
    messages = change.messages
    # every sender's customer row first, in number order, before any other row of theirs is
    # written (an opt-out below writes it again): concurrent webhooks lock them in one order
    senders = {
        number.restaurant_id: await queries.open_conversations(
            conn, number.restaurant_id, messages, change.profile_names
        )
        for number in numbers
        if messages
    }
    statuses = WhatsAppChange(change.phone_number_id, change.receipts)
    await apply_statuses(conn, statuses, numbers, summary.receipts)
    for number in numbers:
        if messages:
            await _store(conn, number, messages, senders[number.restaurant_id], summary)


async def _store(
    conn: AsyncConnection,
    number: BusinessNumber,
    messages: Sequence[InboundMessage],
    senders: dict[str, queries.Sender],
    summary: InboundSummary,
) -> None:
    stored = await queries.store_messages(conn, number.restaurant_id, messages, senders)
    summary.stored.extend(stored)
    summary.repeated += len({m.provider_message_id for m in messages}) - len(stored)
    new = {provider_id for provider_id, _ in stored}
    unique = {m.provider_message_id: m for m in messages}.values()
    words = sorted(
        (m for m in unique if m.provider_message_id in new and m.opt_word is not None),
        key=lambda m: m.sent_at,
    )
    texts = [InboundText(m.sender, m.opt_word or "", m.sent_at) for m in words]
    await apply_opt_words(conn, texts, [number], summary.receipts)
