"""Statistics of calls (SPEC §8): the values, and the pure rules — which buckets a range has in a
restaurant's timezone, and how bucket counts add up to totals and rates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from ringback.relay.model import Outcome


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"


MAX_BUCKETS = 2000
"""A statistics range may not have more buckets than this (about 83 days of hours)."""


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """What one bucket's calls add up to. ``messages`` counts by the message's current status."""

    calls: int = 0
    missed: int = 0
    recovered: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)
    message_statuses: Mapping[str, int] = field(default_factory=dict)
    replied: int = 0


@dataclass(frozen=True, slots=True)
class StatsBucket:
    start: dt.datetime
    calls: int
    missed: int
    outcomes: dict[str, int]
    messages: dict[str, int]
    recovered: int
    replied: int = 0


@dataclass(frozen=True, slots=True)
class StatsTotals:
    calls: int
    missed: int
    outcomes: dict[str, int]
    messages: dict[str, int]
    recovered: int
    recovery_rate: float | None
    delivery_rate: float | None
    replied: int = 0
    reply_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    bucket: Bucket
    timezone: str
    occurred_from: dt.datetime
    occurred_to: dt.datetime
    buckets: tuple[StatsBucket, ...]
    totals: StatsTotals


def bucket_floor(moment: dt.datetime, bucket: Bucket, zone: ZoneInfo) -> dt.datetime:
    """The start (UTC) of the bucket that holds ``moment`` in the timezone ``zone``."""
    local = moment.astimezone(zone)
    if bucket is Bucket.DAY:
        return _local_midnight(local.date(), zone)
    start = local.replace(minute=0, second=0, microsecond=0)
    return start.astimezone(dt.UTC)


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    # A midnight that does not exist (clocks jump at 00:00) maps to the first instant of the day.
    return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.UTC)


def bucket_starts(
    occurred_from: dt.datetime, occurred_to: dt.datetime, bucket: Bucket, zone: ZoneInfo
) -> list[dt.datetime]:
    """Bucket starts (UTC) covering [from, to), aligned to local midnights or local hours.

    Days are 23 or 25 hours long on DST days; an hour that repeats when clocks go back is two
    buckets. Raises ValueError past ``MAX_BUCKETS``.
    """
    starts: list[dt.datetime] = []
    if bucket is Bucket.DAY:
        day = occurred_from.astimezone(zone).date()
        while True:
            start = _local_midnight(day, zone)
            if start >= occurred_to and starts:
                break
            starts.append(start)
            day += dt.timedelta(days=1)
            if len(starts) > MAX_BUCKETS:
                raise ValueError("too many buckets")
        return starts
    # Local hours start where the local minute is 0; step through UTC quarter hours, which every
    # offset in use is a multiple of.
    first = bucket_floor(occurred_from, bucket, zone)
    starts.append(first)
    probe = first + dt.timedelta(minutes=15)
    while probe < occurred_to:
        local = probe.astimezone(zone)
        if local.minute == 0:
            starts.append(probe)
            if len(starts) > MAX_BUCKETS:
                raise ValueError("too many buckets")
        probe += dt.timedelta(minutes=15)
    return starts


_ACCEPTED = frozenset({"sent", "delivered", "read"})
_DELIVERED = frozenset({"delivered", "read"})


def message_counts(by_status: Mapping[str, int]) -> dict[str, int]:
    """``sent`` = accepted by the provider (now sent, delivered or read); ``delivered`` = now
    delivered or read; ``read``; ``failed``."""
    return {
        "sent": sum(n for s, n in by_status.items() if s in _ACCEPTED),
        "delivered": sum(n for s, n in by_status.items() if s in _DELIVERED),
        "read": by_status.get("read", 0),
        "failed": by_status.get("failed", 0),
    }


def rate(numerator: int, divisor: int) -> float | None:
    return None if divisor == 0 else round(numerator / divisor, 4)


def assemble_stats(
    bucket: Bucket,
    timezone: str,
    occurred_from: dt.datetime,
    occurred_to: dt.datetime,
    starts: Sequence[dt.datetime],
    counts: Mapping[int, BucketCounts],
) -> Stats:
    """Buckets (empty ones too) and totals from the counts keyed by bucket index (0-based)."""
    buckets: list[StatsBucket] = []
    total_outcomes = dict.fromkeys((o.value for o in Outcome), 0)
    total_statuses: dict[str, int] = {}
    calls = missed = recovered = replied = 0
    for index, start in enumerate(starts):
        got = counts.get(index, BucketCounts())
        outcomes = dict.fromkeys((o.value for o in Outcome), 0)
        for name, n in got.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + n
            total_outcomes[name] = total_outcomes.get(name, 0) + n
        for status, n in got.message_statuses.items():
            total_statuses[status] = total_statuses.get(status, 0) + n
        calls += got.calls
        missed += got.missed
        recovered += got.recovered
        replied += got.replied
        buckets.append(
            StatsBucket(
                start=start,
                calls=got.calls,
                missed=got.missed,
                outcomes=outcomes,
                messages=message_counts(got.message_statuses),
                recovered=got.recovered,
                replied=got.replied,
            )
        )
    messages = message_counts(total_statuses)
    totals = StatsTotals(
        calls=calls,
        missed=missed,
        outcomes=total_outcomes,
        messages=messages,
        recovered=recovered,
        recovery_rate=rate(recovered, missed),
        delivery_rate=rate(messages["delivered"], messages["sent"]),
        replied=replied,
        reply_rate=rate(replied, messages["sent"]),
    )
    return Stats(bucket, timezone, occurred_from, occurred_to, tuple(buckets), totals)
