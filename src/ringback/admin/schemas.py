"""Wire models of the admin API (SPEC §8): every check of a restaurant's settings lives here."""

from __future__ import annotations

import re
from dataclasses import replace
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
from ringback.tenancy.model import (
    QuietHours,
    StoredWhatsApp,
    Template,
    TokenKind,
    is_country,
    is_timezone,
    parse_clock,
    quiet_hours_json,
)
from ringback.tenancy.stored import PLAIN_SETTINGS, StoredRestaurant, StoredSettings

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

    def to_settings(self) -> StoredSettings:
        return StoredSettings(
            **{name: getattr(self, name) for name in PLAIN_SETTINGS},
            quiet_hours=quiet_hours(self.quiet_hours),
            whatsapp=stored_whatsapp(self.whatsapp, stored=None),
            ccai=ccai_values(self.ccai, stored=None),
        )


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

    def merged_into(self, stored: StoredSettings) -> StoredSettings:
        """The stored settings with the top-level keys given replaced (``whatsapp`` keeps its
        stored access token unless one is given; ``ccai`` keeps the keys left out of it)."""
        given = self.model_fields_set
        changes: dict[str, Any] = {name: getattr(self, name) for name in given & PLAIN_SETTINGS}
        if "quiet_hours" in given:
            changes["quiet_hours"] = quiet_hours(self.quiet_hours)
        if self.whatsapp is not None:
            changes["whatsapp"] = stored_whatsapp(self.whatsapp, stored=stored.whatsapp)
        if self.ccai is not None:
            changes["ccai"] = ccai_values(self.ccai, stored=stored.ccai)
        return replace(stored, **changes)

    def given_settings(self) -> frozenset[str]:
        """The settings (columns) this PATCH writes; the slug is written when given."""
        return frozenset(self.model_fields_set - {"slug"})


def quiet_hours(given: QuietHoursIn | None) -> QuietHours | None:
    return QuietHours(parse_clock(given.start), parse_clock(given.end)) if given else None


def stored_whatsapp(given: WhatsAppIn, stored: StoredWhatsApp | None) -> StoredWhatsApp:
    """The WhatsApp settings given; an access token left out is the stored one."""
    kept = stored is not None and "access_token" not in given.model_fields_set
    return StoredWhatsApp(
        phone_number_id=given.phone_number_id,
        access_token=stored.access_token if kept and stored else given.access_token,
        templates={kind.value: Template(t.name, t.language) for kind, t in given.templates.items()},
        fallback_first_name=given.fallback_first_name,
    )


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
    def from_stored(cls, stored: StoredRestaurant) -> RestaurantOut:
        """Render a stored restaurant; secrets are replaced by whether they are set."""
        settings = stored.settings
        wa = settings.whatsapp
        quiet = quiet_hours_json(settings.quiet_hours)
        return cls(
            id=str(stored.id),
            slug=stored.slug,
            name=settings.name,
            country=settings.country,
            timezone=settings.timezone,
            missed_calls_enabled=settings.missed_calls_enabled,
            cooldown_hours=settings.cooldown_hours,
            max_call_age_hours=settings.max_call_age_hours,
            send_delay_seconds=settings.send_delay_seconds,
            quiet_hours=QuietHoursOut(**quiet) if quiet else None,
            telnyx_public_key=settings.telnyx_public_key,
            whatsapp=WhatsAppOut(
                phone_number_id=wa.phone_number_id,
                access_token_set=bool(wa.access_token),
                templates={
                    key: TemplateOut(name=t.name, language=t.language)
                    for key, t in wa.templates.items()
                },
                fallback_first_name=wa.fallback_first_name,
            ),
            ccai=ccai_out(settings.ccai),
            created_at=iso_z(stored.created_at) or "",
            updated_at=iso_z(stored.updated_at) or "",
        )


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TokenKind
    name: Text | None = None


class TokenOut(BaseModel):
    id: str
    kind: TokenKind
    token: str = Field(description="The secret, shown once: only its hash is stored")
