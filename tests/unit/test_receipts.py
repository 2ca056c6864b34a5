"""The receipts' pure rules and the use case over a fake store (SPEC §3 statuses, §7)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from ringback.messages.receipts import ReceiptsService
from ringback.messages.states import (
    BusinessNumber,
    InboundText,
    KnownMessage,
    Move,
    OptIntent,
    Receipt,
    WhatsAppChange,
    describe_error,
    is_forward,
    opt_intent,
    settle,
)
from ringback.messages.states import MessageStatus as S

T0 = dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("current", "reported", "moves"),
    [
        (S.SENT, S.DELIVERED, True),
        (S.SENT, S.READ, True),
        (S.DELIVERED, S.READ, True),
        (S.SENT, S.FAILED, True),
        (S.SENDING, S.FAILED, True),
        (S.SENT, S.SENT, False),
        (S.DELIVERED, S.SENT, False),
        (S.READ, S.DELIVERED, False),
        (S.READ, S.READ, False),
        (S.DELIVERED, S.FAILED, False),
        (S.READ, S.FAILED, False),
        (S.FAILED, S.DELIVERED, False),
        (S.CANCELLED, S.DELIVERED, False),
        (S.SENT, S.QUEUED, False),
    ],
)
def test_only_forward_receipts_move_a_message(current: S, reported: S, moves: bool) -> None:
    assert is_forward(current, reported) is moves


def test_settle_applies_receipts_in_the_providers_order_whatever_the_arrival_order() -> None:
    receipts = [
        Receipt("w", S.READ, T0 + dt.timedelta(seconds=20)),
        Receipt("w", S.DELIVERED, T0 + dt.timedelta(seconds=10)),
        Receipt("w", S.SENT, T0),
    ]
    assert settle(S.SENT, receipts) == [Move(S.DELIVERED, None), Move(S.READ, None)]


def test_settle_keeps_failed_out_once_delivered() -> None:
    receipts = [
        Receipt("w", S.DELIVERED, T0),
        Receipt("w", S.FAILED, T0 + dt.timedelta(seconds=1), "WhatsApp error 1"),
    ]
    assert settle(S.SENT, receipts) == [Move(S.DELIVERED, None)]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("STOP", OptIntent.OUT),
        (" stop\n", OptIntent.OUT),
        ("Arrêt", OptIntent.OUT),
        ("ARRET", OptIntent.OUT),
        ("stopp", OptIntent.OUT),
        ("UnSubscribe", OptIntent.OUT),
        ("START", OptIntent.IN),
        (" start ", OptIntent.IN),
        ("stop it", None),
        ("", None),
        ("merci", None),
    ],
)
def test_opt_words_are_read_whole_in_any_case(text: str, intent: OptIntent | None) -> None:
    assert opt_intent(text) is intent


def test_failed_receipts_describe_the_code_and_title() -> None:
    assert describe_error(131026, "Message undeliverable") == (
        "WhatsApp error 131026 Message undeliverable"
    )
    assert describe_error(None, None) == "WhatsApp reported the message failed"


@dataclass
class FakeTransaction:
    numbers: dict[str, list[BusinessNumber]]
    messages: dict[str, KnownMessage]
    pending: list[Receipt] = field(default_factory=list)
    opted_out: set[tuple[int, str]] = field(default_factory=set)
    committed: bool = False

    async def restaurants_for(self, phone_number_id: str) -> list[BusinessNumber]:
        return self.numbers.get(phone_number_id, [])

    async def lock_provider_id(self, provider_message_id: str) -> None:
        return None

    async def find_message(
        self, provider_message_id: str, restaurant_ids: Sequence[int]
    ) -> KnownMessage | None:
        return self.messages.get(provider_message_id)

    async def move(self, message: KnownMessage, moves: Sequence[Move]) -> list[S]:
        return [m.status for m in moves]

    async def keep_pending(self, phone_number_id: str, receipt: Receipt) -> None:
        self.pending.append(receipt)

    async def opt_out(self, restaurant_id: int, phone_number: str, at: dt.datetime) -> None:
        self.opted_out.add((restaurant_id, phone_number))

    async def opt_in(self, restaurant_id: int, phone_number: str) -> None:
        self.opted_out.discard((restaurant_id, phone_number))

    async def commit(self) -> None:
        self.committed = True


@dataclass
class FakeStore:
    tx: FakeTransaction

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        yield self.tx


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


async def test_every_move_is_reported_to_the_metrics_after_the_commit() -> None:
    tx = FakeTransaction({"pn": [BusinessNumber(1, "FR")]}, {"w1": KnownMessage(7, S.SENT)})
    metrics = RecordingMetrics()
    service = ReceiptsService(FakeStore(tx), metrics)
    change = WhatsAppChange(
        "pn",
        receipts=[Receipt("w1", S.DELIVERED, T0), Receipt("w1", S.READ, T0)],
    )
    summary = await service.handle([change])
    assert tx.committed
    assert metrics.moved == ["delivered", "read"]
    assert summary.moved == ["delivered", "read"]


async def test_receipts_for_unknown_ids_are_kept_and_unknown_numbers_ignored() -> None:
    tx = FakeTransaction({"pn": [BusinessNumber(1, "FR")]}, {})
    service = ReceiptsService(FakeStore(tx))
    kept = Receipt("w-new", S.DELIVERED, T0)
    summary = await service.handle(
        [
            WhatsAppChange("pn", receipts=[kept]),
            WhatsAppChange("elsewhere", receipts=[Receipt("w-x", S.READ, T0)]),
        ]
    )
    assert tx.pending == [kept]
    assert summary.ignored_changes == 1


async def test_stop_opts_the_sender_out_of_every_restaurant_on_that_number() -> None:
    tx = FakeTransaction({"pn": [BusinessNumber(1, "FR"), BusinessNumber(2, "FR")]}, {})
    service = ReceiptsService(FakeStore(tx))
    await service.handle([WhatsAppChange("pn", texts=[InboundText("33612345678", "STOP", T0)])])
    assert tx.opted_out == {(1, "+33612345678"), (2, "+33612345678")}
