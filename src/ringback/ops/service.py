"""OpsService: the use cases of operations (SPEC §8), each scoped to one restaurant."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from zoneinfo import ZoneInfo

from ringback.errors import Conflict, NotFound
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.states import MessageStatus
from ringback.ops.model import (
    Bucket,
    CallFilters,
    CallRecord,
    CsvRow,
    CustomerState,
    MessageInfo,
    OpsStore,
    Position,
    RetryResult,
    Stats,
    assemble_stats,
    bucket_floor,
    bucket_starts,
)
from ringback.tenancy.model import Restaurant

DEFAULT_STATS_RANGE = dt.timedelta(days=7)


class OpsService:
    def __init__(
        self,
        store: OpsStore,
        *,
        clock: Callable[[], dt.datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics or NoMetrics()

    async def list_calls(
        self, restaurant: Restaurant, filters: CallFilters, after: Position | None, limit: int
    ) -> tuple[list[CallRecord], Position | None]:
        """One page, newest first, and where the next one starts (None on the last page)."""
        rows = await self._store.list_calls(restaurant.id, filters, after, limit + 1)
        page = rows[:limit]
        more = len(rows) > limit
        last = page[-1] if page else None
        following = Position(last.occurred_at, last.id) if more and last else None
        return page, following

    def export_calls(self, restaurant: Restaurant, filters: CallFilters) -> AsyncIterator[CsvRow]:
        return self._store.stream_calls(restaurant.id, filters)

    async def get_call(self, restaurant: Restaurant, call_id: int) -> CallRecord:
        record = await self._store.get_call(restaurant.id, call_id)
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
        counts = await self._store.bucket_counts(restaurant.id, starts, start, end)
        return assemble_stats(bucket, restaurant.timezone, start, end, starts, counts)

    async def retry_message(self, restaurant: Restaurant, message_id: int) -> MessageInfo:
        """``failed`` → ``queued`` with attempts starting again; anything else is a conflict."""
        result, message = await self._store.retry_message(restaurant.id, message_id)
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
        state = await self._store.set_opt_out(restaurant.id, customer_id, opted_out)
        if state is None:
            raise NotFound("Customer not found")
        return state
