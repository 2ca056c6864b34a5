"""Shared helpers of the conversations tests (SPEC §10): the app with a WhatsApp app secret,
signed webhooks built from the payload samples in ``tests/payloads``, and reads of what a
webhook stored."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.db.tables import call, conversation, conversation_message, customer, message
from ringback.tenancy.model import TokenKind
from tests.conftest import DEFAULT_WHATSAPP, MakeRestaurant, Tenant, make_settings, random_mobile

PAYLOADS = Path(__file__).parent.parent / "payloads"
APP_SECRET = "conversations-app-secret-7c1e"
OPS = TokenKind.OPS
INBOUND_TYPES = (
    "text",
    "button",
    "interactive_button_reply",
    "interactive_list_reply",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "unsupported",
)


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return loaded


def sample_message(kind: str) -> dict[str, Any]:
    """The ``messages[0]`` item of the sample ``whatsapp_message_<kind>.json``."""
    item: dict[str, Any] = payload(f"whatsapp_message_{kind}")["entry"][0]["changes"][0]["value"][
        "messages"
    ][0]
    return item


def unix(moment: dt.datetime) -> str:
    return str(int(moment.timestamp()))


def inbound(
    kind: str = "text",
    *,
    sender: str,
    text: str | None = None,
    at: dt.datetime | None = None,
    message_id: str | None = None,
    context_id: str | None = None,
) -> dict[str, Any]:
    """A ``messages[]`` item from the sample of ``kind``, from ``sender`` (E.164), with a fresh
    provider id, sent ``at`` (default: now, to the second, as the provider writes it)."""
    item = copy.deepcopy(sample_message(kind))
    item["from"] = sender.lstrip("+")
    item["id"] = message_id or f"wamid.test-{uuid.uuid4().hex}"
    item["timestamp"] = unix(at or dt.datetime.now(dt.UTC))
    if text is not None:
        item["text"] = {"body": text}
    if context_id is not None:
        item["context"] = {"from": "33185000000", "id": context_id}
    return item


def webhook(phone_number_id: str, *items: Any, name: str = "Camille") -> dict[str, Any]:
    """One change of ``phone_number_id`` carrying ``items``, as the Cloud API sends them."""
    body = copy.deepcopy(payload("whatsapp_message_text"))
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    senders = dict.fromkeys(i["from"] for i in items if isinstance(i, dict) and "from" in i)
    value["contacts"] = [{"profile": {"name": name}, "wa_id": s} for s in senders]
    value["messages"] = list(items)
    return body


def signature(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


async def deliver(client: httpx.AsyncClient, body: dict[str, Any] | bytes) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(raw)},
    )


@pytest.fixture
async def hooks(database_url: str, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a WhatsApp app secret: webhooks and the ops API."""
    settings = make_settings(database_url, whatsapp_app_secret=APP_SECRET)
    app = create_app(settings, container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def own_number(make_restaurant: MakeRestaurant, **overrides: Any) -> Tenant:
    """A restaurant on a WhatsApp business number of its own."""
    whatsapp = {**DEFAULT_WHATSAPP, "phone_number_id": f"pn-{uuid.uuid4().hex[:12]}"}
    return await make_restaurant(whatsapp=whatsapp, **overrides)


def pnid(tenant: Tenant) -> str:
    assert tenant.restaurant.whatsapp.phone_number_id is not None
    return tenant.restaurant.whatsapp.phone_number_id


async def report_missed(
    client: httpx.AsyncClient, tenant: Tenant, number: str | None = None
) -> dict[str, Any]:
    """A missed call through the partner API; its message is sent inline (respx Graph)."""
    reply = await client.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": number or random_mobile()},
        headers=tenant.auth(TokenKind.PARTNER),
    )
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


async def stored_messages(container: Container, tenant: Tenant) -> list[Any]:
    """The restaurant's conversation messages, oldest first."""
    m = conversation_message.c
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            select(conversation_message, customer.c.phone_number)
            .select_from(
                conversation_message.join(
                    conversation, conversation.c.id == m.conversation_id
                ).join(customer, customer.c.id == conversation.c.customer_id)
            )
            .where(m.restaurant_id == tenant.id)
            .order_by(m.sent_at, m.id)
        )
        return list(rows)


async def conversations_of(container: Container, tenant: Tenant) -> list[Any]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            select(conversation).where(conversation.c.restaurant_id == tenant.id)
        )
        return list(rows)


async def call_replied_at(container: Container, call_id: str | int) -> dt.datetime | None:
    async with container.engine.connect() as conn:
        value: dt.datetime | None = await conn.scalar(
            select(call.c.replied_at).where(call.c.id == int(call_id))
        )
        return value


async def message_of_call(container: Container, call_id: str | int) -> Any:
    async with container.engine.connect() as conn:
        return (await conn.execute(select(message).where(message.c.call_id == int(call_id)))).one()
