"""The client-timestamp range (SPEC §3), stored extremes formatted, and no 5xx after a commit."""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from ringback.doors.whatsapp.wire import _time
from ringback.http.formats import as_utc, iso_z
from ringback.http.inputs import EARLIEST, END, in_client_range, usable_stored
from ringback.messages.dispatcher import Dispatcher
from ringback.messages.outbox import CallReply
from ringback.messages.ports import ClaimedMessage, SendResult
from ringback.messages.states import MessageStatus
from ringback.ops.cursor import CursorCodec
from ringback.ops.model import Position

ROOT = Path(__file__).parent.parent.parent
UTC = dt.UTC
# How asyncpg reads a stored -infinity and infinity: naive, though the column is timestamptz.
NEG_INF = dt.datetime.min  # noqa: DTZ901
POS_INF = dt.datetime.max  # noqa: DTZ901
# Zoho and CCAI date-times without an offset are read as UTC (SPEC §3).
NAIVE_2026 = dt.datetime(2026, 5, 10, 12, 0)  # noqa: DTZ001
NAIVE_YEAR_1 = dt.datetime(1, 1, 1)  # noqa: DTZ001


def offset(hours: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours))


@pytest.mark.parametrize(
    "moment",
    [
        EARLIEST,
        dt.datetime(2000, 1, 1, 1, 0, tzinfo=offset(1)),
        dt.datetime(1999, 12, 31, 23, 0, tzinfo=offset(-1)),
        dt.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(3000, 1, 1, 0, 59, tzinfo=offset(1)),
        NAIVE_2026,
    ],
)
def test_moments_inside_the_range(moment: dt.datetime) -> None:
    assert in_client_range(moment)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2000, 1, 1, 0, 30, tzinfo=offset(1)),
        END,
        dt.datetime(2999, 12, 31, 23, 30, tzinfo=offset(-1)),
        dt.datetime(1, 1, 1, 0, 30, tzinfo=offset(1)),  # before year 1 in UTC
        dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=offset(-5)),  # after 9999 in UTC
        NEG_INF,
        POS_INF,
        NAIVE_YEAR_1,
    ],
)
def test_moments_outside_the_range_even_where_utc_overflows(moment: dt.datetime) -> None:
    assert not in_client_range(moment)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (NEG_INF, "0001-01-01T00:00:00.000Z"),
        (POS_INF, "9999-12-31T23:59:59.999Z"),
        (dt.datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
        (dt.datetime(999, 3, 4, 5, 6, 7, 891000, tzinfo=UTC), "0999-03-04T05:06:07.891Z"),
        (dt.datetime(1, 1, 1, 0, 30, tzinfo=offset(1)), "0001-01-01T00:00:00.000Z"),
        (dt.datetime(9999, 12, 31, 23, 0, tzinfo=offset(-5)), "9999-12-31T23:59:59.999Z"),
        (dt.datetime(2026, 5, 10, 14, 23, 0, 123999, tzinfo=offset(2)), "2026-05-10T12:23:00.123Z"),
    ],
)
def test_iso_z_formats_every_datetime(moment: dt.datetime, expected: str) -> None:
    assert iso_z(moment) == expected


def test_as_utc_reads_naive_values_as_utc() -> None:
    assert as_utc(NEG_INF) == NEG_INF.replace(tzinfo=UTC)
    assert as_utc(dt.datetime(2030, 1, 1, 2, tzinfo=offset(2))) == dt.datetime(
        2030, 1, 1, tzinfo=UTC
    )


def test_usable_stored_drops_what_older_code_stored_outside_the_range() -> None:
    assert usable_stored(None) is None
    assert usable_stored(NEG_INF) is None
    assert usable_stored(POS_INF.replace(tzinfo=UTC)) is None
    assert usable_stored(NAIVE_2026) == NAIVE_2026.replace(tzinfo=UTC)


@pytest.mark.parametrize("stored", [NEG_INF, POS_INF])
def test_a_cursor_on_a_stored_infinity_round_trips(stored: dt.datetime) -> None:
    codec = CursorCodec(b"k" * 32)
    cursor = codec.encode(7, Position(stored, 42))
    assert codec.decode(7, cursor) == Position(stored.replace(tzinfo=UTC), 42)


def test_a_whatsapp_timestamp_outside_the_range_reads_as_now() -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert _time("946684800", now) == EARLIEST
    assert _time("946684799", now) == now  # 1999-12-31T23:59:59Z
    assert _time("32503680000", now) == now  # 3000-01-01T00:00:00Z


# --- no 5xx after a commit ----------------------------------------------------------------------


class _Sender:
    async def send(self, message: ClaimedMessage) -> SendResult:
        return SendResult(provider_message_id="wamid.x")


class _BrokenOutbox:
    """The database fails while the inline attempt records the send."""

    async def mark_sent(
        self, held: ClaimedMessage, provider_message_id: str, reply: CallReply | None
    ) -> bool:
        raise ConnectionResetError("database gone")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected outbox call {name}")


async def test_an_inline_attempt_that_fails_after_the_commit_answers_queued() -> None:
    dispatcher = Dispatcher(
        _BrokenOutbox(),  # type: ignore[arg-type]
        _Sender(),
        lease_seconds=30,
        max_attempts=3,
        retry_base_seconds=1,
        clock=lambda: dt.datetime.now(UTC),
    )
    held = ClaimedMessage(
        id=1,
        lease_token=uuid.uuid4(),
        attempts=1,
        phone_number_id="1",
        access_token="t",
        to_phone_number="+33612345678",
        template_name="missed_call",
        template_language="fr",
        parameters=[],
    )
    # generous: the attempt fails at once; the bound only keeps a broken test from hanging
    status: MessageStatus | None = await asyncio.wait_for(
        dispatcher.deliver_within(held, 30, call_id=5), 60
    )
    assert status is None  # the reply is QUEUED; the lease's expiry hands it to the worker


# --- SQL parameters never logged ----------------------------------------------------------------


def _engine_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None))
        in ("create_async_engine", "create_engine")
    ]


def test_every_engine_the_code_creates_hides_its_parameters() -> None:
    files = [*sorted((ROOT / "src").rglob("*.py")), *sorted((ROOT / "migrations").rglob("*.py"))]
    calls = [(path, c) for path in files for c in _engine_calls(path)]
    assert calls, "no engine found: the scan looks in the wrong place"
    for path, found in calls:
        hidden = {k.arg: k.value.value for k in found.keywords if isinstance(k.value, ast.Constant)}
        assert hidden.get("hide_parameters") is True, f"{path}:{found.lineno}"
