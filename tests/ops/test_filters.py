"""Query parameters of the ops API read into filters, as tables (no database, no HTTP)."""

from __future__ import annotations

import datetime as dt

import pytest

from ringback.http.errors import ApiError
from ringback.messages.states import MessageStatus
from ringback.ops.filters import (
    MAX_LIMIT,
    QueryProblems,
    parse_bucket,
    parse_datetime,
    parse_filters,
    parse_limit,
)
from ringback.ops.model import CallFilters
from ringback.ops.stats import Bucket
from ringback.relay.model import Direction, Source


def test_no_parameter_is_no_filter() -> None:
    assert parse_filters({}, "FR") == CallFilters()


def test_a_list_of_values_is_read_by_commas() -> None:
    filters = parse_filters(
        {"source": "partner, zoho", "direction": "inbound", "message_status": "failed"}, "FR"
    )
    assert filters.sources == (Source.PARTNER, Source.ZOHO)
    assert filters.directions == (Direction.INBOUND,)
    assert filters.message_statuses == (MessageStatus.FAILED,)


def test_a_national_number_is_read_in_the_restaurants_country() -> None:
    assert parse_filters({"phone": "06 12 34 56 78"}, "FR").phone == "+33612345678"


@pytest.mark.parametrize(("raw", "flag"), [("true", True), ("YES", True), ("0", False)])
def test_recovered_reads_the_usual_spellings(raw: str, flag: bool) -> None:
    assert parse_filters({"recovered": raw}, "FR").recovered is flag


def test_one_422_names_every_bad_parameter_in_order() -> None:
    with pytest.raises(ApiError) as caught:
        parse_filters(
            {"recovered": "maybe", "phone": "1" * 65, "source": "fax", "to": "yesterday"}, "FR"
        )
    assert caught.value.status == 422
    fields = [d["field"] for d in caught.value.details]
    assert fields == ["query.recovered", "query.phone", "query.source", "query.to"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T12:00:00Z", dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)),
        # a "+" sent unencoded arrives as a space
        (
            "2024-05-01T12:00:00 02:00",
            dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
    ],
)
def test_a_date_time_carries_its_offset(raw: str, expected: dt.datetime) -> None:
    problems = QueryProblems()
    assert parse_datetime(raw, "from", problems) == expected
    assert problems.details == []


@pytest.mark.parametrize(
    "raw", ["2024-05-01T12:00:00", "1999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "soon"]
)
def test_a_date_time_without_offset_or_out_of_range_is_a_problem(raw: str) -> None:
    problems = QueryProblems()
    assert parse_datetime(raw, "from", problems) is None
    assert [d["field"] for d in problems.details] == ["query.from"]


@pytest.mark.parametrize(("raw", "size"), [(None, 50), ("", 50), ("1", 1), ("500", MAX_LIMIT)])
def test_the_page_size(raw: str | None, size: int) -> None:
    assert parse_limit(raw) == size


@pytest.mark.parametrize("raw", ["0", "501", "-1", "1e2", "١٢"])
def test_a_page_size_out_of_bounds_is_refused(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_limit(raw)
    assert caught.value.details == [
        {"field": "query.limit", "message": f"an integer from 1 to {MAX_LIMIT}"}
    ]


def test_the_bucket_is_a_day_unless_an_hour_is_asked() -> None:
    assert parse_bucket(None) is Bucket.DAY
    assert parse_bucket(" hour ") is Bucket.HOUR
    with pytest.raises(ApiError):
        parse_bucket("week")
