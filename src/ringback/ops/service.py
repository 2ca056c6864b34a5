"""OpsService: the use cases of operations (SPEC §8), each scoped to one restaurant.

Each is one read or one statement, so each runs on an autocommit connection (no BEGIN/COMMIT
round trips); the CSV export checks a connection out per chunk, never for the whole response.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from zoneinfo import ZoneInfo

from ringback.db.tx import Database
from ringback.errors import Conflict, NotFound
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.states import MessageStatus
from ringback.ops import queries, records
from ringback.ops.model import (
    CallFilters,
    CallRecord,
    CsvRow,
    CustomerState,
    MessageInfo,
    Position,
    RetryResult,
)
from ringback.ops.stats import Bucket, Stats, assemble_stats, bucket_floor, bucket_starts
from ringback.tenancy.model import Restaurant

DEFAULT_STATS_RANGE = dt.timedelta(days=7)


class OpsService:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], dt.datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics or NoMetrics()

    async def list_calls(
        self, restaurant: Restaurant, filters: CallFilters, after: Position | None, limit: int
    ) -> tuple[list[CallRecord], Position | None]:
        """One page, newest first, and where the next one starts (None on the last page)."""
        async with self._db.connection() as conn:
            rows = await records.list_calls(conn, restaurant.id, filters, after, limit + 1)
        page = rows[:limit]
        more = len(rows) > limit
        last = page[-1] if page else None
        following = Position(last.occurred_at, last.id) if more and last else None
        return page, following

    def export_calls(self, restaurant: Restaurant, filters: CallFilters) -> AsyncIterator[CsvRow]:
        return records.stream_calls(self._db, restaurant.id, filters)

    async def get_call(self, restaurant: Restaurant, call_id: int) -> CallRecord:
        async with self._db.connection() as conn:
            record = await records.get_call(conn, restaurant.id, call_id)
        if record is None:
            raise NotFound("Call not found")
        return record

    async def stats(
        self,
        restaurant: Restaurant,
        bucket: Bucket,
        occurred_from: dt.datetime | None,
        occurred_to: dt.datetime | None,
    ) -> Stats:
        """Counts by bucket of the restaurant's local time. Raises ValueError for a bad range."""
        zone = ZoneInfo(restaurant.timezone)
        end = occurred_to or self._clock()
        if occurred_from is None:
            start = bucket_floor(end - DEFAULT_STATS_RANGE, bucket, zone)
        else:
            start = occurred_from
        if start >= end:
            raise ValueError("from must be before to")
        starts = bucket_starts(start, end, bucket, zone)
        async with self._db.connection() as conn:
            counts = await queries.bucket_counts(conn, restaurant.id, starts, start, end)
        return assemble_stats(bucket, restaurant.timezone, start, end, starts, counts)

    async def retry_message(self, restaurant: Restaurant, message_id: int) -> MessageInfo:
        """``failed`` → ``queued`` with attempts starting again; anything else is a conflict."""
        async with self._db.connection() as conn:
            result, message = await queries.retry_message(conn, restaurant.id, message_id)
        if result is RetryResult.NOT_FOUND:
            raise NotFound("Message not found")
        if result is RetryResult.SUPPRESSED:
            raise Conflict(
                "The customer opted out or is flagged bad_actor: the message cannot be retried"
            )
        if result is RetryResult.NOT_FAILED or message is None:
            raise Conflict("Only a failed message can be retried")
        self._metrics.message_moved(MessageStatus.QUEUED.value)
        return message

    async def set_opt_out(
        self, restaurant: Restaurant, customer_id: int, opted_out: bool
    ) -> CustomerState:
        async with self._db.connection() as conn:
            state = await queries.set_opt_out(conn, restaurant.id, customer_id, opted_out)
        if state is None:
            raise NotFound("Customer not found")
        return state

    async def outbox_gauges(self) -> tuple[int, float]:
        """(messages queued or being sent, seconds the oldest due queued message has waited)."""
        async with self._db.connection() as conn:
            return await queries.outbox_gauges(conn)
