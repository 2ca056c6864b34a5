"""A PATCH body is checked in the seed's order, and its move planned once on the locked call."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from ringback.doors.ccai.bodies import CustomerFlagIn, MoveIn, NewCallIn
from ringback.doors.ccai.calls import CallStatus, Ending
from ringback.doors.ccai.moves import plan_move, relay_event
from ringback.doors.ccai.queries import StoredCcaiCall
from ringback.http.errors import ApiError
from ringback.relay.model import Disposition, Outcome

NOW = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)


def queued_call(**changes: Any) -> StoredCcaiCall:
    call = StoredCcaiCall(
        call_id=7,
        restaurant_id=1,
        parent_id=None,
        kind="inbound",
        status="queued",
        lang="en",
        menu=None,
        agent=None,
        end_user_number="+33612345678",
        out_ticket_id=None,
        outbound_number=None,
        fail_reason="nothing",
        deflection="no_deflection",
        voicemail_reason="not_voicemail",
        queued_at=NOW - dt.timedelta(minutes=5),
        assigned_at=None,
        connected_at=None,
        ends_at=None,
        scheduled_at=None,
        current_status="queued",
        created_at=NOW - dt.timedelta(minutes=5),
        updated_at=NOW - dt.timedelta(minutes=5),
        recovered_at=None,
        outcome=None,
        template_type=None,
        caller_raw="+33 6 12 34 56 78",
        customer_id=None,
        customer_verified=None,
        customer_external_id=None,
        message_status=None,
    )
    return dataclasses.replace(call, **changes)


def refusal(body: dict[str, Any]) -> tuple[int, str]:
    with pytest.raises(ApiError) as refused:
        MoveIn.model_validate(body).checked()
    return refused.value.status, refused.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "status is not valid"),
        ({"status": "lost", "fail_reason": "Bad"}, "status is not valid"),
        ({"status": "failed", "fail_reason": "Bad", "ends_at": "soon"}, "fail_reason is not valid"),
        ({"status": "failed", "deflection": 3}, "deflection is not valid"),
        ({"status": "failed", "connected_at": "soon"}, "connected_at is not valid"),
        ({"status": "failed", "ends_at": "1999-12-31T23:59:59Z"}, "ends_at is not valid"),
        ({"status": "failed", "connected_at": "2030-05-01T11:00:00Z"}, "connected_at is not valid"),
        ({"status": "queued", "ends_at": "2030-05-01T11:00:00Z"}, "ends_at is not valid"),
    ],
)
def test_a_move_body_is_refused_by_its_first_field_that_is_not_valid(
    body: dict[str, Any], message: str
) -> None:
    assert refusal(body) == (400, message)


def test_a_blank_create_field_counts_as_absent_and_other_values_are_kept_as_sent() -> None:
    body = NewCallIn.model_validate({"menu_id": "  ", "lang": "FR", "ticket_id": 71450, "x": 1})
    assert (body.menu_id, body.lang, body.ticket_id) == (None, "FR", 71450)


def test_customer_flags_take_booleans_and_both_spellings_of_repeat_customer() -> None:
    flags = CustomerFlagIn.model_validate({"bad_actor": True, "repeat_customers": False})
    assert flags.columns() == {"bad_actor": True, "repeat_customer": False}
    with pytest.raises(ApiError, match="verified_customer is not valid"):
        CustomerFlagIn.model_validate({"verified_customer": "yes", "bad_actor": 1}).columns()


def test_a_missed_ending_stamps_the_end_and_reaches_the_relay_as_missed() -> None:
    move = MoveIn(status="failed", fail_reason="eu_abandoned").checked()
    planned = plan_move(queued_call(), move, NOW)
    assert planned.values == {"status": "failed", "fail_reason": "eu_abandoned", "ends_at": NOW}
    assert planned.ending is Ending.MISSED
    assert planned.moved.status == "failed"
    event = relay_event(planned.moved, planned.ending, NOW)
    assert event is not None
    assert event.disposition is Disposition.MISSED
    assert event.external_id == "7"
    assert event.details == {"ccai_status": "failed", "ccai_fail_reason": "eu_abandoned"}


def test_an_outbound_wrong_number_is_forced_to_an_invalid_number_outcome() -> None:
    call = queued_call(kind="outbound", status="assigned", current_status="assigned")
    move = MoveIn(status="failed", fail_reason="eu_wrong_number").checked()
    planned = plan_move(call, move, NOW)
    event = relay_event(planned.moved, planned.ending, NOW)
    assert event is not None
    assert event.forced_outcome is Outcome.SKIPPED_INVALID_NUMBER


def test_a_move_the_table_does_not_allow_is_a_conflict() -> None:
    call = queued_call(status="finished", current_status="finished")
    with pytest.raises(ApiError) as refused:
        plan_move(call, MoveIn(status="connected").checked(), NOW)
    assert (refused.value.status, refused.value.message) == (
        409,
        "Call cannot move from finished to connected",
    )


def test_an_end_before_the_connect_is_not_valid() -> None:
    call = queued_call(
        status="connected", current_status="connected", connected_at=NOW - dt.timedelta(minutes=1)
    )
    move = MoveIn(status="finished", ends_at="2030-05-01T11:00:00Z").checked()
    with pytest.raises(ApiError, match="ends_at is not valid"):
        plan_move(call, move, NOW)


def test_a_move_that_is_not_an_ending_tells_the_relay_nothing() -> None:
    planned = plan_move(queued_call(), MoveIn(status="assigned").checked(), NOW)
    assert planned.values == {"status": CallStatus.ASSIGNED.value, "assigned_at": NOW}
    assert relay_event(planned.moved, planned.ending, NOW) is None
