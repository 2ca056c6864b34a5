"""Wire models of the admin API (SPEC §8): every check of a restaurant's settings lives here."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from ringback.admin.ccai_schemas import CcaiIn, ccai_out, ccai_values
from ringback.http.formats import iso_z
from ringback.http.inputs import BodyInt
from ringback.relay.model import TemplateType
from ringback.tenancy.model import TokenKind, is_country, is_timezone

T = TypeVar("T")

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError("must be a local time HH:MM, e.g. 21:00")
    return value


Clock = Annotated[str, AfterValidator(_clock)]
Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", min_length=1, max_length=60)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]

MAX_HOURS = 24 * 365
MAX_DELAY_SECONDS = 7 * 24 * 3600
# Fields a PATCH may leave out but never set to null.
_REQUIRED_WHEN_GIVEN = (
    "name",
    "country",
    "timezone",
    "missed_calls_enabled",
    "cooldown_hours",
    "max_call_age_hours",
    "send_delay_seconds",
    "whatsapp",
    "ccai",
)


class Envelope(BaseModel, Generic[T]):
    data: T


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str
    details: list[ErrorDetail] | dict[str, Any] | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Clock = Field(description="Local time `HH:MM` the quiet hours begin")
    end: Clock = Field(description="Local time `HH:MM` they end (may be on the next day)")

    @field_validator("end")
    @classmethod
    def _not_empty(cls, end: str, info: ValidationInfo) -> str:
        if info.data.get("start") == end:
            raise ValueError("end must differ from start")
        return end


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
    language: Annotated[
        str, StringConstraints(pattern=r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$", max_length=15)
    ]


class WhatsAppIn(BaseModel):
    """Replaces the stored WhatsApp settings, except that an omitted ``access_token`` is kept."""

    model_config = ConfigDict(extra="forbid")

    phone_number_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")] | None = None
    access_token: Secret | None = Field(default=None, description="Write-only")
    templates: dict[TemplateType, TemplateIn] = Field(default_factory=dict)
    fallback_first_name: Text | None = None


class RestaurantSettings(BaseModel):
    """The settings of SPEC §2 shared by create and update; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug | None = None
    quiet_hours: QuietHoursIn | None = None
    telnyx_public_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")] | None = (
        Field(default=None, description="Base64 of the 32-byte Ed25519 key, as Telnyx shows it")
    )

    @field_validator("country", check_fields=False)
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if len(code) != 2 or not is_country(code):
            raise ValueError("must be an ISO 3166-1 alpha-2 country code, e.g. FR")
        return code

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None and not is_timezone(value.strip()):
            raise ValueError("must be an IANA time zone, e.g. Europe/Paris")
        return value.strip() if value is not None else None


class RestaurantCreate(RestaurantSettings):
    name: Text
    country: str
    timezone: str
    missed_calls_enabled: bool = True
    cooldown_hours: float = Field(default=6, ge=0, le=MAX_HOURS)
    max_call_age_hours: float = Field(default=24, gt=0, le=MAX_HOURS)
    send_delay_seconds: BodyInt = Field(default=0, ge=0, le=MAX_DELAY_SECONDS)
    whatsapp: WhatsAppIn = Field(default_factory=WhatsAppIn)
    ccai: CcaiIn = Field(default_factory=CcaiIn)

    def to_values(self) -> dict[str, Any]:
        values = self.model_dump(exclude={"whatsapp"}, mode="json")
        values["whatsapp"] = whatsapp_values(self.whatsapp, stored=None)
        values["ccai"] = ccai_values(self.ccai, stored=None)
        if values["slug"] is None:
            del values["slug"]
        return values


class RestaurantUpdate(RestaurantSettings):
    """PATCH: top-level keys given replace the stored ones; keys left out are kept."""

    name: Text | None = None
    country: str | None = None
    timezone: str | None = None
    missed_calls_enabled: bool | None = None
    cooldown_hours: float | None = Field(default=None, ge=0, le=MAX_HOURS)
    max_call_age_hours: float | None = Field(default=None, gt=0, le=MAX_HOURS)
    send_delay_seconds: BodyInt | None = Field(default=None, ge=0, le=MAX_DELAY_SECONDS)
    whatsapp: WhatsAppIn | None = None
    ccai: CcaiIn | None = None

    @field_validator(*_REQUIRED_WHEN_GIVEN, "slug", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out but not null")
        return value

    def to_values(self, stored: dict[str, Any]) -> dict[str, Any]:
        """The columns to write, given the stored restaurant."""
        given = self.model_dump(exclude_unset=True, exclude={"whatsapp", "ccai"}, mode="json")
        if self.whatsapp is not None:
            given["whatsapp"] = whatsapp_values(self.whatsapp, stored=stored.get("whatsapp"))
        if self.ccai is not None:
            given["ccai"] = ccai_values(self.ccai, stored=stored.get("ccai"))
        return given


def whatsapp_values(given: WhatsAppIn, stored: dict[str, Any] | None) -> dict[str, Any]:
    values = given.model_dump(mode="json")
    if "access_token" not in given.model_fields_set and stored:
        values["access_token"] = stored.get("access_token")
    return values


class TemplateOut(BaseModel):
    name: str
    language: str


class QuietHoursOut(BaseModel):
    start: str
    end: str


class WhatsAppOut(BaseModel):
    phone_number_id: str | None
    access_token_set: bool
    templates: dict[str, TemplateOut]
    fallback_first_name: str | None


class RestaurantOut(BaseModel):
    id: str
    slug: str
    name: str
    country: str
    timezone: str
    missed_calls_enabled: bool
    cooldown_hours: float
    max_call_age_hours: float
    send_delay_seconds: int
    quiet_hours: QuietHoursOut | None
    telnyx_public_key: str | None
    whatsapp: WhatsAppOut
    ccai: dict[str, Any]
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RestaurantOut:
        """Render a stored restaurant; secrets are replaced by whether they are set."""
        wa = row.get("whatsapp") or {}
        quiet = row.get("quiet_hours")
        return cls(
            id=str(row["id"]),
            slug=row["slug"],
            name=row["name"],
            country=row["country"],
            timezone=row["timezone"],
            missed_calls_enabled=row["missed_calls_enabled"],
            cooldown_hours=row["cooldown_hours"],
            max_call_age_hours=row["max_call_age_hours"],
            send_delay_seconds=row["send_delay_seconds"],
            quiet_hours=QuietHoursOut(**quiet) if quiet else None,
            telnyx_public_key=row.get("telnyx_public_key"),
            whatsapp=WhatsAppOut(
                phone_number_id=wa.get("phone_number_id"),
                access_token_set=bool(wa.get("access_token")),
                templates={
                    key: TemplateOut(name=value["name"], language=value["language"])
                    for key, value in (wa.get("templates") or {}).items()
                    if value
                },
                fallback_first_name=wa.get("fallback_first_name"),
            ),
            ccai=ccai_out(row.get("ccai")),
            created_at=iso_z(row["created_at"]) or "",
            updated_at=iso_z(row["updated_at"]) or "",
        )


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TokenKind
    name: Text | None = None


class TokenOut(BaseModel):
    id: str
    kind: TokenKind
    token: str = Field(description="The secret, shown once: only its hash is stored")
