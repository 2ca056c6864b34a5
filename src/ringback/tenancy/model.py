"""Tenancy: the restaurant (the tenant) with its settings, and the tokens its doors accept."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from ringback.relay.model import TemplateType
from ringback.tenancy.ccai_settings import CcaiSettings, ccai_from_settings


class TokenKind(StrEnum):
    PARTNER = "partner"
    ZOHO = "zoho"
    CCAI = "ccai"
    OPS = "ops"


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    language: str


@dataclass(frozen=True, slots=True)
class WhatsAppConfig:
    phone_number_id: str | None
    access_token: str | None
    templates: dict[TemplateType, Template] = field(default_factory=dict)
    fallback_first_name: str = "there"

    @property
    def can_send(self) -> bool:
        return bool(self.phone_number_id) and bool(self.access_token)


# Keys of the ``whatsapp`` JSONB. Read here, and in SQL by the messages slice: its claim returns
# the business number and token with the message in one statement, and a status webhook finds its
# restaurants by the business number through an index on that expression (migration 0003).
WHATSAPP_PHONE_NUMBER_ID = "phone_number_id"
WHATSAPP_ACCESS_TOKEN = "access_token"  # noqa: S105 -- a key's name, not a secret
WHATSAPP_TEMPLATES = "templates"
WHATSAPP_FALLBACK_FIRST_NAME = "fallback_first_name"


@dataclass(frozen=True, slots=True)
class StoredWhatsApp:
    """The ``whatsapp`` JSONB as written, before the relay's defaults (``config``): the admin API
    echoes it, so a missing first name stays None and templates keep their stored keys."""

    phone_number_id: str | None = None
    access_token: str | None = None
    templates: Mapping[str, Template] = field(default_factory=dict)
    fallback_first_name: str | None = None

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> StoredWhatsApp:
        wa = stored or {}
        return cls(
            phone_number_id=wa.get(WHATSAPP_PHONE_NUMBER_ID),
            access_token=wa.get(WHATSAPP_ACCESS_TOKEN),
            templates={
                key: Template(value.get("name") or "", value.get("language") or "en")
                for key, value in (wa.get(WHATSAPP_TEMPLATES) or {}).items()
                if value
            },
            fallback_first_name=wa.get(WHATSAPP_FALLBACK_FIRST_NAME),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            WHATSAPP_PHONE_NUMBER_ID: self.phone_number_id,
            WHATSAPP_ACCESS_TOKEN: self.access_token,
            WHATSAPP_TEMPLATES: {
                key: {"name": t.name, "language": t.language} for key, t in self.templates.items()
            },
            WHATSAPP_FALLBACK_FIRST_NAME: self.fallback_first_name,
        }

    def config(self) -> WhatsAppConfig:
        """What the relay sends with: templates it knows by name, a first name to fall back on."""
        return WhatsAppConfig(
            phone_number_id=self.phone_number_id,
            access_token=self.access_token,
            templates={
                TemplateType(key): template
                for key, template in self.templates.items()
                if key in TemplateType.__members__ and template.name
            },
            fallback_first_name=self.fallback_first_name or "there",
        )


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: dt.time
    end: dt.time


@dataclass(frozen=True, slots=True)
class Restaurant:
    """The tenant, with the settings the relay decides by."""

    id: int
    slug: str
    name: str
    country: str
    timezone: str
    missed_calls_enabled: bool = True
    cooldown_hours: float = 6
    max_call_age_hours: float = 24
    send_delay_seconds: int = 0
    quiet_hours: QuietHours | None = None
    whatsapp: WhatsAppConfig = field(
        default_factory=lambda: WhatsAppConfig(phone_number_id=None, access_token=None)
    )
    ccai: CcaiSettings = field(default_factory=CcaiSettings)
    telnyx_public_key: str | None = None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A live token and the restaurant it speaks for."""

    id: int
    kind: TokenKind
    token_hash: str
    restaurant: Restaurant


def mint_token(kind: TokenKind) -> str:
    """A new secret: 32 random bytes, prefixed so a leaked token says what it is."""
    return f"rb_{kind.value}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(stored: str, presented_token: str) -> bool:
    return hmac.compare_digest(stored, hash_token(presented_token))


def is_country(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


@cache
def is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:60] or "restaurant"


def parse_clock(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def quiet_hours_from_json(stored: Mapping[str, Any] | None) -> QuietHours | None:
    return QuietHours(parse_clock(stored["start"]), parse_clock(stored["end"])) if stored else None


def quiet_hours_json(quiet: QuietHours | None) -> dict[str, str] | None:
    if quiet is None:
        return None
    return {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M")}


def restaurant_from_settings(row: Mapping[Any, Any]) -> Restaurant:
    """A restaurant from its stored settings (``db.tables.RESTAURANT_SETTINGS``), as the relay
    decides by. The JSONB are read by ``StoredWhatsApp``, ``quiet_hours_from_json`` and
    ``ccai_settings.py``; the admin API's record of the same row is ``stored.StoredRestaurant``."""
    return Restaurant(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        country=row["country"],
        timezone=row["timezone"],
        missed_calls_enabled=row["missed_calls_enabled"],
        cooldown_hours=row["cooldown_hours"],
        max_call_age_hours=row["max_call_age_hours"],
        send_delay_seconds=row["send_delay_seconds"],
        quiet_hours=quiet_hours_from_json(row.get("quiet_hours")),
        whatsapp=StoredWhatsApp.from_json(row.get("whatsapp")).config(),
        ccai=ccai_from_settings(row.get("ccai")),
        telnyx_public_key=row.get("telnyx_public_key"),
    )
