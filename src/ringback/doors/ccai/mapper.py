"""CCAI wire <-> domain: create rules in SPEC §6's order, moves, the call object, list queries."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from ringback.doors.ccai.calls import (
    CALL_TYPES,
    ENDING_STATUSES,
    ISO_639_1,
    CallKind,
    CallStatus,
    CcaiSettings,
    Ending,
    Menu,
    can_move,
    ending_of,
    possible_e164,
)
from ringback.doors.ccai.errors import bad_request, conflict, not_valid
from ringback.doors.ccai.queries import CallQuery, NewCcaiCall
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
from ringback.http.formats import BIGINT_MAX, as_utc, iso_z, parse_id
from ringback.http.inputs import in_client_range, usable_stored
from ringback.relay.model import CallEvent, Direction, Disposition, Outcome, Source
from ringback.relay.phone import read_number

MAX_ID = BIGINT_MAX
_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_TEXT = 128

INBOUND_MENU_TYPES = frozenset({"ivr_menu", "mobile_menu"})
SCHEDULED_MENU_TYPES = frozenset({"mobile_menu", "web_menu"})


class Echo:
    """The request must wait for an agent to choose the outbound number: 202, nothing stored."""


ECHO = Echo()


# --- create -------------------------------------------------------------------------------------


def _given(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    return value is not None and not (isinstance(value, str) and not value.strip())


def _integer(value: Any) -> int | None:
    """An id as CCAI sends it (a JSON integer; a string of ASCII digits is read too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_id(value.strip())
    return None


def call_kind(body: Mapping[str, Any]) -> CallKind:
    call_type = body.get("call_type")
    kind = CALL_TYPES.get(call_type) if isinstance(call_type, str) else None
    if kind is None:
        raise bad_request("Invalid call type")
    return kind


def parent_reference(body: Mapping[str, Any]) -> int | None:
    """The ``call_id`` a scheduled call names (checked before the menu: it may supply it)."""
    if not _given(body, "call_id"):
        return None
    call_id = _integer(body["call_id"])
    if call_id is None:
        raise bad_request("call_id is not well formed")
    return call_id


def unknown_parent(call_id: int) -> Exception:
    return bad_request(f"call_id {call_id} is not found")


def _language(body: Mapping[str, Any], settings: CcaiSettings) -> str:
    value = body.get("lang")
    if value is None or (isinstance(value, str) and not value.strip()):
        value = "en"
    code = value.strip().lower() if isinstance(value, str) else ""
    if code not in ISO_639_1:
        raise bad_request(f"Language '{value}' is not found")
    if code not in settings.languages:
        raise bad_request(f"Language '{value}' is not available")
    return code


def _menu(
    body: Mapping[str, Any],
    settings: CcaiSettings,
    kind: CallKind,
    parent: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The menu checks; a scheduled call linked to a parent may inherit the parent's menu."""
    if not _given(body, "menu_id"):
        inherited = parent.get("menu") if parent is not None else None
        if inherited is None:
            raise bad_request("menu_id is required")
        current = settings.menu(int(inherited["id"]))
        if current is not None:
            _check_state(current)
        return dict(inherited)
    menu_id = _integer(body["menu_id"])
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


def _ticket(body: Mapping[str, Any], settings: CcaiSettings) -> tuple[bool, str | None, str | None]:
    """(given, ticket id, the ticket's phone number or None when it does not resolve)."""
    if not _given(body, "ticket_id"):
        return False, None, None
    value = body["ticket_id"]
    if isinstance(value, bool) or not isinstance(value, str | int):
        return True, None, None
    ticket_id = str(value).strip()
    return True, ticket_id, settings.tickets.get(ticket_id)


def _number_text(body: Mapping[str, Any]) -> str | None:
    value = body.get("end_user_number")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and len(value) <= 64 else None


def _end_user_inbound(
    body: Mapping[str, Any], settings: CcaiSettings, region: str
) -> tuple[str, str | None]:
    """(raw number, ticket id) of an inbound or scheduled call."""
    _, ticket_id, ticket_number = _ticket(body, settings)
    if ticket_number is not None:
        if possible_e164(ticket_number, region) is None:
            raise bad_request("end_user_number is not well formed")
        return ticket_number, ticket_id
    if not _given(body, "end_user_number"):
        raise bad_request("end_user_number is required")
    raw = _number_text(body)
    if raw is None or possible_e164(raw, region) is None:
        raise bad_request("end_user_number is not well formed")
    if _given(body, "ticket_id"):
        raise bad_request("Contact not found")
    return raw, None


def _end_user_outbound(
    body: Mapping[str, Any], settings: CcaiSettings, region: str
) -> tuple[str, str | None]:
    given, ticket_id, ticket_number = _ticket(body, settings)
    if not given and not _given(body, "end_user_number"):
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


def _agent(body: Mapping[str, Any], settings: CcaiSettings) -> dict[str, Any]:
    if not _given(body, "agent_email"):
        raise bad_request("Agent email required")
    email = body["agent_email"]
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


def _outbound_number(body: Mapping[str, Any]) -> str | None:
    value = body.get("outbound_number")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value if isinstance(value, str) else ""


def _scheduled_at(body: Mapping[str, Any], now: dt.datetime) -> dt.datetime:
    if not _given(body, "scheduled_at"):
        raise bad_request("scheduled_at is required")
    moment = parse_moment(body["scheduled_at"], "scheduled_at")
    if moment is None:
        raise bad_request("scheduled_at is not well formed")
    if moment <= now:
        raise bad_request("scheduled_at must be in the future")
    return moment


def parse_moment(value: Any, field: str) -> dt.datetime | None:
    """ISO-8601; a date-time without an offset is read as UTC (SPEC §3). None when unreadable;
    outside the client range, ``<field> is not valid`` (checked before the conversion to UTC,
    which overflows at the ends of the calendar)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if not in_client_range(moment):
        raise not_valid(field)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def plan_create(
    kind: CallKind,
    body: Mapping[str, Any],
    settings: CcaiSettings,
    *,
    restaurant_id: int,
    region: str,
    now: dt.datetime,
    parent: Mapping[str, Any] | None,
) -> NewCcaiCall | Echo:
    """Every rule of ``POST /apps/api/v1/calls`` after the call type, in SPEC §6's order."""
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
        status={
            CallKind.OUTBOUND: CallStatus.ASSIGNED,
            CallKind.INBOUND: CallStatus.QUEUED,
            CallKind.SCHEDULED: CallStatus.SCHEDULED,
        }[kind].value,
        lang=lang,
        menu=menu,
        agent=agent,
        end_user_number=possible_e164(raw, region),
        out_ticket_id=ticket_id,
        outbound_number=outbound_number,
        parent_id=int(parent["call_id"]) if parent is not None else None,
        queued_at=now if kind is CallKind.INBOUND else None,
        assigned_at=now if kind is CallKind.OUTBOUND else None,
        scheduled_at=scheduled_at,
    )


# --- moves --------------------------------------------------------------------------------------


class MovePlan:
    """A validated ``PATCH /apps/api/v1/calls/{id}`` body; called on the locked row to move it."""

    def __init__(self, body: Mapping[str, Any], now: dt.datetime) -> None:
        status = body.get("status")
        if not isinstance(status, str) or status not in CallStatus.__members__.values():
            raise not_valid("status")
        self.target = CallStatus(status)
        self.reasons: dict[str, str] = {}
        for field in ("fail_reason", "deflection", "voicemail_reason"):
            value = body.get(field)
            if value is None:
                continue
            if not isinstance(value, str) or not _TOKEN.match(value):
                raise not_valid(field)
            self.reasons[field] = value
        self.connected_at = self._moment(body, "connected_at")
        self.ends_at = self._moment(body, "ends_at")
        if self.connected_at is not None and self.target is not CallStatus.CONNECTED:
            raise not_valid("connected_at")
        if self.ends_at is not None and self.target not in ENDING_STATUSES:
            raise not_valid("ends_at")
        self.now = now
        self.ending = Ending.NONE
        self.row: dict[str, Any] = {}

    @staticmethod
    def _moment(body: Mapping[str, Any], field: str) -> dt.datetime | None:
        if body.get(field) is None:
            return None
        moment = parse_moment(body[field], field)
        if moment is None:
            raise not_valid(field)
        return moment

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        current = CallStatus(row["current_status"])
        if not can_move(current, self.target):
            raise conflict(f"Call cannot move from {current.value} to {self.target.value}")
        values: dict[str, Any] = {"status": self.target.value, **self.reasons}
        target = self.target
        if target is CallStatus.QUEUED and row["queued_at"] is None:
            values["queued_at"] = self.now
        if target is CallStatus.ASSIGNED and row["assigned_at"] is None:
            values["assigned_at"] = self.now
        # stored: may be a naive -infinity/infinity written by older code, compared as UTC
        connected_at = as_utc(row["connected_at"]) if row["connected_at"] is not None else None
        if target is CallStatus.CONNECTED and connected_at is None:
            connected_at = values["connected_at"] = self.connected_at or self.now
        if target in ENDING_STATUSES and row["ends_at"] is None:
            ends_at = self.ends_at or self.now
            if connected_at is not None and ends_at < connected_at:
                raise not_valid("ends_at")
            values["ends_at"] = ends_at
        fail_reason = self.reasons.get("fail_reason", row["fail_reason"])
        self.ending = ending_of(
            CallKind(row["kind"]), target, fail_reason, row["connected_at"] is not None
        )
        self.row = {**row, **values}
        return values


def relay_event(row: Mapping[str, Any], ending: Ending, now: dt.datetime) -> CallEvent | None:
    """What the relay hears of a move: missed, answered, or nothing (SPEC §6). Its time is the
    call's (SPEC §3); a stored time outside the client range (older code) gives way to the next,
    down to ``now``, so such a call can still be moved."""
    if ending is Ending.NONE:
        return None
    kind = CallKind(row["kind"])
    answered = ending is Ending.ANSWERED
    scheduled_at = row["scheduled_at"] if kind is CallKind.SCHEDULED else None
    occurred_at = usable_stored(scheduled_at) or usable_stored(row["created_at"]) or now
    return CallEvent(
        source=Source.CCAI,
        external_id=str(row["call_id"]),
        direction=Direction.OUTBOUND if kind is CallKind.OUTBOUND else Direction.INBOUND,
        disposition=Disposition.ANSWERED if answered else Disposition.MISSED,
        raw_number=row["caller_raw"],
        occurred_at=occurred_at,
        forced_outcome=Outcome.SKIPPED_INVALID_NUMBER if ending is Ending.WRONG_NUMBER else None,
        details={"ccai_status": row["status"], "ccai_fail_reason": row["fail_reason"]},
        recovers_call_id=row["parent_id"] if answered and kind is CallKind.SCHEDULED else None,
    )


# --- the call object ----------------------------------------------------------------------------


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((as_utc(end) - as_utc(start)).total_seconds()))


