"""Pure CCAI rules (SPEC §6): the move table, what a move means for the relay, settings lookups."""

from __future__ import annotations

import pytest

from ringback.admin.ccai_schemas import CcaiIn
from ringback.demo import demo_settings
from ringback.doors.ccai.calls import (
    CallKind,
    CallStatus,
    Ending,
    can_move,
    ending_of,
    possible_e164,
)
from ringback.tenancy.ccai_settings import (
    ISO_639_1,
    OutboundNumber,
    ccai_from_settings,
    ticket_pairs,
)

S = CallStatus


def test_terminal_statuses_move_nowhere() -> None:
    terminal = [S.FINISHED, S.FAILED, S.DEFLECTED, S.VOICEMAIL_READ, S.ACTION_ONLY_FINISHED]
    for status in [*terminal, S.RECOVERED]:
        assert not any(can_move(status, target) for target in CallStatus)


def test_scheduled_moves_like_queued_and_to_queued() -> None:
    for target in (S.QUEUED, S.ASSIGNED, S.CONNECTING, S.CONNECTED, S.DEFLECTED, S.VOICEMAIL):
        assert can_move(S.SCHEDULED, target)
    assert not can_move(S.QUEUED, S.QUEUED)
    assert not can_move(S.SCHEDULED, S.FINISHED)


@pytest.mark.parametrize(
    ("kind", "target", "reason", "connected", "ending"),
    [
        (CallKind.INBOUND, S.FAILED, "eu_abandoned", False, Ending.MISSED),
        (CallKind.INBOUND, S.FAILED, "eu_abandoned", True, Ending.NONE),
        (CallKind.SCHEDULED, S.DEFLECTED, "nothing", False, Ending.MISSED),
        (CallKind.INBOUND, S.VOICEMAIL, "nothing", False, Ending.MISSED),
        (CallKind.INBOUND, S.VOICEMAIL_RECEIVED, "nothing", False, Ending.NONE),
        (CallKind.OUTBOUND, S.FAILED, "eu_busy", False, Ending.MISSED),
        (CallKind.OUTBOUND, S.FAILED, "eu_wrong_number", False, Ending.WRONG_NUMBER),
        (CallKind.OUTBOUND, S.FAILED, "eu_abandoned", False, Ending.NONE),
        (CallKind.OUTBOUND, S.CONNECTED, "nothing", False, Ending.ANSWERED),
        (CallKind.INBOUND, S.FINISHED, "nothing", True, Ending.NONE),
    ],
)
def test_what_a_move_tells_the_relay(
    kind: CallKind, target: CallStatus, reason: str, connected: bool, ending: Ending
) -> None:
    assert ending_of(kind, target, reason, connected) is ending


def test_outbound_number_choice() -> None:
    settings = ccai_from_settings(
        {"outbound_numbers": [{"number": "+1 339-219-5276"}, {"number": "+33184880000"}]}
    )
    assert settings.outbound_number("0033 1 84 88 00 00") == (True, "+33184880000")
    assert settings.outbound_number("+1 760-867-5309") == (False, None)
    assert settings.outbound_number(None) == (False, None)
    with_default = ccai_from_settings(
        {
            "outbound_numbers": [
                {"number": "+33184880000"},
                {"number": "+15005550006", "default": True},
            ]
        }
    )
    assert with_default.outbound_number(None) == (True, "+15005550006")
    assert ccai_from_settings({}).outbound_number(None) == (True, None)
    single = ccai_from_settings({"outbound_numbers": [{"number": "+33184880000"}]})
    assert single.outbound_numbers == (OutboundNumber("+33184880000"),)
    assert single.outbound_number(None) == (True, "+33184880000")


def test_possible_numbers_are_well_formed_even_when_not_valid() -> None:
    assert possible_e164("+1 205-123-4567", "FR") == "+12051234567"
    assert possible_e164("06 12 34 56 78", "FR") == "+33612345678"
    assert possible_e164("123123", "FR") is None
    assert possible_e164("+1 999-657-12", "FR") is None


def test_iso_639_1_has_every_two_letter_code_and_nothing_else() -> None:
    assert len(ISO_639_1) == 183
    assert {"en", "fr", "zh", "ko"} <= ISO_639_1
    assert "xy" not in ISO_639_1


def test_demo_restaurant_ccai_settings_pass_the_admin_checks() -> None:
    ccai = CcaiIn.model_validate(demo_settings()["ccai"])
    assert ccai.languages == ["en", "fr"]
    assert {m.menu_type for m in ccai.menus} == {"ivr_menu", "mobile_menu", "web_menu"}
    assert all(m.state == "open" for m in ccai.menus)
    assert [(a.available, a.can_call) for a in ccai.agents] == [(True, True)]
    assert [n.default for n in ccai.outbound_numbers] == [True]
    assert len(ccai.tickets) == 1


def test_tickets_are_read_as_the_spec_lists_them_and_as_rows_written_before_kept() -> None:
    listed = [{"ticket_id": "T-1", "phone_number": "+33612345678"}]
    assert ticket_pairs(listed) == [("T-1", "+33612345678")]
    assert ticket_pairs({"T-1": "+33612345678"}) == [("T-1", "+33612345678")]
    assert ticket_pairs(None) == []
