"""Message statuses and their moves: receipts only move a message forward (SPEC §3, §7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    CANCELLED = "cancelled"


# How far along the provider has taken a message: the order of receipts reported at one instant.
_PROGRESS = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed move: a message in any of ``sources`` may become ``target``."""

    name: str
    sources: frozenset[MessageStatus]
    target: MessageStatus


def _move(name: str, sources: Iterable[MessageStatus], target: MessageStatus) -> Transition:
    return Transition(name, frozenset(sources), target)


_Q, _SENDING, _SENT = MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT
_DELIVERED, _FAILED = MessageStatus.DELIVERED, MessageStatus.FAILED

# The allowed moves (SPEC §3 "Message statuses"): every write of a message's status is one of
# these, and the statements of ``queries.py`` take their WHERE clause from ``sources``.
ENQUEUE = _move("enqueue", (), _Q)
CLAIM = _move("claim", {_Q}, _SENDING)
SUPPRESS = _move("suppress", {_Q}, MessageStatus.CANCELLED)
"""The claim of a message whose customer is suppressed now (SPEC §3, suppression at send time)."""
CANCEL = _move("cancel", {_Q}, MessageStatus.CANCELLED)
"""The customer's call was answered."""
MARK_SENT = _move("mark sent", {_SENDING}, _SENT)
MARK_RETRY = _move("mark retry", {_SENDING}, _Q)
MARK_FAILED = _move("mark failed", {_SENDING}, _FAILED)
EXPIRE_LEASE = _move("expire lease", {_SENDING}, _Q)
OPS_RETRY = _move("ops retry", {_FAILED}, _Q)
# A receipt moves a message only forward; ``failed`` only before ``delivered``.
RECEIPT_MOVES = {
    _SENT: _move("receipt sent", {_Q, _SENDING}, _SENT),
    _DELIVERED: _move("receipt delivered", {_Q, _SENDING, _SENT}, _DELIVERED),
    MessageStatus.READ: _move(
        "receipt read", {_Q, _SENDING, _SENT, _DELIVERED}, MessageStatus.READ
    ),
    _FAILED: _move("receipt failed", {_Q, _SENDING, _SENT}, _FAILED),
}
TRANSITIONS = (
    ENQUEUE,
    CLAIM,
    SUPPRESS,
    CANCEL,
    MARK_SENT,
    MARK_RETRY,
    MARK_FAILED,
    EXPIRE_LEASE,
    OPS_RETRY,
    *RECEIPT_MOVES.values(),
)


REPORTABLE = frozenset(RECEIPT_MOVES)
"""The statuses a receipt may report; any other is ignored at the door."""


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
    move = RECEIPT_MOVES.get(reported)
    return move is not None and current in move.sources


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
