"""Examples of the conversations API's replies, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any

_CUSTOMER = {
    "id": "311",
    "phone_number": "+33612345678",
    "name": "Camille Martin",
    "opted_out": False,
    "bad_actor": False,
}

CONVERSATION: dict[str, Any] = {
    "id": "87",
    "customer": _CUSTOMER,
    "profile_name": "Camille",
    "last_message": {
        "direction": "inbound",
        "type": "text",
        "text": "Bonjour, vous avez une table pour deux ce soir ?",
        "at": "2026-05-10T14:25:12.000Z",
    },
    "unread": 2,
    "window_open_until": "2026-05-11T14:25:12.000Z",
    "read_at": "2026-05-10T09:02:41.118Z",
    "updated_at": "2026-05-10T14:25:12.000Z",
}

LIST_REPLY: dict[str, Any] = {
    "data": [CONVERSATION],
    "next_cursor": "AAYFMzEwEs9wAAAAAAAAAFfX2Kk1bC0Fqfu1mA",
}

_TEMPLATE_MESSAGE = {
    "id": None,
    "author": "template",
    "direction": "outbound",
    "type": "template",
    "text": None,
    "at": "2026-05-10T14:23:02.311Z",
    "provider_message_id": "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBI3RjBCMTU5RkE0QjhBMjU0MQA=",
    "media": None,
    "context": None,
    "details": {},
    "message": {
        "id": "1204",
        "status": "read",
        "attempts": 1,
        "next_attempt_at": None,
        "provider_message_id": "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBI3RjBCMTU5RkE0QjhBMjU0MQA=",
        "last_error": None,
        "updated_at": "2026-05-10T14:24:40.002Z",
    },
    "call_id": "5531",
    "template": {
        "name": "missed_call_resa",
        "parameters": ["Demo Bistro", "Camille", "2026-05-10", "20:00", "2"],
    },
}

_INBOUND_MESSAGE = {
    "id": "9120",
    "author": "customer",
    "direction": "inbound",
    "type": "text",
    "text": "Bonjour, vous avez une table pour deux ce soir ?",
    "at": "2026-05-10T14:25:12.000Z",
    "provider_message_id": "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQTk5RkQ3RDlFOEQ0QjM1RTAyMAA=",
    "media": None,
    "context": {
        "id": "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBI3RjBCMTU5RkE0QjhBMjU0MQA=",
        "quoted": {"author": "template", "type": "template", "text": None},
    },
    "details": {},
    "message": None,
    "call_id": None,
    "template": None,
}

_PHOTO = {
    **_INBOUND_MESSAGE,
    "id": "9121",
    "type": "image",
    "text": "la terrasse, c'est possible ?",
    "at": "2026-05-10T14:25:40.000Z",
    "provider_message_id": "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUIyQzg1NEMwNUE2RjA3QjYyQwA=",
    "media": {"id": "1003383421387256", "mime_type": "image/jpeg"},
    "context": None,
    "details": {"sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="},
}

STAFF_MESSAGE: dict[str, Any] = {
    "id": "9122",
    "author": "staff",
    "direction": "outbound",
    "type": "text",
    "text": "Bonjour ! Oui, nous avons une table pour deux à 20 h. À ce soir !",
    "at": "2026-05-10T14:27:03.504Z",
    "provider_message_id": "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBJBMjA0QzU2RDFBMkU5RjdGNwA=",
    "media": None,
    "context": None,
    "details": {},
    "message": {
        "id": "1207",
        "status": "sent",
        "attempts": 1,
        "next_attempt_at": None,
        "provider_message_id": "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBJBMjA0QzU2RDFBMkU5RjdGNwA=",
        "last_error": None,
        "updated_at": "2026-05-10T14:27:03.912Z",
    },
    "call_id": None,
    "template": None,
}

_CALL = {
    "id": "5531",
    "source": "partner",
    "external_id": "pbx-call-9f3a2",
    "direction": "inbound",
    "disposition": "missed",
    "caller_phone_number": "+33612345678",
    "occurred_at": "2026-05-10T14:23:00.000Z",
    "created_at": "2026-05-10T14:23:01.245Z",
    "outcome": "SENT",
    "template_type": "MISSED_CALL_WITH_RESERVATION",
    "customer": _CUSTOMER,
    "reservation": {
        "id": "77",
        "external_id": "resa-2291",
        "start_at": "2026-05-10T18:00:00.000Z",
        "party_size": 2,
        "status": "CONFIRMED",
    },
    "message": _TEMPLATE_MESSAGE["message"],
    "recovered_at": None,
    "replied_at": "2026-05-10T14:25:12.000Z",
}

DETAIL_REPLY: dict[str, Any] = {
    "data": {
        **CONVERSATION,
        "messages": [_TEMPLATE_MESSAGE, _INBOUND_MESSAGE, _PHOTO],
        "calls": [_CALL],
        "reply": {"allowed": True, "code": None, "message": None},
    }
}

REPLY_BODY: dict[str, Any] = {
    "text": "Bonjour ! Oui, nous avons une table pour deux à 20 h. À ce soir !"
}

REPLY_REPLY: dict[str, Any] = {"data": STAFF_MESSAGE}

WINDOW_CLOSED: dict[str, Any] = {
    "error": {
        "code": "WINDOW_CLOSED",
        "message": "The customer service window is closed: WhatsApp allows a free-form reply "
        "only within 24 hours of the customer's last message. The customer must write again "
        "first.",
        "request_id": "3f9c1e0b6a7d4c2f",
        "details": None,
    }
}
