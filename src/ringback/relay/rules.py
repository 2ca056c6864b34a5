"""The pure parts of the decision (SPEC §3): staleness, template choice, due time, retries."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from ringback.relay.model import Direction, TemplateType
from ringback.tenancy.model import QuietHours, Restaurant

# WhatsApp error codes that are worth retrying (SPEC §3, delivery).
TRANSIENT_PROVIDER_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004})
MAX_BACKOFF_SECONDS = 300.0
RESERVATION_LOOKBACK = dt.timedelta(hours=1)
RESERVATION_LOOKAHEAD = dt.timedelta(days=30)
RECOVERY_WINDOW = dt.timedelta(hours=24)


def is_stale(occurred_at: dt.datetime, now: dt.datetime, max_age_hours: float) -> bool:
    return occurred_at < now - dt.timedelta(hours=max_age_hours)


def choose_template(direction: Direction, has_reservation: bool) -> TemplateType:
    if direction is Direction.OUTBOUND:
        return TemplateType.CALLBACK_UNANSWERED
    if has_reservation:
        return TemplateType.MISSED_CALL_WITH_RESERVATION
    return TemplateType.MISSED_CALL


def first_name(customer_name: str | None, fallback: str) -> str:
    words = (customer_name or "").split()
    return words[0] if words else (fallback or "there")


def template_parameters(
    template_type: TemplateType,
    restaurant: Restaurant,
    customer_name: str | None,
    reservation_start: dt.datetime | None,
    party_size: int | None,
) -> list[str]:
    """The body parameters, in order, for the template type (SPEC §3, message)."""
    if template_type is not TemplateType.MISSED_CALL_WITH_RESERVATION:
        return [restaurant.name]
    assert reservation_start is not None
    local = reservation_start.astimezone(ZoneInfo(restaurant.timezone))
    return [
        restaurant.name,
        first_name(customer_name, restaurant.whatsapp.fallback_first_name),
        local.strftime("%Y-%m-%d"),
        local.strftime("%H:%M"),
        str(party_size if party_size is not None else ""),
    ]


def _inside(quiet: QuietHours, moment: dt.time) -> bool:
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= moment < quiet.end
    return moment >= quiet.start or moment < quiet.end


def due_at(received_at: dt.datetime, restaurant: Restaurant) -> dt.datetime:
    """When the message may go: after the send delay, and never inside quiet hours."""
    due = received_at + dt.timedelta(seconds=restaurant.send_delay_seconds)
    quiet = restaurant.quiet_hours
    if quiet is None:
        return due
    tz = ZoneInfo(restaurant.timezone)
    local = due.astimezone(tz)
    if not _inside(quiet, local.time().replace(tzinfo=None)):
        return due
    end_day = local.date()
    if quiet.start > quiet.end and local.time().replace(tzinfo=None) >= quiet.start:
        end_day = end_day + dt.timedelta(days=1)
    end_local = dt.datetime.combine(end_day, quiet.end, tzinfo=tz)
    return end_local.astimezone(dt.UTC)


def is_transient(http_status: int | None, error_code: int | None) -> bool:
    """Network errors and timeouts (no status), HTTP 5xx and the listed codes are transient."""
    if error_code is not None and error_code in TRANSIENT_PROVIDER_CODES:
        return True
    if http_status is None:
        return True
    return http_status >= 500


def backoff_seconds(attempts: int, base: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with equal jitter: half the step fixed, half random, capped at 300 s."""
    step: float = min(MAX_BACKOFF_SECONDS, base * 2.0 ** max(0, attempts - 1))
    # jitter spreads retries; it guards nothing, so a non-cryptographic generator is right
    pick = rng.random() if rng is not None else random.random()  # noqa: S311
    return step / 2 + pick * step / 2
