"""The rules of ``POST /apps/api/v1/calls``, in SPEC §6's order: the first that refuses answers.

Beyond SPEC §6 (README): a scheduled call's ``call_id`` is read right after the call type (it can
supply the menu) and ``scheduled_at`` last; outbound calls get the language checks before the 202.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ringback.doors.ccai.bodies import NewCallIn, parse_moment, read_integer
from ringback.doors.ccai.calls import CALL_TYPES, CallKind, CallStatus, possible_e164
from ringback.doors.ccai.errors import bad_request
from ringback.doors.ccai.queries import NewCcaiCall, StoredCcaiCall
from ringback.relay.model import Direction
from ringback.relay.phone import read_number
from ringback.tenancy.ccai_settings import ISO_639_1, CcaiSettings, Menu

INBOUND_MENU_TYPES = frozenset({"ivr_menu", "mobile_menu"})
SCHEDULED_MENU_TYPES = frozenset({"mobile_menu", "web_menu"})

_FIRST_STATUS = {
    CallKind.OUTBOUND: CallStatus.ASSIGNED,
    CallKind.INBOUND: CallStatus.QUEUED,
    CallKind.SCHEDULED: CallStatus.SCHEDULED,
}


class Echo:
    """The request must wait for an agent to choose the outbound number: 202, nothing stored."""


ECHO = Echo()


def call_kind(body: NewCallIn) -> CallKind:
    kind = CALL_TYPES.get(body.call_type) if isinstance(body.call_type, str) else None
    if kind is None:
        raise bad_request("Invalid call type")
    return kind


def parent_reference(body: NewCallIn) -> int | None:
    """The ``call_id`` a scheduled call names (checked before the menu: it may supply it)."""
    if body.call_id is None:
        return None
    call_id = read_integer(body.call_id)
    if call_id is None:
        raise bad_request("call_id is not well formed")
    return call_id


def unknown_parent(call_id: int) -> Exception:
    return bad_request(f"call_id {call_id} is not found")


def plan_create(
    kind: CallKind,
    body: NewCallIn,
    settings: CcaiSettings,
    *,
    restaurant_id: int,
    region: str,
    now: dt.datetime,
    parent: StoredCcaiCall | None,
) -> NewCcaiCall | Echo:
    """Every rule after the call type (and a scheduled call's parent), in order."""
    agent = None
    menu = None
    scheduled_at = None
    if kind is CallKind.OUTBOUND:
        agent = _agent(body, settings)
        raw, ticket_id = _end_user_outbound(body, settings, region)
        lang = _language(body, settings)
        found, outbound_number = settings.outbound_number(_outbound_number(body))
        if not found:
            return ECHO
    else:
        menu = _menu(body, settings, kind, parent)
        lang = _language(body, settings)
        raw, ticket_id = _end_user_inbound(body, settings, region)
        if kind is CallKind.SCHEDULED:
            scheduled_at = _scheduled_at(body, now)
        found, outbound_number = settings.outbound_number(_outbound_number(body))
        if not found:
            outbound_number = settings.default_outbound_number()
    reading = read_number(raw, region)
    return NewCcaiCall(
        restaurant_id=restaurant_id,
        kind=kind.value,
        direction=(Direction.OUTBOUND if kind is CallKind.OUTBOUND else Direction.INBOUND).value,
        caller_raw=raw,
        caller_display=reading.display,
        customer_e164=reading.e164,
        occurred_at=scheduled_at or now,
        created_at=now,
        status=_FIRST_STATUS[kind].value,
        lang=lang,
        menu=menu,
        agent=agent,
        end_user_number=possible_e164(raw, region),
        out_ticket_id=ticket_id,
        outbound_number=outbound_number,
        parent_id=parent.call_id if parent is not None else None,
        queued_at=now if kind is CallKind.INBOUND else None,
        assigned_at=now if kind is CallKind.OUTBOUND else None,
        scheduled_at=scheduled_at,
    )


def _language(body: NewCallIn, settings: CcaiSettings) -> str:
    value = "en" if body.lang is None else body.lang
    code = value.strip().lower() if isinstance(value, str) else ""
    if code not in ISO_639_1:
        raise bad_request(f"Language '{value}' is not found")
    if code not in settings.languages:
        raise bad_request(f"Language '{value}' is not available")
    return code


def _menu(
    body: NewCallIn, settings: CcaiSettings, kind: CallKind, parent: StoredCcaiCall | None
) -> dict[str, Any]:
    """The menu checks; a scheduled call linked to a parent may inherit the parent's menu."""
    if body.menu_id is None:
        inherited = parent.menu if parent is not None else None
        if inherited is None:
            raise bad_request("menu_id is required")
        current = settings.menu(int(inherited["id"]))
        if current is not None:
            _check_state(current)
        return dict(inherited)
    menu_id = read_integer(body.menu_id)
    if menu_id is None:
        raise bad_request("menu_id is not well formed")
    menu = settings.menu(menu_id)
    if menu is None:
        raise bad_request(f"menu_id {menu_id} is not found")
    if kind is CallKind.SCHEDULED:
        if menu.menu_type not in SCHEDULED_MENU_TYPES:
            raise bad_request("Only mobile and web menu IDs are permitted")
    elif menu.menu_type not in INBOUND_MENU_TYPES:
        raise bad_request("Only IVR and mobile menu IDs are permitted")
    _check_state(menu)
    return menu_snapshot(menu, settings)


def _check_state(menu: Menu) -> None:
    if menu.state == "after_hours":
        raise bad_request("Menu is in 'after hours' state, can't accept incoming calls")
    if menu.state == "manual_redirection":
        raise bad_request("Menu is in 'manual redirection' state, can't accept calls")


def menu_snapshot(menu: Menu, settings: CcaiSettings) -> dict[str, Any]:
    """The menu as the call keeps it, whatever later becomes of the restaurant's settings."""
    return {
        "id": menu.id,
        "name": menu.name,
        "menu_type": menu.menu_type,
        "parent_id": menu.parent_id,
        "output_msg": menu.output_msg,
        "position": menu.position,
        "path": [{"id": m.id, "name": m.name} for m in settings.menu_path(menu)],
    }


def _ticket(body: NewCallIn, settings: CcaiSettings) -> tuple[bool, str | None, str | None]:
    """(given, ticket id, the ticket's phone number or None when it does not resolve)."""
    value = body.ticket_id
    if value is None:
        return False, None, None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return True, None, None
    ticket_id = str(value).strip()
    return True, ticket_id, settings.tickets.get(ticket_id)


def _number_text(body: NewCallIn) -> str | None:
    value = body.end_user_number
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and len(value) <= 64 else None


def _end_user_inbound(
    body: NewCallIn, settings: CcaiSettings, region: str
) -> tuple[str, str | None]:
    """(raw number, ticket id) of an inbound or scheduled call."""
    _, ticket_id, ticket_number = _ticket(body, settings)
    if ticket_number is not None:
        if possible_e164(ticket_number, region) is None:
            raise bad_request("end_user_number is not well formed")
        return ticket_number, ticket_id
    if body.end_user_number is None:
        raise bad_request("end_user_number is required")
    raw = _number_text(body)
    if raw is None or possible_e164(raw, region) is None:
        raise bad_request("end_user_number is not well formed")
    if body.ticket_id is not None:
        raise bad_request("Contact not found")
    return raw, None


def _end_user_outbound(
    body: NewCallIn, settings: CcaiSettings, region: str
) -> tuple[str, str | None]:
    given, ticket_id, ticket_number = _ticket(body, settings)
    if not given and body.end_user_number is None:
        raise bad_request("ticket_id or end_user_number required")
    if given:
        if ticket_number is None:
            raise bad_request("Contact not found")
        raw = ticket_number
    else:
        raw = _number_text(body) or ""
    if possible_e164(raw, region) is None:
        raise bad_request("end_user_number is not well-formed")
    return raw, ticket_id if given else None


def _agent(body: NewCallIn, settings: CcaiSettings) -> dict[str, Any]:
    """The agent checks; the call keeps a snapshot of the agent."""
    email = body.agent_email
    if email is None:
        raise bad_request("Agent email required")
    agent = settings.agent(email) if isinstance(email, str) and len(email) <= 320 else None
    if agent is None:
        raise bad_request("Not a valid agent email")
    if not agent.can_call:
        raise bad_request("Agent does not have access to make calls")
    if not agent.available:
        raise bad_request("Agent is not available to take this call")
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.name,
        "first_name": agent.first_name,
        "last_name": agent.last_name,
        "agent_number": agent.agent_number,
        "avatar_url": agent.avatar_url,
    }


def _outbound_number(body: NewCallIn) -> str | None:
    value = body.outbound_number
    if value is None:
        return None
    return value if isinstance(value, str) else ""


def _scheduled_at(body: NewCallIn, now: dt.datetime) -> dt.datetime:
    if body.scheduled_at is None:
        raise bad_request("scheduled_at is required")
    moment = parse_moment(body.scheduled_at, "scheduled_at")
    if moment is None:
        raise bad_request("scheduled_at is not well formed")
    if moment <= now:
        raise bad_request("scheduled_at must be in the future")
    return moment
