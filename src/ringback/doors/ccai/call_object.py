"""The CCAI call object and customer flags as the wire shows them (SPEC §6)."""

from __future__ import annotations

import datetime as dt

from ringback.doors.ccai.calls import CallKind
from ringback.doors.ccai.queries import CustomerFlags, StoredCcaiCall
from ringback.doors.ccai.schemas import (
    AgentInfoOut,
    CallOut,
    CustomerFlagOut,
    EndUserOut,
    MenuPathOut,
    MissedCallOut,
    OfferEventOut,
    ParticipantOut,
    SelectedMenuOut,
)
from ringback.http.formats import as_utc, iso_z
from ringback.tenancy.ccai_settings import CcaiSettings


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((as_utc(end) - as_utc(start)).total_seconds()))


def _participant_status(connected: bool, ended: bool) -> str:
    if ended:
        return "finished" if connected else "failed"
    return "connected" if connected else "waiting"


def call_out(call: StoredCcaiCall, settings: CcaiSettings) -> CallOut:
    """The call object of the seed, key for key (SPEC §6)."""
    kind = CallKind(call.kind)
    call_id = call.call_id
    connected_at = call.connected_at
    ends_at = call.ends_at
    start = call.queued_at or call.assigned_at or call.scheduled_at or call.created_at
    menu = call.menu
    agent = call.agent
    status = _participant_status(connected_at is not None, ends_at is not None)
    fail_reason = call.fail_reason if status == "failed" else "nothing"

    def participant(kind_name: str, number: int, user_id: int | None) -> ParticipantOut:
        return ParticipantOut(
            id=number,
            type=kind_name,
            status=status,
            call_id=call_id,
            user_id=user_id,
            end_user_id=call.customer_id if kind_name == "end_user" else None,
            call_duration=_seconds(connected_at, ends_at),
            hold_duration=0 if connected_at is not None else None,
            connected_at=iso_z(connected_at),
            ended_at=iso_z(ends_at),
            fail_reason=fail_reason,
        )

    participants = []
    if agent is not None:
        participants.append(participant("agent", 2 * call_id, int(agent["id"])))
    participants.append(participant("end_user", 2 * call_id + 1, None))
    path = menu.get("path") or [] if menu else []
    return CallOut(
        id=call_id,
        parent_id=call.parent_id,
        lang=call.lang,
        call_type=kind.call_type,
        status=call.current_status,
        created_at=iso_z(call.created_at) or "",
        updated_at=iso_z(call.updated_at) or "",
        queued_at=iso_z(call.queued_at),
        assigned_at=iso_z(call.assigned_at),
        connected_at=iso_z(connected_at),
        ends_at=iso_z(ends_at),
        scheduled_at=iso_z(call.scheduled_at),
        wait_duration=_seconds(start, connected_at or ends_at) or 0,
        call_duration=_seconds(connected_at, ends_at) or 0,
        hold_duration=0,
        rating=None,
        has_feedback=False,
        voip_provider=None,
        out_ticket_id=call.out_ticket_id,
        out_ticket_url=None,
        verified=bool(call.customer_verified),
        recording_url=None,
        recording_permission="not_asked",
        voicemail_reason=call.voicemail_reason,
        deflection=call.deflection,
        deflection_details=[],
        disconnected_by="disconnected_by_unknown",
        fail_reason=call.fail_reason,
        fail_details=None,
        support_number=None,
        answer_type="manual",
        offer_type=None if kind is CallKind.OUTBOUND else "cascade",
        offer_events=(
            [OfferEventOut(casting_time=iso_z(call.queued_at), group=menu["name"])]
            if menu and call.queued_at is not None
            else []
        ),
        outbound_number=call.outbound_number,
        selected_menu=(
            SelectedMenuOut(
                id=menu["id"],
                name=menu["name"],
                parent_id=menu.get("parent_id"),
                position=int(menu.get("position") or 0),
                deleted=settings.menu(int(menu["id"])) is None,
                hidden=False,
                menu_type=menu["menu_type"],
                output_msg=menu.get("output_msg"),
            )
            if menu
            else None
        ),
        menu_path=(
            MenuPathOut(
                items_count=len(path),
                name=" / ".join(str(p["name"]) for p in path),
                materialized_path="/".join(str(p["id"]) for p in path),
            )
            if menu
            else None
        ),
        agent_info=(
            AgentInfoOut(
                id=agent["id"],
                name=agent["name"],
                last_name=agent.get("last_name"),
                first_name=agent.get("first_name"),
                agent_number=agent.get("agent_number"),
                avatar_url=agent.get("avatar_url"),
            )
            if agent
            else None
        ),
        end_user=(
            EndUserOut(
                id=call.customer_id, identifier=None, out_contact_id=call.customer_external_id
            )
            if call.customer_id is not None
            else None
        ),
        photos=[],
        videos=[],
        transfers=[],
        participants=participants,
        end_user_number=call.end_user_number,
        missed_call=(
            MissedCallOut(
                outcome=call.outcome,
                template_type=call.template_type,
                message_status=call.message_status,
            )
            if call.outcome
            else None
        ),
    )


def flags_out(flags: CustomerFlags) -> CustomerFlagOut:
    repeat = flags.repeat_customer
    return CustomerFlagOut(
        verified_customer=bool(flags.verified),
        bad_actor=bool(flags.bad_actor),
        repeat_customer=bool(flags.has_history) if repeat is None else bool(repeat),
    )
