"""The allowed moves of a message are one table, and it says what SPEC §3 says."""

from __future__ import annotations

import itertools

import pytest

from ringback.messages.states import (
    CANCEL,
    OPS_RETRY,
    RECEIPT_MOVES,
    REPORTABLE,
    TRANSITIONS,
    MessageStatus,
    is_forward,
)

S = MessageStatus


def sources_into(target: MessageStatus) -> set[MessageStatus]:
    return {source for move in TRANSITIONS if move.target is target for source in move.sources}


def targets_from(source: MessageStatus) -> set[MessageStatus]:
    return {move.target for move in TRANSITIONS if source in move.sources}


def test_every_move_has_its_own_name() -> None:
    names = [move.name for move in TRANSITIONS]
    assert len(names) == len(set(names))


def test_a_message_is_born_queued() -> None:
    assert [move.target for move in TRANSITIONS if not move.sources] == [S.QUEUED]


def test_the_way_forward_is_queued_sending_sent_delivered_read() -> None:
    for earlier, later in itertools.pairwise([S.QUEUED, S.SENDING, S.SENT, S.DELIVERED, S.READ]):
        assert later in targets_from(earlier)


def test_failed_comes_from_any_status_before_delivered() -> None:
    assert sources_into(S.FAILED) == {S.QUEUED, S.SENDING, S.SENT}


def test_cancelled_comes_only_from_queued() -> None:
    assert sources_into(S.CANCELLED) == {S.QUEUED}
    assert CANCEL.sources == {S.QUEUED}


def test_the_moves_back_are_a_failed_send_or_lost_lease_and_the_ops_retry() -> None:
    assert sources_into(S.QUEUED) == {S.SENDING, S.FAILED}
    assert OPS_RETRY.sources == {S.FAILED}


@pytest.mark.parametrize("status", [S.CANCELLED, S.READ])
def test_nothing_leaves_a_final_status(status: MessageStatus) -> None:
    assert targets_from(status) == set()


def test_failed_only_leaves_by_the_ops_retry() -> None:
    assert [move for move in TRANSITIONS if S.FAILED in move.sources] == [OPS_RETRY]


def test_receipts_only_move_a_message_forward() -> None:
    progress = [S.SENT, S.DELIVERED, S.READ]
    for reported, move in RECEIPT_MOVES.items():
        for source in move.sources:
            if reported is not S.FAILED and source in progress:
                assert progress.index(source) < progress.index(reported)
    assert set(RECEIPT_MOVES) == set(REPORTABLE) == {S.SENT, S.DELIVERED, S.READ, S.FAILED}


@pytest.mark.parametrize(("current", "reported"), list(itertools.product(S, S)))
def test_is_forward_reads_the_table(current: MessageStatus, reported: MessageStatus) -> None:
    move = RECEIPT_MOVES.get(reported)
    assert is_forward(current, reported) is (move is not None and current in move.sources)
