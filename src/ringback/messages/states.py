"""Message statuses and their moves: receipts only move a message forward (SPEC §3, §7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    CANCELLED = "cancelled"


# How far along the provider has taken a message; a receipt must go further to move it.
_PROGRESS = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


RECEIPT_STATUSES = frozenset({MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ})


REPORTABLE = RECEIPT_STATUSES | {MessageStatus.FAILED}


OPT_OUT_WORDS = frozenset({"stop", "arret", "arrêt", "stopp", "unsubscribe"})


OPT_IN_WORDS = frozenset({"start"})


class OptIntent(StrEnum):
    OUT = "out"
    IN = "in"


def opt_intent(text: str) -> OptIntent | None:
    """``STOP``-like words opt out, ``START`` opts back in; any case, surrounding blanks ignored."""
    word = text.strip().casefold()
    if word in OPT_OUT_WORDS:
        return OptIntent.OUT
    if word in OPT_IN_WORDS:
        return OptIntent.IN
    return None


def is_forward(current: MessageStatus, reported: MessageStatus) -> bool:
    """Whether a receipt saying ``reported`` moves a message that is ``current``."""
    if current in (MessageStatus.FAILED, MessageStatus.CANCELLED):
        return False
    if reported is MessageStatus.FAILED:
        return _PROGRESS[current] < _PROGRESS[MessageStatus.DELIVERED]
    if reported not in RECEIPT_STATUSES:
        return False
    return _PROGRESS[reported] > _PROGRESS[current]


@dataclass(frozen=True, slots=True)
class Receipt:
    """One ``statuses[]`` entry: the provider's message id, what happened, and when."""

    provider_message_id: str
    status: MessageStatus
    reported_at: dt.datetime
    error: str | None = None
    """For ``failed``: the provider's error code and title, as ``last_error`` shows them."""


@dataclass(frozen=True, slots=True)
class Move:
    status: MessageStatus
    error: str | None


def settle(current: MessageStatus, receipts: Iterable[Receipt]) -> list[Move]:
    """The moves a batch of receipts makes, oldest report first; non-forward ones are dropped."""
    order = sorted(
        receipts,
        key=lambda r: (r.reported_at, _PROGRESS.get(r.status, 0), r.status is MessageStatus.FAILED),
    )
    moves: list[Move] = []
    for receipt in order:
        if is_forward(current, receipt.status):
            moves.append(Move(receipt.status, receipt.error))
            current = receipt.status
    return moves


def describe_error(code: object, title: object) -> str:
    """``last_error`` of a failed receipt: the code and title, as the provider wrote them."""
    parts = [str(p) for p in (code, title) if p not in (None, "")]
    return (
        ("WhatsApp error " + " ".join(parts)) if parts else "WhatsApp reported the message failed"
    )


@dataclass(frozen=True, slots=True)
class InboundText:
    """A customer's text message: the sender's WhatsApp id (digits) and what they wrote."""

    sender: str
    text: str
    sent_at: dt.datetime


@dataclass(frozen=True, slots=True)
class WhatsAppChange:
    """One ``entry[].changes[].value``: the business number it concerns and what it carries."""

    phone_number_id: str
    receipts: Sequence[Receipt] = ()
    texts: Sequence[InboundText] = ()


@dataclass(frozen=True, slots=True)
class KnownMessage:
    id: int
    status: MessageStatus


@dataclass(frozen=True, slots=True)
class BusinessNumber:
    """A restaurant behind one WhatsApp business number, with the country to read numbers in."""

    restaurant_id: int
    country: str


class ReceiptTransaction(Protocol):
    """The receipts' reads and writes inside one transaction."""

    async def restaurants_for(self, phone_number_id: str) -> list[BusinessNumber]: ...

    async def lock_provider_id(self, provider_message_id: str) -> None: ...

    async def find_message(
        self, provider_message_id: str, restaurant_ids: Sequence[int]
    ) -> KnownMessage | None: ...

    async def move(self, message: KnownMessage, moves: Sequence[Move]) -> list[MessageStatus]: ...

    async def keep_pending(self, phone_number_id: str, receipt: Receipt) -> None: ...

    async def opt_out(self, restaurant_id: int, phone_number: str, at: dt.datetime) -> None: ...

    async def opt_in(self, restaurant_id: int, phone_number: str) -> None: ...

    async def commit(self) -> None: ...


class ReceiptStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[ReceiptTransaction]: ...
