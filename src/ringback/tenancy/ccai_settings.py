"""A restaurant's CCAI settings (SPEC §6): the one reader of its ``ccai`` JSONB.

The admin API validates what is written (``admin/ccai_schemas.py``); the CCAI door reads it as these
values: the languages, menus, agents, outbound numbers and CRM tickets a call may name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
