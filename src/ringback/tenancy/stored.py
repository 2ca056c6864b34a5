"""A restaurant's settings as stored: the record the admin API echoes and a PATCH merges into.

The relay reads the same row as ``model.Restaurant``, with its defaults applied ("there" for a
missing first name, only the templates it knows, the CCAI block as values). The admin API must
show what was written instead (``fallback_first_name: null``, the template map as stored, the raw
``ccai`` block it validated), so it gets this record; both read the JSONB through ``model.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ringback.tenancy.model import (
    QuietHours,
    StoredWhatsApp,
    quiet_hours_from_json,
    quiet_hours_json,
)

# Settings stored as they are, each in a column of its own (named as on the admin API).
PLAIN_SETTINGS = frozenset(
    {
        "name",
        "country",
        "timezone",
        "missed_calls_enabled",
        "cooldown_hours",
        "max_call_age_hours",
        "send_delay_seconds",
        "telnyx_public_key",
    }
)


@dataclass(frozen=True, slots=True)
class StoredSettings:
    """What an admin writes of a restaurant (SPEC §2), its slug aside. The defaults are the
    table's own."""

    name: str
    country: str
    timezone: str
    missed_calls_enabled: bool = True
    cooldown_hours: float = 6
    max_call_age_hours: float = 24
    send_delay_seconds: int = 0
    quiet_hours: QuietHours | None = None
    telnyx_public_key: str | None = None
    whatsapp: StoredWhatsApp = field(default_factory=StoredWhatsApp)
    # Kept as the admin API validated it (admin/ccai_schemas.py); the CCAI door reads it as
    # ``ccai_settings.CcaiSettings``.
    ccai: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredRestaurant:
    id: int
    slug: str
    settings: StoredSettings
    created_at: dt.datetime
    updated_at: dt.datetime


def settings_from_columns(columns: Mapping[Any, Any]) -> StoredSettings:
    """The settings in a restaurant row, or in a seed's partial mapping of its columns (the
    columns left out take the table's defaults)."""
    plain = {name: columns[name] for name in PLAIN_SETTINGS if name in columns}
    return StoredSettings(
        **plain,
        quiet_hours=quiet_hours_from_json(columns.get("quiet_hours")),
        whatsapp=StoredWhatsApp.from_json(columns.get("whatsapp")),
        ccai=dict(columns.get("ccai") or {}),
    )


def stored_from_row(row: Mapping[Any, Any]) -> StoredRestaurant:
    return StoredRestaurant(
        id=row["id"],
        slug=row["slug"],
        settings=settings_from_columns(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def settings_columns(settings: StoredSettings) -> dict[str, Any]:
    """The column values that store ``settings``."""
    columns: dict[str, Any] = {name: getattr(settings, name) for name in PLAIN_SETTINGS}
    columns["quiet_hours"] = quiet_hours_json(settings.quiet_hours)
    columns["whatsapp"] = settings.whatsapp.to_json()
    columns["ccai"] = dict(settings.ccai)
    return columns
