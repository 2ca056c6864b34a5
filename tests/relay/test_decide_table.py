"""SPEC §3's decision as a table: one row per rule and per forced outcome, and rows where two
rules apply and the first wins. No database: rules 1 (the claim) and 9 (the cooldown) are what
the decision statement finds (``Claim``), applied by ``final_verdict``, as is rule 8 read again
under the caller's lock."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ringback.relay.model import (
    CallerFacts,
    CallEvent,
    Claim,
    Direction,
    Disposition,
    Outcome,
    Source,
    TemplateType,
)
from ringback.relay.phone import read_number
from ringback.relay.rules import decide, final_verdict
from ringback.tenancy.model import Restaurant, Template, WhatsAppConfig

NOW = dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)
MOBILE = "+33612345678"
LANDLINE = "+33142345678"
TEMPLATES = {kind: Template(kind.lower(), "fr") for kind in TemplateType}
OPEN_RESTAURANT = Restaurant(
    id=1,
    slug="chez-test",
    name="Chez Test",
    country="FR",
    timezone="Europe/Paris",
    whatsapp=WhatsAppConfig("1234567890", "wa-access-token", dict(TEMPLATES)),
)
CUSTOMER = CallerFacts(customer_id=7, customer_name="Jeanne Dupont", suppressed=False)
BOOKED = dataclasses.replace(
    CUSTOMER, reservation_id=9, reservation_start_at=NOW + dt.timedelta(hours=2), party_size=4
)
SUPPRESSED = dataclasses.replace(CUSTOMER, suppressed=True)
NO_TEMPLATES = WhatsAppConfig("1234567890", "wa-access-token", {})
NO_WHATSAPP = WhatsAppConfig(None, None, dict(TEMPLATES))


def restaurant(**changes: object) -> Restaurant:
    return dataclasses.replace(OPEN_RESTAURANT, **changes)  # type: ignore[arg-type]


def missed(
    number: str = MOBILE, age: dt.timedelta = dt.timedelta(0), forced: Outcome | None = None
) -> CallEvent:
    return CallEvent(
        source=Source.PARTNER,
        external_id="call-1",
        direction=Direction.INBOUND,
        disposition=Disposition.MISSED,
        raw_number=number,
        occurred_at=NOW - age,
        forced_outcome=forced,
    )


STALE = dt.timedelta(hours=25)
FORCED_INVALID = Outcome.SKIPPED_INVALID_NUMBER  # Zoho "invalid", CCAI "eu_wrong_number"
FORCED_SUPPRESSED = Outcome.SKIPPED_SUPPRESSED  # Zoho "blocked"

# (why, restaurant, event, facts, what the statement finds, outcome)
ROWS = [
    # one row per rule
    ("1 already decided", OPEN_RESTAURANT, missed(), CUSTOMER, Claim.TAKEN,
     Outcome.SKIPPED_DUPLICATE),
    ("2 feature disabled", restaurant(missed_calls_enabled=False), missed(), CUSTOMER, Claim.WON,
     Outcome.SKIPPED_FEATURE_DISABLED),
    ("3 hidden number", OPEN_RESTAURANT, missed("anonymous"), None, Claim.WON,
     Outcome.SKIPPED_HIDDEN_NUMBER),
    ("4 invalid number", OPEN_RESTAURANT, missed("+3361"), None, Claim.WON,
     Outcome.SKIPPED_INVALID_NUMBER),
    ("5 not a mobile", OPEN_RESTAURANT, missed(LANDLINE), CUSTOMER, Claim.WON,
     Outcome.SKIPPED_NOT_MOBILE),
    ("6 stale", OPEN_RESTAURANT, missed(age=STALE), CUSTOMER, Claim.WON, Outcome.SKIPPED_STALE),
    ("7 no WhatsApp", restaurant(whatsapp=NO_WHATSAPP), missed(), CUSTOMER, Claim.WON,
     Outcome.SKIPPED_NO_WHATSAPP),
    ("8 suppressed", OPEN_RESTAURANT, missed(), SUPPRESSED, Claim.WON, Outcome.SKIPPED_SUPPRESSED),
    ("9 cooldown", OPEN_RESTAURANT, missed(), CUSTOMER, Claim.COOLED, Outcome.SKIPPED_COOLDOWN),
    ("10 no template", restaurant(whatsapp=NO_TEMPLATES), missed(), CUSTOMER, Claim.WON,
     Outcome.SKIPPED_NO_TEMPLATE),
    ("11 enqueued", OPEN_RESTAURANT, missed(), BOOKED, Claim.WON, Outcome.QUEUED),
    # the forced outcomes replace rules 3-11
    ("forced invalid on a valid mobile", OPEN_RESTAURANT, missed(forced=FORCED_INVALID), CUSTOMER,
     Claim.WON, Outcome.SKIPPED_INVALID_NUMBER),
    ("forced suppressed on a hidden number", OPEN_RESTAURANT,
     missed("private", forced=FORCED_SUPPRESSED), None, Claim.WON, Outcome.SKIPPED_SUPPRESSED),
    ("forced outcome over a stale landline", OPEN_RESTAURANT,
     missed(LANDLINE, STALE, forced=FORCED_INVALID), CUSTOMER, Claim.WON,
     Outcome.SKIPPED_INVALID_NUMBER),
    # ... but rules 1-2 still apply
    ("1 over a forced outcome", OPEN_RESTAURANT, missed(forced=FORCED_SUPPRESSED), CUSTOMER,
     Claim.TAKEN, Outcome.SKIPPED_DUPLICATE),
    ("2 over a forced outcome", restaurant(missed_calls_enabled=False),
     missed(forced=FORCED_INVALID), CUSTOMER, Claim.WON, Outcome.SKIPPED_FEATURE_DISABLED),
    # first that applies wins
    ("1 over 2", restaurant(missed_calls_enabled=False), missed(), CUSTOMER, Claim.TAKEN,
     Outcome.SKIPPED_DUPLICATE),
    ("2 over 3", restaurant(missed_calls_enabled=False), missed("unknown"), None, Claim.WON,
     Outcome.SKIPPED_FEATURE_DISABLED),
    ("3 over 6", OPEN_RESTAURANT, missed("restricted", STALE), None, Claim.WON,
     Outcome.SKIPPED_HIDDEN_NUMBER),
    ("5 over 6", OPEN_RESTAURANT, missed(LANDLINE, STALE), CUSTOMER, Claim.WON,
     Outcome.SKIPPED_NOT_MOBILE),
    ("6 over 7", restaurant(whatsapp=NO_WHATSAPP), missed(age=STALE), CUSTOMER, Claim.WON,
     Outcome.SKIPPED_STALE),
    ("7 over 8", restaurant(whatsapp=NO_WHATSAPP), missed(), SUPPRESSED, Claim.WON,
     Outcome.SKIPPED_NO_WHATSAPP),
    ("8 over 9: a suppressed caller never checks the cooldown", OPEN_RESTAURANT, missed(),
     SUPPRESSED, Claim.WON, Outcome.SKIPPED_SUPPRESSED),
    ("9 over 10", restaurant(whatsapp=NO_TEMPLATES), missed(), CUSTOMER, Claim.COOLED,
     Outcome.SKIPPED_COOLDOWN),
    # rule 8 read again under the caller's lock: an opt-out after the match still wins
    ("8 under the lock over 11", OPEN_RESTAURANT, missed(), BOOKED, Claim.SUPPRESSED,
     Outcome.SKIPPED_SUPPRESSED),
    ("8 under the lock over 10", restaurant(whatsapp=NO_TEMPLATES), missed(), CUSTOMER,
     Claim.SUPPRESSED, Outcome.SKIPPED_SUPPRESSED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("restaurant_", "event", "facts", "claim", "outcome"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_the_first_rule_that_applies_decides(
    restaurant_: Restaurant,
    event: CallEvent,
    facts: CallerFacts | None,
    claim: Claim,
    outcome: Outcome,
) -> None:
    reading = read_number(event.raw_number, restaurant_.country)
    verdict = decide(restaurant_, event, reading, facts, NOW)
    assert final_verdict(verdict, claim).outcome is outcome


def test_only_a_verdict_past_rule_8_carries_the_cooldown_window() -> None:
    passed = decide(OPEN_RESTAURANT, missed(), read_number(MOBILE, "FR"), CUSTOMER, NOW)
    suppressed = decide(OPEN_RESTAURANT, missed(), read_number(MOBILE, "FR"), SUPPRESSED, NOW)
    six_hours = dt.timedelta(hours=6)
    assert passed.cooldown == (NOW - six_hours, NOW + six_hours)
    assert suppressed.cooldown is None


def test_an_enqueued_verdict_carries_its_message_and_the_matched_customer() -> None:
    verdict = decide(OPEN_RESTAURANT, missed(), read_number(MOBILE, "FR"), BOOKED, NOW)
    assert (verdict.customer_id, verdict.reservation_id) == (7, 9)
    assert verdict.template_type is TemplateType.MISSED_CALL_WITH_RESERVATION
    assert verdict.message is not None
    assert verdict.message.to_phone_number == MOBILE
    assert verdict.message.due_at == NOW
    assert list(verdict.message.parameters) == ["Chez Test", "Jeanne", "2026-05-10", "16:00", "4"]


def test_a_cooled_verdict_keeps_the_customer_and_drops_template_and_message() -> None:
    verdict = decide(OPEN_RESTAURANT, missed(), read_number(MOBILE, "FR"), BOOKED, NOW)
    cooled = final_verdict(verdict, Claim.COOLED)
    assert (cooled.customer_id, cooled.reservation_id) == (7, 9)
    assert (cooled.template_type, cooled.message) == (None, None)


def test_a_forced_outcome_keeps_the_matched_customer() -> None:
    event = missed(forced=FORCED_SUPPRESSED)
    verdict = decide(OPEN_RESTAURANT, event, read_number(MOBILE, "FR"), BOOKED, NOW)
    assert (verdict.outcome, verdict.customer_id, verdict.message) == (
        Outcome.SKIPPED_SUPPRESSED,
        7,
        None,
    )
