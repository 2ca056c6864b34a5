"""Shared helpers of the CCAI call API tests: a restaurant configured like the seed's examples."""

from __future__ import annotations

import base64
import copy
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.conftest import MakeRestaurant, Tenant

APPS = "/apps/api/v1"
MANAGER = "/manager/api/v1"

OUTBOUND = "Voice Outbound (API)"
INBOUND = "Voice Inbound (API)"
SCHEDULED = "Voice Scheduled (API)"

DEFAULT_OUTBOUND = "+1 339-219-5276"
OTHER_OUTBOUND = "+1 760-410-8538"

CCAI: dict[str, Any] = {
    "languages": ["en"],
    "menus": [
        {
            "id": 9,
            "name": "Lock Star",
            "menu_type": "ivr_menu",
            "state": "open",
            "output_msg": "You selected Lock Star.",
        },
        {"id": 10, "name": "App", "menu_type": "mobile_menu", "state": "open"},
        {"id": 11, "name": "Web", "menu_type": "web_menu", "state": "open"},
        {"id": 12, "name": "Late", "menu_type": "ivr_menu", "state": "after_hours"},
        {"id": 13, "name": "Redirected", "menu_type": "ivr_menu", "state": "manual_redirection"},
        {"id": 14, "name": "Late app", "menu_type": "mobile_menu", "state": "after_hours"},
        {
            "id": 15,
            "name": "Redirected app",
            "menu_type": "mobile_menu",
            "state": "manual_redirection",
        },
        {"id": 50, "name": "Web only", "menu_type": "web_menu", "state": "open"},
        {"id": 51, "name": "Phone only", "menu_type": "ivr_menu", "state": "open"},
        {
            "id": 60,
            "name": "Desserts",
            "menu_type": "mobile_menu",
            "parent_id": 10,
            "position": 2,
        },
    ],
    "agents": [
        {
            "id": 1,
            "email": "admin@somedomain.com",
            "name": "Admin UJET",
            "first_name": "Admin",
            "last_name": "UJET",
            "available": True,
            "can_call": True,
            "avatar_url": "https://somedomain.com/avatar.jpg",
        },
        {
            "id": 2,
            "email": "agent@somedomain.com",
            "name": "Busy Agent",
            "available": False,
            "can_call": True,
        },
        {
            "id": 3,
            "email": "allen@somedomain.com",
            "name": "Allen",
            "available": True,
            "can_call": False,
        },
    ],
    "outbound_numbers": [
        {"number": DEFAULT_OUTBOUND, "default": True},
        {"number": OTHER_OUTBOUND, "default": False},
    ],
    "tickets": [
        {"ticket_id": "71450", "phone_number": "+1 859-657-9625"},
        {"ticket_id": "76517", "phone_number": "+1 859-657-9625"},
    ],
}


def ccai_settings(**overrides: Any) -> dict[str, Any]:
    settings = copy.deepcopy(CCAI)
    settings.update(overrides)
    return settings


async def make_ccai_restaurant(make_restaurant: MakeRestaurant, **overrides: Any) -> Tenant:
    """A restaurant with the seed-like CCAI settings; CCAI keys override those, others the rest."""
    ccai_keys = {k: v for k, v in overrides.items() if k in CCAI}
    others = {k: v for k, v in overrides.items() if k not in CCAI}
    return await make_restaurant(ccai=ccai_settings(**ccai_keys), **others)


def basic(tenant: Tenant, token: str | None = None, slug: str | None = None) -> dict[str, str]:
    user = slug if slug is not None else tenant.restaurant.slug
    secret = token if token is not None else tenant.tokens[TokenKind.CCAI]
    encoded = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def future(hours: float = 2) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture
async def ccai(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The in-process app with the CCAI rate limit off (one test's requests come in bursts)."""
    app = create_app(settings.model_copy(update={"ccai_rate_limit_per_second": 0}), container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def create_call(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{APPS}/calls", json=body, headers=basic(tenant))


async def created(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> dict[str, Any]:
    reply = await create_call(client, tenant, body)
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()
    return data


async def move(
    client: httpx.AsyncClient, tenant: Tenant, call_id: int, **body: Any
) -> httpx.Response:
    return await client.patch(f"{APPS}/calls/{call_id}", json=body, headers=basic(tenant))


async def moved(
    client: httpx.AsyncClient, tenant: Tenant, call_id: int, **body: Any
) -> dict[str, Any]:
    reply = await move(client, tenant, call_id, **body)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def inbound_body(number: str, **extra: Any) -> dict[str, Any]:
    return {"call_type": INBOUND, "lang": "en", "menu_id": 9, "end_user_number": number, **extra}


def outbound_body(number: str, **extra: Any) -> dict[str, Any]:
    return {
        "call_type": OUTBOUND,
        "agent_email": "admin@somedomain.com",
        "end_user_number": number,
        "lang": "en",
        **extra,
    }


def scheduled_body(number: str, **extra: Any) -> dict[str, Any]:
    return {
        "call_type": SCHEDULED,
        "lang": "en",
        "menu_id": 10,
        "end_user_number": number,
        "scheduled_at": future(),
        **extra,
    }
