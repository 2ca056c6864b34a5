"""The pure rules of SPEC §3: retries, due time and quiet hours, template parameters, staleness."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringback.relay import rules
from ringback.relay.model import Direction, TemplateType
from ringback.tenancy.model import QuietHours, Restaurant, WhatsAppConfig

UTC = dt.UTC


class FixedRandom(random.Random):
    """A random source that always draws the same value, to pin the jitter."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def at(text: str) -> dt.datetime:
    """A UTC instant written as ``YYYY-MM-DD HH:MM``."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def restaurant(
    *,
    timezone: str = "Europe/Paris",
    quiet: tuple[str, str] | None = None,
    send_delay_seconds: int = 0,
    fallback_first_name: str = "there",
) -> Restaurant:
    quiet_hours = None
    if quiet is not None:
        start, end = (dt.time.fromisoformat(value) for value in quiet)
        quiet_hours = QuietHours(start, end)
    return Restaurant(
        id=1,
        slug="chez-test",
        name="Chez Test",
        country="FR",
        timezone=timezone,
        send_delay_seconds=send_delay_seconds,
        quiet_hours=quiet_hours,
        whatsapp=WhatsAppConfig(
            phone_number_id="1234567890",
            access_token="token",
            fallback_first_name=fallback_first_name,
        ),
    )


# --- backoff -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 32.0), (6, 64.0)]
)
def test_backoff_doubles_with_every_attempt(attempts: int, ceiling: float) -> None:
    assert rules.backoff_seconds(attempts, 2.0, FixedRandom(1.0)) == pytest.approx(ceiling)
    assert rules.backoff_seconds(attempts, 2.0, FixedRandom(0.0)) == pytest.approx(ceiling / 2)


@pytest.mark.parametrize("attempts", [9, 10, 20, 60])
def test_backoff_is_capped_at_five_minutes(attempts: int) -> None:
    assert rules.backoff_seconds(attempts, 2.0, FixedRandom(1.0)) == pytest.approx(300.0)
    assert rules.backoff_seconds(attempts, 2.0, FixedRandom(0.0)) == pytest.approx(150.0)


def test_backoff_of_a_first_attempt_counted_as_zero_is_the_base_step() -> None:
    assert rules.backoff_seconds(0, 2.0, FixedRandom(1.0)) == pytest.approx(2.0)


@given(
    attempts=st.integers(min_value=1, max_value=40),
    base=st.floats(min_value=0.01, max_value=10.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_backoff_jitter_stays_between_half_the_step_and_the_step(
    attempts: int, base: float, seed: int
) -> None:
    step = min(300.0, base * 2 ** (attempts - 1))
    delay = rules.backoff_seconds(attempts, base, random.Random(seed))
    assert step / 2 <= delay <= step
    assert delay <= 300.0


def test_backoff_jitter_spreads_retries_of_the_same_attempt() -> None:
    rng = random.Random(42)
    delays = {rules.backoff_seconds(3, 2.0, rng) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) >= 4.0
    assert max(delays) <= 8.0


def test_backoff_without_a_random_source_uses_the_module_one() -> None:
    assert 1.0 <= rules.backoff_seconds(1, 2.0) <= 2.0


# --- transient or permanent ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004])
def test_listed_whatsapp_codes_are_transient_whatever_the_http_status(code: int) -> None:
    assert rules.is_transient(400, code)
    assert rules.is_transient(429, code)


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (None, None, True),  # network error or timeout
        (500, None, True),
        (503, None, True),
        (400, 131026, False),
        (400, 100, False),
        (401, 190, False),
        (400, None, False),
        (404, None, False),
        (429, None, False),
    ],
)
def test_other_failures_are_transient_only_without_an_answer_or_on_5xx(
    status: int | None, code: int | None, transient: bool
) -> None:
    assert rules.is_transient(status, code) is transient


# --- due time and quiet hours --------------------------------------------------------------------


def test_message_is_due_at_once_without_delay_or_quiet_hours() -> None:
    received = at("2026-05-10 20:30")
    assert rules.due_at(received, restaurant()) == received


def test_send_delay_postpones_the_message_by_that_many_seconds() -> None:
    received = at("2026-05-10 12:00")
    assert rules.due_at(received, restaurant(send_delay_seconds=300)) == at("2026-05-10 12:05")


def test_message_outside_quiet_hours_is_due_at_once() -> None:
    received = at("2026-05-10 12:00")  # 14:00 in Paris
    assert rules.due_at(received, restaurant(quiet=("21:00", "09:00"))) == received


def test_message_late_in_the_evening_waits_for_the_end_of_quiet_hours_next_morning() -> None:
    received = at("2026-05-10 20:30")  # 22:30 in Paris (CEST)
    due = rules.due_at(received, restaurant(quiet=("21:00", "09:00")))
    assert due == at("2026-05-11 07:00")  # 09:00 in Paris


def test_message_after_midnight_waits_for_the_end_of_quiet_hours_the_same_morning() -> None:
    received = at("2026-05-11 01:00")  # 03:00 in Paris
    due = rules.due_at(received, restaurant(quiet=("21:00", "09:00")))
    assert due == at("2026-05-11 07:00")


def test_quiet_hours_include_their_start_and_exclude_their_end() -> None:
    quiet = restaurant(quiet=("21:00", "09:00"))
    assert rules.due_at(at("2026-05-10 19:00"), quiet) == at("2026-05-11 07:00")  # 21:00 local
    assert rules.due_at(at("2026-05-11 07:00"), quiet) == at("2026-05-11 07:00")  # 09:00 local
    assert rules.due_at(at("2026-05-10 18:59"), quiet) == at("2026-05-10 18:59")  # 20:59 local


def test_quiet_hours_within_one_day_end_the_same_day() -> None:
    received = at("2026-05-10 10:30")  # 12:30 in Paris
    due = rules.due_at(received, restaurant(quiet=("12:00", "14:00")))
    assert due == at("2026-05-10 12:00")  # 14:00 in Paris


def test_send_delay_that_lands_in_quiet_hours_waits_for_their_end() -> None:
    received = at("2026-05-10 18:55")  # 20:55 in Paris; ten minutes later it is quiet
    due = rules.due_at(received, restaurant(quiet=("21:00", "09:00"), send_delay_seconds=600))
    assert due == at("2026-05-11 07:00")


def test_quiet_hours_are_read_in_the_restaurant_timezone() -> None:
    received = at("2026-05-10 20:30")  # 05:30 in Tokyo, 16:30 in New York
    quiet = ("21:00", "09:00")
    assert rules.due_at(received, restaurant(timezone="Asia/Tokyo", quiet=quiet)) == at(
        "2026-05-11 00:00"
    )
    assert rules.due_at(received, restaurant(timezone="America/New_York", quiet=quiet)) == received


def test_quiet_hours_ending_after_a_clock_change_use_the_new_offset() -> None:
    # Europe/Paris moves from CET (+1) to CEST (+2) in the night of 2026-03-28 to 03-29.
    received = at("2026-03-28 21:30")  # 22:30 CET
    due = rules.due_at(received, restaurant(quiet=("21:00", "09:00")))
    assert due == at("2026-03-29 07:00")  # 09:00 CEST


def test_quiet_hours_that_start_and_end_at_the_same_time_never_hold_a_message() -> None:
    received = at("2026-05-10 20:30")
    assert rules.due_at(received, restaurant(quiet=("21:00", "21:00"))) == received


# --- template choice and parameters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "has_reservation", "expected"),
    [
        (Direction.INBOUND, False, TemplateType.MISSED_CALL),
        (Direction.INBOUND, True, TemplateType.MISSED_CALL_WITH_RESERVATION),
        (Direction.OUTBOUND, False, TemplateType.CALLBACK_UNANSWERED),
        (Direction.OUTBOUND, True, TemplateType.CALLBACK_UNANSWERED),
    ],
)
def test_template_type_follows_direction_and_reservation(
    direction: Direction, has_reservation: bool, expected: TemplateType
) -> None:
    assert rules.choose_template(direction, has_reservation) is expected


@pytest.mark.parametrize(
    "template_type", [TemplateType.MISSED_CALL, TemplateType.CALLBACK_UNANSWERED]
)
def test_templates_without_reservation_take_only_the_restaurant_name(
    template_type: TemplateType,
) -> None:
    parameters = rules.template_parameters(template_type, restaurant(), "Marie Curie", None, None)
    assert parameters == ["Chez Test"]


def test_reservation_template_takes_name_first_name_local_date_time_and_party_size() -> None:
    parameters = rules.template_parameters(
        TemplateType.MISSED_CALL_WITH_RESERVATION,
        restaurant(),
        "Marie Curie",
        at("2026-05-10 18:30"),
        4,
    )
    assert parameters == ["Chez Test", "Marie", "2026-05-10", "20:30", "4"]


def test_reservation_date_and_time_are_those_of_the_restaurant_timezone() -> None:
    start = at("2026-05-10 22:30")  # already the 11th in Paris, still the 10th in New York
    paris = rules.template_parameters(
        TemplateType.MISSED_CALL_WITH_RESERVATION, restaurant(), "Marie", start, 2
    )
    new_york = rules.template_parameters(
        TemplateType.MISSED_CALL_WITH_RESERVATION,
        restaurant(timezone="America/New_York"),
        "Marie",
        start,
        2,
    )
    assert paris[2:4] == ["2026-05-11", "00:30"]
    assert new_york[2:4] == ["2026-05-10", "18:30"]


@pytest.mark.parametrize(
    ("customer_name", "expected"),
    [
        ("Marie Curie", "Marie"),
        ("  Jean-Pierre   Dupont ", "Jean-Pierre"),
        ("Cher", "Cher"),
        (None, "Ami"),
        ("", "Ami"),
        ("   ", "Ami"),
    ],
)
def test_first_name_is_the_first_word_or_the_restaurant_fallback(
    customer_name: str | None, expected: str
) -> None:
    parameters = rules.template_parameters(
        TemplateType.MISSED_CALL_WITH_RESERVATION,
        restaurant(fallback_first_name="Ami"),
        customer_name,
        at("2026-05-10 18:30"),
        2,
    )
    assert parameters[1] == expected


def test_first_name_is_never_empty_even_without_a_fallback() -> None:
    assert rules.first_name(None, "") == "there"
    assert rules.first_name("  ", "") == "there"


# --- staleness -----------------------------------------------------------------------------------


def test_call_within_the_maximum_age_is_not_stale() -> None:
    now = at("2026-05-10 12:00")
    assert not rules.is_stale(at("2026-05-09 12:01"), now, 24)


def test_call_exactly_as_old_as_the_maximum_age_is_not_stale() -> None:
    now = at("2026-05-10 12:00")
    assert not rules.is_stale(at("2026-05-09 12:00"), now, 24)


def test_call_older_than_the_maximum_age_is_stale() -> None:
    now = at("2026-05-10 12:00")
    assert rules.is_stale(at("2026-05-09 11:59"), now, 24)


def test_maximum_age_may_be_a_fraction_of_an_hour() -> None:
    now = at("2026-05-10 12:00")
    assert rules.is_stale(at("2026-05-10 11:29"), now, 0.5)
    assert not rules.is_stale(at("2026-05-10 11:31"), now, 0.5)


def test_call_reported_ahead_of_the_clock_is_not_stale() -> None:
    now = at("2026-05-10 12:00")
    assert not rules.is_stale(at("2026-05-10 12:03"), now, 24)
