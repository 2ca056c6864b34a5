"""The conversations' pure rules (SPEC §10): the service window and why a reply is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from ringback.conversations.model import (
    LAST_TEXT_CHARS,
    ReplyBlock,
    list_text,
    reply_block,
    window_open_until,
)

T = dt.datetime(2026, 5, 10, 14, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("last_inbound", "now", "until"),
    [
        (None, T, None),
        (T, T, T + 24 * HOUR),
        (T, T + 23 * HOUR, T + 24 * HOUR),
        (T, T + 24 * HOUR - dt.timedelta(microseconds=1), T + 24 * HOUR),
        (T, T + 24 * HOUR, None),
        (T, T + 30 * HOUR, None),
    ],
    ids=["never-wrote", "just-wrote", "23h", "last-instant", "24h-exactly", "30h"],
)
def test_the_window_runs_24_hours_from_the_customers_last_message(
    last_inbound: dt.datetime | None, now: dt.datetime, until: dt.datetime | None
) -> None:
    assert window_open_until(last_inbound, now) == until


# opted_out, bad_actor, hours since the last message (None: never), can_send -> refusal
TABLE = [
    (False, False, 1, True, None),
    (False, False, 25, True, ReplyBlock.WINDOW_CLOSED),
    (False, False, None, True, ReplyBlock.WINDOW_CLOSED),
    (True, False, 1, True, ReplyBlock.OPTED_OUT),
    (True, True, 25, False, ReplyBlock.OPTED_OUT),
    (False, True, 25, True, ReplyBlock.BAD_ACTOR),
    (False, False, 25, False, ReplyBlock.WINDOW_CLOSED),
    (False, False, 1, False, ReplyBlock.NO_WHATSAPP),
]


@pytest.mark.parametrize(("opted_out", "bad_actor", "hours", "can_send", "expected"), TABLE)
def test_a_reply_is_refused_for_the_first_reason_that_applies(
    opted_out: bool,
    bad_actor: bool,
    hours: float | None,
    can_send: bool,
    expected: ReplyBlock | None,
) -> None:
    last = None if hours is None else T - dt.timedelta(hours=hours)
    found = reply_block(
        opted_out=opted_out, bad_actor=bad_actor, last_inbound_at=last, can_send=can_send, now=T
    )
    assert found is expected


def test_the_list_keeps_the_start_of_a_long_text() -> None:
    assert list_text("x" * (LAST_TEXT_CHARS + 10)) == "x" * LAST_TEXT_CHARS
    assert list_text("court") == "court"
    assert list_text(None) is None