def _participant_status(connected: bool, ended: bool) -> str:
    if ended:
        return "finished" if connected else "failed"
    return "connected" if connected else "waiting"


def call_out(row: Mapping[str, Any], settings: CcaiSettings) -> CallOut:
    kind = CallKind(row["kind"])
    call_id = int(row["call_id"])
    connected_at: dt.datetime | None = row["connected_at"]
    ends_at: dt.datetime | None = row["ends_at"]
    start = row["queued_at"] or row["assigned_at"] or row["scheduled_at"] or row["created_at"]
    menu = row["menu"]
    agent = row["agent"]
    status = _participant_status(connected_at is not None, ends_at is not None)
    fail_reason = row["fail_reason"] if status == "failed" else "nothing"

    def participant(kind_name: str, number: int, user_id: int | None) -> ParticipantOut:
        return ParticipantOut(
            id=number,
            type=kind_name,
            status=status,
            call_id=call_id,
            user_id=user_id,
            end_user_id=row["customer_id"] if kind_name == "end_user" else None,
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
        parent_id=row["parent_id"],
        lang=row["lang"],
        call_type=kind.call_type,
        status=row["current_status"],
        created_at=iso_z(row["created_at"]) or "",
        updated_at=iso_z(row["updated_at"]) or "",
        queued_at=iso_z(row["queued_at"]),
        assigned_at=iso_z(row["assigned_at"]),
        connected_at=iso_z(connected_at),
        ends_at=iso_z(ends_at),
        scheduled_at=iso_z(row["scheduled_at"]),
        wait_duration=_seconds(start, connected_at or ends_at) or 0,
        call_duration=_seconds(connected_at, ends_at) or 0,
        hold_duration=0,
        rating=None,
        has_feedback=False,
        voip_provider=None,
        out_ticket_id=row["out_ticket_id"],
        out_ticket_url=None,
        verified=bool(row["customer_verified"]),
        recording_url=None,
        recording_permission="not_asked",
        voicemail_reason=row["voicemail_reason"],
        deflection=row["deflection"],
        deflection_details=[],
        disconnected_by="disconnected_by_unknown",
        fail_reason=row["fail_reason"],
        fail_details=None,
        support_number=None,
        answer_type="manual",
        offer_type=None if kind is CallKind.OUTBOUND else "cascade",
        offer_events=(
            [OfferEventOut(casting_time=iso_z(row["queued_at"]), group=menu["name"])]
            if menu and row["queued_at"] is not None
            else []
        ),
        outbound_number=row["outbound_number"],
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
                id=row["customer_id"], identifier=None, out_contact_id=row["customer_external_id"]
            )
            if row["customer_id"] is not None
            else None
        ),
        photos=[],
        videos=[],
        transfers=[],
        participants=participants,
        end_user_number=row["end_user_number"],
        missed_call=(
            MissedCallOut(
                outcome=row["outcome"],
                template_type=row["template_type"],
                message_status=row["message_status"],
            )
            if row["outcome"]
            else None
        ),
    )


