"""The statistics' pure rules: buckets in a restaurant's local time, and how counts add up."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ringback.ops.stats import (
    MAX_BUCKETS,
    Bucket,
    BucketCounts,
    assemble_stats,
    bucket_floor,
    bucket_starts,
    message_counts,
)

PARIS = ZoneInfo("Europe/Paris")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def test_a_day_starts_at_local_midnight() -> None:
    assert bucket_floor(utc(2024, 5, 1, 23, 30), Bucket.DAY, PARIS) == utc(2024, 5, 1, 22)


def test_days_around_the_spring_change_are_23_hours_long() -> None:
    starts = bucket_starts(utc(2024, 3, 30, 12), utc(2024, 4, 1, 12), Bucket.DAY, PARIS)
    assert starts == [utc(2024, 3, 29, 23), utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)]
    assert starts[2] - starts[1] == dt.timedelta(hours=23)


def test_the_hour_that_repeats_in_autumn_is_two_buckets() -> None:
    # 2024-10-27: Paris goes from 03:00 CEST back to 02:00 CET at 01:00 UTC
    starts = bucket_starts(utc(2024, 10, 26, 23, 30), utc(2024, 10, 27, 2), Bucket.HOUR, PARIS)
    assert starts == [utc(2024, 10, 26, 23), utc(2024, 10, 27, 0), utc(2024, 10, 27, 1)]


def test_a_range_of_too_many_buckets_is_refused() -> None:
    end = utc(2024, 1, 1) + dt.timedelta(hours=MAX_BUCKETS + 1)
    with pytest.raises(ValueError, match="too many buckets"):
        bucket_starts(utc(2024, 1, 1), end, Bucket.HOUR, ZoneInfo("UTC"))


def test_sent_counts_every_message_the_provider_accepted() -> None:
    counts = message_counts({"sent": 1, "delivered": 2, "read": 3, "failed": 4, "queued": 5})
    assert counts == {"sent": 6, "delivered": 5, "read": 3, "failed": 4}


def test_totals_add_the_buckets_and_empty_buckets_are_kept() -> None:
    starts = [utc(2024, 5, 1), utc(2024, 5, 2), utc(2024, 5, 3)]
    counts = {
        0: BucketCounts(4, 2, 1, {"SENT": 2}, {"delivered": 1, "failed": 1}),
        2: BucketCounts(2, 2, 0, {"SENT": 1}, {"sent": 1}),
    }
    stats = assemble_stats(Bucket.DAY, "UTC", starts[0], utc(2024, 5, 4), starts, counts)
    assert [b.calls for b in stats.buckets] == [4, 0, 2]
    assert stats.buckets[1].outcomes["SENT"] == 0
    assert (stats.totals.calls, stats.totals.missed, stats.totals.recovered) == (6, 4, 1)
    assert stats.totals.outcomes["SENT"] == 3
    assert stats.totals.recovery_rate == 0.25
    assert stats.totals.delivery_rate == 0.5


def test_rates_are_null_when_nothing_to_divide() -> None:
    stats = assemble_stats(
        Bucket.DAY, "UTC", utc(2024, 5, 1), utc(2024, 5, 2), [utc(2024, 5, 1)], {}
    )
    assert stats.totals.recovery_rate is None
    assert stats.totals.delivery_rate is None
