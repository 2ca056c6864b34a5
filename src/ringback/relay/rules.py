"""The decision of SPEC §3 as a function of values (``decide``), and the pure rules it and the
outbox use: staleness, template choice and parameters, due time, retries."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from ringback.messages.ports import NewMessage
from ringback.relay.model import (
    CallerFacts,
    CallEvent,
    Claim,
    Direction,
    Outcome,
    TemplateType,
    Verdict,
)
from ringback.relay.phone import NumberVerdict, PhoneReading
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


# --- the decision: SPEC §3, first rule that applies wins -------------------------------------

_NUMBER_RULES = {  # rules 3-5
    NumberVerdict.HIDDEN: Outcome.SKIPPED_HIDDEN_NUMBER,
    NumberVerdict.INVALID: Outcome.SKIPPED_INVALID_NUMBER,
    NumberVerdict.NOT_MOBILE: Outcome.SKIPPED_NOT_MOBILE,
}


def screen(
    restaurant: Restaurant, event: CallEvent, reading: PhoneReading, now: dt.datetime
) -> Outcome | None:
    """Rules 2-7, which need nothing from the database; None when the report passes them (it
    may then reach the cooldown, so its caller's lock is taken). A forced outcome replaces
    rules 3-11."""
    if not restaurant.missed_calls_enabled:
        return Outcome.SKIPPED_FEATURE_DISABLED
    if event.forced_outcome is not None:
        return event.forced_outcome
    if reading.verdict in _NUMBER_RULES:
        return _NUMBER_RULES[reading.verdict]
    if is_stale(event.occurred_at, now, restaurant.max_call_age_hours):
        return Outcome.SKIPPED_STALE
    if not restaurant.whatsapp.can_send:
        return Outcome.SKIPPED_NO_WHATSAPP
    return None


def decide(
    restaurant: Restaurant,
    event: CallEvent,
    reading: PhoneReading,
    facts: CallerFacts | None,
    now: dt.datetime,
) -> Verdict:
    """Rules 2-11 for a missed report; ``facts`` is None only for a hidden or invalid number.

    Rule 1 (the claim) and rule 9 (the cooldown) are the decision statement's: a verdict that
    passes rule 8 carries the window rule 9 checks, so the cooldown overrules rules 10-11 and
    nothing before them (``final_verdict``). The message is due at once or later
    (``due_at``); whether the request sends it itself is not a rule (``RelayService``).
    """
    early = screen(restaurant, event, reading, now)
    if facts is None:
        assert early is not None, "a number that passes rules 3-4 has facts"
        return Verdict(early)
    found = Verdict(Outcome.QUEUED, facts.customer_id, facts.reservation_id)
    if early is not None:
        return _with(found, early)
    if facts.suppressed:
        return _with(found, Outcome.SKIPPED_SUPPRESSED)
    window = dt.timedelta(hours=restaurant.cooldown_hours)
    cooldown = (event.occurred_at - window, event.occurred_at + window)
    template_type = choose_template(event.direction, facts.reservation_id is not None)
    template = restaurant.whatsapp.templates.get(template_type)
    if template is None:
        return _with(found, Outcome.SKIPPED_NO_TEMPLATE, template_type, cooldown)
    assert reading.e164 is not None, "a reachable number has its E.164 form"
    message = NewMessage(
        restaurant_id=restaurant.id,
        customer_id=facts.customer_id,
        to_phone_number=reading.e164,
        template_type=template_type,
        template=template,
        parameters=template_parameters(
            template_type,
            restaurant,
            facts.customer_name,
            facts.reservation_start_at,
            facts.party_size,
        ),
        due_at=due_at(now, restaurant),
    )
    return Verdict(
        Outcome.QUEUED,
        facts.customer_id,
        facts.reservation_id,
        template_type,
        message,
        cooldown,
    )


def _with(
    found: Verdict,
    outcome: Outcome,
    template_type: TemplateType | None = None,
    cooldown: tuple[dt.datetime, dt.datetime] | None = None,
) -> Verdict:
    return Verdict(outcome, found.customer_id, found.reservation_id, template_type, None, cooldown)


def final_verdict(verdict: Verdict, claim: Claim) -> Verdict:
    """The verdict as the decision statement stores it for a report that claimed the call or
    found it decided: rule 1 overrules everything; rule 8, read again under the caller's lock,
    and rule 9 overrule what carries the cooldown window."""
    if claim is Claim.TAKEN:
        return Verdict(Outcome.SKIPPED_DUPLICATE)
    if claim is Claim.SUPPRESSED:
        assert verdict.cooldown is not None, "only a verdict past rule 8 reads it again"
        return Verdict(Outcome.SKIPPED_SUPPRESSED, verdict.customer_id, verdict.reservation_id)
    if claim is Claim.COOLED:
        assert verdict.cooldown is not None, "only a verdict past rule 8 checks the cooldown"
        return Verdict(Outcome.SKIPPED_COOLDOWN, verdict.customer_id, verdict.reservation_id)
    assert claim is Claim.WON, "an open call is not decided"
    return verdict