# --- customer flags -----------------------------------------------------------------------------


def flags_out(row: Mapping[str, Any]) -> CustomerFlagOut:
    repeat = row["repeat_customer"]
    return CustomerFlagOut(
        verified_customer=bool(row["verified"]),
        bad_actor=bool(row["bad_actor"]),
        repeat_customer=bool(row["has_history"]) if repeat is None else bool(repeat),
    )


def flag_values(body: Mapping[str, Any]) -> dict[str, bool]:
    """The customer columns a ``customer_flag`` PATCH sets (both spellings of repeat customer)."""
    fields = {
        "verified_customer": "verified",
        "bad_actor": "bad_actor",
        "repeat_customer": "repeat_customer",
        "repeat_customers": "repeat_customer",
    }
    values: dict[str, bool] = {}
    for wire, column in fields.items():
        if wire not in body or body[wire] is None:
            continue
        if not isinstance(body[wire], bool):
            raise not_valid(wire)
        values[column] = body[wire]
    return values


# --- list query ---------------------------------------------------------------------------------

_SORT_COLUMNS = frozenset({"created_at", "updated_at", "id"})
_STATUSES = frozenset(s.value for s in CallStatus)


def _positive(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = _integer(raw)
    if value is None or value < 1:
        raise not_valid(name)
    return value


def _moment_param(params: Mapping[str, str], name: str) -> dt.datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    # an unencoded "+" of an offset arrives as a space
    moment = parse_moment(raw.replace(" ", "+"), name)
    if moment is None:
        raise not_valid(name)
    return moment


def list_query(params: Mapping[str, str]) -> CallQuery:
    """``GET /manager/api/v1/calls`` query; unknown parameters are ignored."""
    page = _positive(params, "page", 1)
    per = min(_positive(params, "per", 100), 100)
    if page > MAX_ID // per:
        raise not_valid("page")
    sort_column = params.get("sort_column") or "id"
    if sort_column not in _SORT_COLUMNS:
        raise not_valid("sort_column")
    direction = (params.get("sort_direction") or "DESC").upper()
    if direction not in ("ASC", "DESC"):
        raise not_valid("sort_direction")
    status = params.get("status") or None
    if status is not None and status not in _STATUSES:
        raise not_valid("status")
    call_type = params.get("call_type") or None
    kind = CALL_TYPES.get(call_type) if call_type is not None else None
    if call_type is not None and kind is None:
        raise not_valid("call_type")
    return CallQuery(
        page=page,
        per=per,
        sort_column=sort_column,
        descending=direction == "DESC",
        created_from=_moment_param(params, "created_at[from]"),
        created_to=_moment_param(params, "created_at[to]"),
        updated_from=_moment_param(params, "updated_at[from]"),
        updated_to=_moment_param(params, "updated_at[to]"),
        status=status,
        kind=kind.value if kind is not None else None,
    )


@dataclass(frozen=True, slots=True)
class PageLinks:
    base_url: str
    raw_query: str

    def url(self, page: int) -> str:
        parts = [p for p in self.raw_query.split("&") if p]
        replaced = False
        out = []
        for part in parts:
            if unquote_plus(part.partition("=")[0]) == "page":
                if not replaced:
                    out.append(f"page={page}")
                    replaced = True
                continue
            out.append(part)
        if not replaced:
            out.append(f"page={page}")
        return f"{self.base_url}?{'&'.join(out)}"

    def header(self, page: int, per: int, total: int) -> str:
        last = max(1, -(-total // per))
        links = []
        if page < last:
            links.append(f'<{self.url(page + 1)}>; rel="next"')
        if 1 < page <= last + 1:
            links.append(f'<{self.url(page - 1)}>; rel="prev"')
        return ", ".join(links)
