"""Examples of the admin API's bodies and replies, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any

RESTAURANT_EXAMPLE: dict[str, Any] = {
    "name": "Demo Bistro",
    "country": "FR",
    "timezone": "Europe/Paris",
    "cooldown_hours": 6,
    "quiet_hours": {"start": "21:00", "end": "09:00"},
    "whatsapp": {
        "phone_number_id": "109876543210",
        "access_token": "EAAG…",
        "templates": {
            "MISSED_CALL": {"name": "missed_call", "language": "fr"},
            "MISSED_CALL_WITH_RESERVATION": {"name": "missed_call_resa", "language": "fr"},
            "CALLBACK_UNANSWERED": {"name": "callback_unanswered", "language": "fr"},
        },
        "fallback_first_name": "there",
    },
}

RESTAURANT_REPLY_EXAMPLE: dict[str, Any] = {
    "data": {
        "id": "12",
        "slug": "demo-bistro",
        "name": "Demo Bistro",
        "country": "FR",
        "timezone": "Europe/Paris",
        "missed_calls_enabled": True,
        "cooldown_hours": 6.0,
        "max_call_age_hours": 24.0,
        "send_delay_seconds": 0,
        "quiet_hours": {"start": "21:00", "end": "09:00"},
        "telnyx_public_key": None,
        "whatsapp": {
            "phone_number_id": "109876543210",
            "access_token_set": True,
            "templates": {"MISSED_CALL": {"name": "missed_call", "language": "fr"}},
            "fallback_first_name": "there",
        },
        "created_at": "2026-05-10T14:23:01.245Z",
        "updated_at": "2026-05-10T14:23:01.245Z",
    }
}
