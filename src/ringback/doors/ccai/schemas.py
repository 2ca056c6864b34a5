"""Wire models of the CCAI call API: the call object of the seed, key for key (SPEC §6)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SelectedMenuOut(BaseModel):
    id: int
    name: str
    parent_id: int | None
    position: int
    deleted: bool
    hidden: bool
    menu_type: str
    output_msg: str | None


class MenuPathOut(BaseModel):
    items_count: int
    name: str
    materialized_path: str


class AgentInfoOut(BaseModel):
    id: int
    name: str
    last_name: str | None
    first_name: str | None
    agent_number: str | None
    avatar_url: str | None


class EndUserOut(BaseModel):
    id: int
    identifier: str | None
    out_contact_id: str | None


class ParticipantOut(BaseModel):
    id: int
    type: str
    status: str
    call_id: int
    user_id: int | None
    end_user_id: int | None
    call_duration: int | None
    hold_duration: int | None
    connected_at: str | None
    ended_at: str | None
    fail_reason: str


class OfferEventOut(BaseModel):
    casting_time: str | None
    group: str


class MissedCallOut(BaseModel):
    outcome: str
    template_type: str | None
    message_status: str | None


class CallOut(BaseModel):
    """Every key of the seed's call objects (its typos left out) plus ``updated_at``,
    ``end_user_number`` and ``missed_call``."""

    id: int
    parent_id: int | None
    lang: str
    call_type: str
    status: str
    created_at: str
    updated_at: str
    queued_at: str | None
    assigned_at: str | None
    connected_at: str | None
    ends_at: str | None
    scheduled_at: str | None
    wait_duration: int
    call_duration: int
    hold_duration: int
    rating: int | None
    has_feedback: bool
    voip_provider: str | None
    out_ticket_id: str | None
    out_ticket_url: str | None
    verified: bool
    recording_url: str | None
    recording_permission: str
    voicemail_reason: str
    deflection: str
    deflection_details: list[dict[str, Any]]
    disconnected_by: str
    fail_reason: str
    fail_details: str | None
    support_number: str | None
    answer_type: str
    offer_type: str | None
    offer_events: list[OfferEventOut]
    outbound_number: str | None
    selected_menu: SelectedMenuOut | None
    menu_path: MenuPathOut | None
    agent_info: AgentInfoOut | None
    end_user: EndUserOut | None
    photos: list[dict[str, Any]]
    videos: list[dict[str, Any]]
    transfers: list[dict[str, Any]]
    participants: list[ParticipantOut]
    end_user_number: str | None = Field(description="E.164")
    missed_call: MissedCallOut | None


class CustomerFlagOut(BaseModel):
    verified_customer: bool
    bad_actor: bool
    repeat_customer: bool


class OrganizationOut(BaseModel):
    name: str
    subdomain: str


class MessageOut(BaseModel):
    message: str


CREATE_EXAMPLES: dict[str, Any] = {
    "outbound": {
        "summary": "Outbound call to an end-user number",
        "value": {
            "call_type": "Voice Outbound (API)",
            "agent_email": "agent@example.com",
            "end_user_number": "+33 6 12 34 56 78",
            "outbound_number": "+33 1 84 88 00 00",
            "lang": "en",
        },
    },
    "inbound": {
        "summary": "Incoming call on an IVR menu",
        "value": {
            "call_type": "Voice Inbound (API)",
            "lang": "en",
            "menu_id": 1,
            "end_user_number": "+33 6 12 34 56 78",
            "recording_permission": "recording_permission_granted",
        },
    },
    "scheduled": {
        "summary": "Scheduled callback linked to an earlier call",
        "value": {
            "call_type": "Voice Scheduled (API)",
            "lang": "en",
            "call_id": 514,
            "end_user_number": "+33 6 12 34 56 78",
            "scheduled_at": "2030-09-15T00:19:14.421Z",
        },
    },
}

MOVE_EXAMPLES: dict[str, Any] = {
    "missed": {
        "summary": "The caller hung up",
        "value": {"status": "failed", "fail_reason": "eu_abandoned"},
    },
    "connected": {"summary": "An agent picked up", "value": {"status": "connected"}},
    "unanswered": {
        "summary": "Outbound call not answered",
        "value": {"status": "failed", "fail_reason": "eu_no_answer"},
    },
}
