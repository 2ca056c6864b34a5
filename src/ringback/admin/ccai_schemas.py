"""A restaurant's CCAI settings on the admin API (SPEC §6): every check of them lives here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ringback.http.inputs import BodyInt
from ringback.tenancy.ccai_settings import ISO_639_1, number_key, ticket_pairs

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9\s.\-()/]{3,40}$")
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320),
]
Ident = Annotated[BodyInt, Field(ge=1, le=2**31 - 1)]


class CcaiMenuIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Ident
    name: Name
    menu_type: Literal["ivr_menu", "mobile_menu", "web_menu"]
    state: Literal["open", "after_hours", "manual_redirection"] = "open"
    parent_id: Ident | None = None
    output_msg: Annotated[str, StringConstraints(max_length=1000)] | None = None
    position: BodyInt = Field(default=0, ge=0, le=10_000)


class CcaiAgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Ident
    email: Email
    name: Name
    first_name: Name | None = None
    last_name: Name | None = None
    available: bool = True
    can_call: bool = True
    agent_number: Annotated[str, StringConstraints(max_length=40)] | None = None
    avatar_url: Annotated[str, StringConstraints(max_length=2048)] | None = None


class CcaiOutboundNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: Phone
    default: bool = False


TicketId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class CcaiTicketIn(BaseModel):
    """A CRM ticket and the contact number an outbound call with its ``ticket_id`` dials."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: TicketId
    phone_number: Phone


class CcaiIn(BaseModel):
    """The CCAI call API's view of the restaurant. On PATCH, the keys given replace the stored
    ones and the keys left out are kept."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        min_length=1,
        max_length=200,
        description="Enabled ISO 639-1 codes",
    )
    menus: list[CcaiMenuIn] = Field(default_factory=list, max_length=500)
    agents: list[CcaiAgentIn] = Field(default_factory=list, max_length=500)
    outbound_numbers: list[CcaiOutboundNumberIn] = Field(default_factory=list, max_length=100)
    # at most as many as a request body can carry (256 KiB): a longer list is refused by name
    tickets: list[CcaiTicketIn] = Field(
        default_factory=list, max_length=2_000, description="CRM ticket id → contact number"
    )

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value]
        for code in codes:
            if code not in ISO_639_1:
                raise ValueError(f"{code!r} is not an ISO 639-1 language code")
        return list(dict.fromkeys(codes))

    @field_validator("menus")
    @classmethod
    def _menus(cls, value: list[CcaiMenuIn]) -> list[CcaiMenuIn]:
        ids = [menu.id for menu in value]
        if len(set(ids)) != len(ids):
            raise ValueError("menu ids must be unique")
        for menu in value:
            if menu.parent_id is not None and (
                menu.parent_id == menu.id or menu.parent_id not in ids
            ):
                raise ValueError(f"menu {menu.id}: parent_id must be another menu's id")
        return value

    @field_validator("agents")
    @classmethod
    def _agents(cls, value: list[CcaiAgentIn]) -> list[CcaiAgentIn]:
        if len({a.id for a in value}) != len(value):
            raise ValueError("agent ids must be unique")
        if len({a.email.lower() for a in value}) != len(value):
            raise ValueError("agent emails must be unique")
        return value

    @field_validator("outbound_numbers")
    @classmethod
    def _numbers(cls, value: list[CcaiOutboundNumberIn]) -> list[CcaiOutboundNumberIn]:
        if sum(1 for n in value if n.default) > 1:
            raise ValueError("at most one outbound number may be the default")
        if len({number_key(n.number) for n in value}) != len(value):
            raise ValueError("outbound numbers must be unique")
        return value

    @field_validator("tickets")
    @classmethod
    def _tickets(cls, value: list[CcaiTicketIn]) -> list[CcaiTicketIn]:
        if len({t.ticket_id for t in value}) != len(value):
            raise ValueError("ticket ids must be unique")
        return value


def ccai_values(given: CcaiIn, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``ccai`` column to write: the stored settings with the keys given replaced."""
    defaults = CcaiIn().model_dump(mode="json")
    return {
        **defaults,
        **(stored or {}),
        **{k: v for k, v in given.model_dump(mode="json").items() if k in given.model_fields_set},
    }


def ccai_out(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    shown = {**CcaiIn().model_dump(mode="json"), **(stored or {})}
    shown["tickets"] = [
        {"ticket_id": ticket, "phone_number": number}
        for ticket, number in ticket_pairs(shown["tickets"])
    ]
    return shown
