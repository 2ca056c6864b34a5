"""The receipts' pure rules (SPEC §3 statuses, §7); the use case is tested on PostgreSQL in
tests/messages/test_receipts_use_case.py."""

from __future__ import annotations

import datetime as dt

import pytest

from ringback.messages.states import MessageStatus as S
from ringback.messages.states import (
    Move,
    OptIntent,
    Receipt,
    describe_error,
    is_forward,
    opt_intent,
    settle,
)

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
