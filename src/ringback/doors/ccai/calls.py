"""CCAI Platform (UJET) call API: a restaurant's CCAI settings, call types, statuses and moves (§6).

Pure values and rules; the door maps its wire to these, the store keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException

from ringback.relay.phone import is_possible

# ISO 639-1 (two-letter language codes), vendored: the list is small and changes rarely.
_ISO_639_1_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da
    de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy
    hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg
    li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or
    os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta
    te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())


class CallKind(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"
    SCHEDULED = "scheduled"

    @property
    def call_type(self) -> str:
        """The name the CCAI wire shows."""
        return CALL_TYPE_NAMES[self]


CALL_TYPE_NAMES: dict[CallKind, str] = {
    CallKind.OUTBOUND: "Voice Outbound (API)",
    CallKind.INBOUND: "Voice Inbound (API)",
    CallKind.SCHEDULED: "Voice Scheduled (API)",
}

# Every name a request may use for a call type: the current ones and the deprecated aliases.
CALL_TYPES: dict[str, CallKind] = {
    "Voice Outbound (API)": CallKind.OUTBOUND,
    "OutboundCall": CallKind.OUTBOUND,
    "Voice Inbound (API)": CallKind.INBOUND,
    "IncomingCall": CallKind.INBOUND,
    "Voice Scheduled (API)": CallKind.SCHEDULED,
    "ScheduledCall": CallKind.SCHEDULED,
}


class CallStatus(StrEnum):
    SELECTING = "selecting"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FINISHED = "finished"
    FAILED = "failed"
    SWITCHING = "switching"
    RECOVERED = "recovered"
    SCHEDULED = "scheduled"
    ACTION_ONLY = "action_only"
    ACTION_ONLY_FINISHED = "action_only_finished"
    DEFLECTED = "deflected"
    VOICEMAIL = "voicemail"
    VOICEMAIL_RECEIVED = "voicemail_received"
    VOICEMAIL_READ = "voicemail_read"


S = CallStatus
_FROM_QUEUED = frozenset(
    {S.ASSIGNED, S.CONNECTING, S.CONNECTED, S.DEFLECTED, S.VOICEMAIL, S.FAILED}
)
MOVES: dict[CallStatus, frozenset[CallStatus]] = {
    S.SELECTING: frozenset({S.QUEUED, S.DEFLECTED, S.FAILED}),
    S.QUEUED: _FROM_QUEUED,
    S.SCHEDULED: _FROM_QUEUED | {S.QUEUED},
    S.ASSIGNED: frozenset({S.CONNECTING, S.CONNECTED, S.FAILED}),
    S.CONNECTING: frozenset({S.CONNECTED, S.VOICEMAIL, S.FAILED}),
    S.CONNECTED: frozenset({S.SWITCHING, S.FINISHED, S.FAILED}),
    S.SWITCHING: frozenset({S.SWITCHING, S.FINISHED, S.FAILED}),
    S.VOICEMAIL: frozenset({S.VOICEMAIL_RECEIVED, S.FAILED}),
    S.VOICEMAIL_RECEIVED: frozenset({S.VOICEMAIL_READ}),
    S.ACTION_ONLY: frozenset({S.ACTION_ONLY_FINISHED}),
}
"""Allowed moves; every status not a key here is terminal."""

ENDING_STATUSES = frozenset(
    {S.FINISHED, S.FAILED, S.DEFLECTED, S.VOICEMAIL_RECEIVED, S.VOICEMAIL_READ}
    | {S.ACTION_ONLY_FINISHED}
)
"""Reaching one of these stamps ``ends_at`` (if not stamped yet)."""

OUTBOUND_MISSED_REASONS = frozenset({"eu_no_answer", "eu_busy", "eu_rejected"})
WRONG_NUMBER_REASON = "eu_wrong_number"


def can_move(current: CallStatus, target: CallStatus) -> bool:
    return target in MOVES.get(current, frozenset())


class Ending(StrEnum):
    """What a move means for the relay (SPEC §6)."""

    NONE = "none"
    MISSED = "missed"
    WRONG_NUMBER = "wrong_number"
    ANSWERED = "answered"


def ending_of(kind: CallKind, target: CallStatus, fail_reason: str, was_connected: bool) -> Ending:
    if target is S.CONNECTED:
        return Ending.ANSWERED
    if was_connected:
        return Ending.NONE
    if kind is CallKind.OUTBOUND:
        if target is S.FAILED and fail_reason in OUTBOUND_MISSED_REASONS:
            return Ending.MISSED
        if target is S.FAILED and fail_reason == WRONG_NUMBER_REASON:
            return Ending.WRONG_NUMBER
        return Ending.NONE
    if target in (S.FAILED, S.DEFLECTED, S.VOICEMAIL):
        return Ending.MISSED
    return Ending.NONE


@dataclass(frozen=True, slots=True)
class Menu:
    id: int
    name: str
    menu_type: str
    state: str = "open"
    parent_id: int | None = None
    output_msg: str | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    email: str
    name: str
    first_name: str | None = None
    last_name: str | None = None
    available: bool = True
    can_call: bool = True
    agent_number: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundNumber:
    number: str
    default: bool = False


@dataclass(frozen=True, slots=True)
class CcaiSettings:
    languages: tuple[str, ...] = ("en",)
    menus: tuple[Menu, ...] = ()
    agents: tuple[Agent, ...] = ()
    outbound_numbers: tuple[OutboundNumber, ...] = ()
    tickets: Mapping[str, str] = field(default_factory=dict)

    def menu(self, menu_id: int) -> Menu | None:
        return next((m for m in self.menus if m.id == menu_id), None)

    def agent(self, email: str) -> Agent | None:
        wanted = email.strip().lower()
        return next((a for a in self.agents if a.email.lower() == wanted), None)

    def menu_path(self, menu: Menu) -> list[Menu]:
        """From the root to ``menu`` along ``parent_id`` (cycles and dangling parents cut)."""
        path = [menu]
        seen = {menu.id}
        parent_id = menu.parent_id
        while parent_id is not None and parent_id not in seen:
            parent = self.menu(parent_id)
            if parent is None:
                break
            path.insert(0, parent)
            seen.add(parent.id)
            parent_id = parent.parent_id
        return path

    def outbound_number(self, given: str | None) -> tuple[bool, str | None]:
        """(found, number): the restaurant's number matching ``given``, else its default one.

        ``given`` that is not one of the restaurant's numbers → (False, None). Without ``given``:
        the default, else the only number, else (False, None) when several have no default, else
        (True, None) when there are none.
        """
        if given is not None:
            key = number_key(given)
            match = next(
                (n for n in self.outbound_numbers if key and number_key(n.number) == key), None
            )
            return (match is not None, match.number if match else None)
        default = next((n for n in self.outbound_numbers if n.default), None)
        if default is not None:
            return True, default.number
        if len(self.outbound_numbers) == 1:
            return True, self.outbound_numbers[0].number
        if not self.outbound_numbers:
            return True, None
        return False, None

    def default_outbound_number(self) -> str | None:
        return self.outbound_number(None)[1]


def number_key(number: str) -> str:
    """Digits only, ``00`` read as ``+``: how two spellings of one number compare."""
    text = number.strip()
    if text.startswith("00"):
        text = text[2:]
    return re.sub(r"\D", "", text)


def possible_e164(raw: str, region: str) -> str | None:
    """E.164 of a well-formed (possible) number, valid or not; None when it is not well-formed."""
    if not is_possible(raw, region):
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else region.upper())
    except NumberParseException:  # pragma: no cover - is_possible parsed it already
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def ccai_from_settings(stored: Mapping[str, Any] | None) -> CcaiSettings:
    """The restaurant's stored ``ccai`` JSON (validated by the admin API) as values."""
    data = stored or {}
    menus = tuple(
        Menu(
            id=_int(m.get("id")),
            name=str(m.get("name") or ""),
            menu_type=str(m.get("menu_type") or "ivr_menu"),
            state=str(m.get("state") or "open"),
            parent_id=m.get("parent_id"),
            output_msg=m.get("output_msg"),
            position=_int(m.get("position")),
        )
        for m in data.get("menus") or []
    )
    agents = tuple(
        Agent(
            id=_int(a.get("id")),
            email=str(a.get("email") or ""),
            name=str(a.get("name") or ""),
            first_name=a.get("first_name"),
            last_name=a.get("last_name"),
            available=bool(a.get("available", True)),
            can_call=bool(a.get("can_call", True)),
            agent_number=a.get("agent_number"),
            avatar_url=a.get("avatar_url"),
        )
        for a in data.get("agents") or []
    )
    numbers = tuple(
        OutboundNumber(number=str(n.get("number") or ""), default=bool(n.get("default")))
        for n in data.get("outbound_numbers") or []
    )
    languages = tuple(data.get("languages") or ("en",))
    tickets = {ticket: number for ticket, number in ticket_pairs(data.get("tickets"))}
    return CcaiSettings(languages, menus, agents, numbers, tickets)


def ticket_pairs(stored: object) -> list[tuple[str, str]]:
    """``(ticket_id, phone_number)`` of stored tickets: a list of ``{"ticket_id", "phone_number"}``
    (SPEC §8), or the ``{ticket_id: number}`` map rows written before kept."""
    if isinstance(stored, dict):
        return [(str(k), str(v)) for k, v in stored.items()]
    if isinstance(stored, list):
        return [
            (str(t.get("ticket_id")), str(t.get("phone_number")))
            for t in stored
            if isinstance(t, dict)
        ]
    return []
