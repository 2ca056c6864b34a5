"""``ringback demo`` (SPEC §1, §10): the demo restaurant with its customers, reservation and
fresh tokens, printed with the dashboard's address, a working ``curl`` and the reply command; and
``ringback demo --reply TEXT``, which posts to a running server what the WhatsApp Cloud API would
— a ``messages`` webhook of the demo restaurant's business number from the demo caller, signed
``X-Hub-Signature-256`` with the app secret (the configured one, else the sandbox's) — so a
newcomer sees a conversation in the dashboard offline.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import hmac
import json
import secrets
import shlex
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import phonenumbers
from pydantic import SecretStr
from sqlalchemy import func, update

from ringback.admin.schemas import RestaurantOut
from ringback.bootstrap import Container
from ringback.db.tables import ApiTokenRow
from ringback.doors.partner.queries import CustomerInput, ReservationInput
from ringback.relay.phone import read_number
from ringback.settings import SANDBOX_APP_SECRET
from ringback.tenancy.model import TokenKind, mint_token
from ringback.tenancy.stored import settings_from_columns

DEFAULT_URL = "http://127.0.0.1:8000"
DEMO_SLUG = "demo-bistro"
DEMO_TOKEN_NAME = "demo"  # noqa: S105 - a label, not a secret
DEMO_CUSTOMERS = (
    CustomerInput("+33612345678", name="Camille Martin", lang="fr", external_id="demo-cust-1"),
    CustomerInput("+33698765432", name="Julien Bernard", lang="fr", external_id="demo-cust-2"),
    CustomerInput("+33781234567", name="Sofia Rossi", lang="it", external_id="demo-cust-3"),
)
DEMO_CALLER = DEMO_CUSTOMERS[0].phone_number
"""Who writes with ``ringback demo --reply`` unless ``--from`` says otherwise."""
DEMO_REPLY_TEXT = "Bonjour, une table pour deux ce soir ?"


def demo_settings() -> dict[str, Any]:
    return {
        "name": "Demo Bistro",
        "country": "FR",
        "timezone": "Europe/Paris",
        "missed_calls_enabled": True,
        "whatsapp": {
            "phone_number_id": "100000000000001",
            "access_token": "demo-access-token",
            "templates": {
                "MISSED_CALL": {"name": "missed_call", "language": "fr"},
                "MISSED_CALL_WITH_RESERVATION": {"name": "missed_call_resa", "language": "fr"},
                "CALLBACK_UNANSWERED": {"name": "callback_unanswered", "language": "fr"},
            },
            "fallback_first_name": "there",
        },
        "ccai": DEMO_CCAI,
    }


DEMO_CCAI: dict[str, Any] = {
    "languages": ["en", "fr"],
    "menus": [
        {"id": 1, "name": "Reservations", "menu_type": "ivr_menu", "state": "open",
         "output_msg": "You selected reservations."},
        {"id": 2, "name": "App callback", "menu_type": "mobile_menu", "state": "open"},
        {"id": 3, "name": "Web callback", "menu_type": "web_menu", "state": "open"},
    ],
    "agents": [
        {"id": 1, "email": "host@demo-bistro.example", "name": "Alex Host",
         "first_name": "Alex", "last_name": "Host", "available": True, "can_call": True},
    ],
    "outbound_numbers": [{"number": "+33184880000", "default": True}],
    "tickets": [{"ticket_id": "T-1001", "phone_number": "+33612345678"}],
}  # fmt: skip


def random_french_mobile() -> str:
    """A valid French mobile number nobody in the demo has called from yet (dodges the cooldown)."""
    while True:
        candidate = f"+336{secrets.randbelow(10**8):08d}"
        parsed = phonenumbers.parse(candidate)
        if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE:
            return candidate


async def demo(container: Container, args: argparse.Namespace) -> int:
    """Upsert the demo restaurant, its customers and reservation; replace its demo tokens."""
    store = container.tenancy
    existing = await store.restaurant_by_slug(DEMO_SLUG)
    given = demo_settings()
    settings = settings_from_columns(given)
    # a rerun rewrites the demo's own settings only: an admin's cooldown or quiet hours stay
    updated = (
        await store.update_restaurant(existing.id, settings, columns=given.keys())
        if existing
        else None
    )
    stored = updated or await store.create_restaurant(settings, slug=DEMO_SLUG)
    restaurant_id = stored.id
    await container.directory.upsert_customers(restaurant_id, DEMO_CUSTOMERS)
    tomorrow = dt.datetime.now(ZoneInfo("Europe/Paris")).date() + dt.timedelta(days=1)
    start_at = dt.datetime.combine(tomorrow, dt.time(20, 0), ZoneInfo("Europe/Paris"))
    await container.directory.upsert_reservations(
        restaurant_id,
        [ReservationInput("demo-resa-1", start_at, 2, "CONFIRMED", DEMO_CUSTOMERS[0])],
    )
    async with container.database.connection() as conn:  # one statement: autocommit
        await conn.execute(
            update(ApiTokenRow)
            .where(
                ApiTokenRow.restaurant_id == restaurant_id,
                ApiTokenRow.name == DEMO_TOKEN_NAME,
                ApiTokenRow.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )
    tokens: dict[str, dict[str, str]] = {}
    for kind in TokenKind:
        token = mint_token(kind)
        token_id = await store.create_token(restaurant_id, kind, token, DEMO_TOKEN_NAME)
        tokens[kind.value] = {"id": str(token_id), "token": token}
    caller = random_french_mobile()
    curl = demo_curl(args.base_url, tokens["partner"]["token"], caller)
    dashboard = f"{args.base_url.rstrip('/')}/ops"
    reply = reply_command(args.base_url, caller)
    restaurant = RestaurantOut.from_stored(stored).model_dump(mode="json")
    if args.json:
        shown = {"restaurant": restaurant, "tokens": tokens, "curl": curl}
        print(json.dumps({**shown, "dashboard": dashboard, "reply": reply}))
        return 0
    print(f'Demo restaurant "{stored.settings.name}" is ready: id {stored.id}, slug {stored.slug}.')
    print("Tokens (running `ringback demo` again revokes these and mints new ones):")
    for kind_name, minted in tokens.items():
        print(f"  {kind_name:<8} {minted['token']}")
    print(f"Customer with a reservation tomorrow at 20:00: {DEMO_CUSTOMERS[0].phone_number}")
    print(f"Dashboard: {dashboard}  (sign in with the ops token: {tokens['ops']['token']})")
    print("Report a missed call:")
    print(f"  {curl}")
    print("Then reply as that caller, and see the conversation in the dashboard:")
    print(f"  {reply}")
    return 0


def ringback_executable() -> str:
    """How to run ``ringback`` from here: the console script beside this Python (``make run``
    installs it in ``.venv``, which a newcomer's shell has not activated), relative to the
    current directory when it is under it; plain ``ringback`` when there is none."""
    script = Path(sys.executable).with_name("ringback")
    if not script.exists():
        return "ringback"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def reply_command(base_url: str, caller: str) -> str:
    command = [ringback_executable(), "demo", "--reply", DEMO_REPLY_TEXT, "--from", caller]
    if base_url.rstrip("/") != DEFAULT_URL:
        command += ["--url", base_url]
    return shlex.join(command)


async def demo_reply(container: Container, args: argparse.Namespace) -> int:
    """Post a signed WhatsApp message from the demo caller to the running server."""
    restaurant = await container.tenancy.restaurant_by_slug(DEMO_SLUG)
    phone_number_id = restaurant.whatsapp.phone_number_id if restaurant else None
    if restaurant is None or not phone_number_id:
        print("ringback: no demo restaurant yet: run `ringback demo` first", file=sys.stderr)
        return 1
    sender = read_number(args.sender, restaurant.country).e164
    if sender is None:
        print(f"ringback: --from: {args.sender!r} is not a phone number", file=sys.stderr)
        return 2
    text = args.reply.strip()
    if not text:
        print("ringback: --reply: the text is blank", file=sys.stderr)
        return 2
    known = {c.phone_number: c.name for c in DEMO_CUSTOMERS}
    reply = DemoReply(
        args.base_url, phone_number_id, sender, text, known.get(sender) or "Demo caller"
    )
    try:
        posted = await asyncio.to_thread(
            post_reply, reply, app_secret(container.settings.whatsapp_app_secret)
        )
    except httpx.HTTPError as error:
        print(
            f"ringback: no server answered at {args.base_url} ({type(error).__name__}): "
            "start it with `make run` (or `ringback serve --sandbox`)",
            file=sys.stderr,
        )
        return 1
    if posted.status == 401:
        print(
            "ringback: the server refused the signature: it checks WHATSAPP_APP_SECRET, which "
            "this command must share (unset on both sides under `serve --sandbox`)",
            file=sys.stderr,
        )
        return 1
    if posted.status != 200:
        print(f"ringback: the server answered HTTP {posted.status}", file=sys.stderr)
        return 1
    print(f"{sender} wrote to {restaurant.name}: {text!r} ({posted.provider_message_id})")
    print(f"See it in the dashboard's inbox: {args.base_url.rstrip('/')}/ops/inbox")
    return 0


def demo_curl(base_url: str, partner_token: str, caller: str | None = None) -> str:
    body = json.dumps(
        {
            "caller_phone_number": caller or random_french_mobile(),
            "external_call_id": f"demo-{uuid.uuid4().hex[:12]}",
        }
    )
    return shlex.join(
        [
            "curl", "-sS", "-X", "POST", f"{base_url.rstrip('/')}/api/partner/v1/missed-calls",
            "-H", f"Authorization: Bearer {partner_token}",
            "-H", "Content-Type: application/json",
            "-d", body,
        ]
    )  # fmt: skip


# --- the reply: a signed webhook to the running server ---------------------------------------


@dataclass(frozen=True, slots=True)
class DemoReply:
    url: str
    phone_number_id: str
    sender: str
    """E.164."""
    text: str
    profile_name: str


@dataclass(frozen=True, slots=True)
class Posted:
    status: int
    provider_message_id: str


def webhook_body(reply: DemoReply, message_id: str, at: dt.datetime) -> dict[str, Any]:
    wa_id = reply.sender.lstrip("+")
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "demo-waba",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "33185000000",
                                "phone_number_id": reply.phone_number_id,
                            },
                            "contacts": [{"profile": {"name": reply.profile_name}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": message_id,
                                    "timestamp": str(int(at.timestamp())),
                                    "type": "text",
                                    "text": {"body": reply.text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def signature(raw: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def app_secret(configured: SecretStr | None) -> str:
    return configured.get_secret_value() if configured else SANDBOX_APP_SECRET


def post_reply(reply: DemoReply, secret: str, *, timeout: float = 10.0) -> Posted:
    """Sign and post the webhook; raises ``httpx.HTTPError`` when no server answers."""
    message_id = f"wamid.demo-{uuid.uuid4().hex}"
    raw = json.dumps(webhook_body(reply, message_id, dt.datetime.now(dt.UTC))).encode()
    answer = httpx.post(
        f"{reply.url.rstrip('/')}/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(raw, secret)},
        timeout=timeout,
    )
    return Posted(answer.status_code, message_id)
