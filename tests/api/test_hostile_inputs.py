"""Hostile inputs on the compat doors: Zoho, the WhatsApp and Telnyx webhooks, the CCAI call API.

Bodies over and exactly at the 256 KiB limit, bytes that are not UTF-8, JSON nested 10,000 deep,
wrong content types, injected strings (SQL, NUL, ``%00``, lone surrogates, 5,000-digit numbers,
RTL marks and emoji) and repeated parameters. Every reply is the door's own shape, never a 5xx,
and a call stored before the hostile request is still there, unchanged, afterwards.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import respx
from nacl.signing import SigningKey
from sqlalchemy import select

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.db.tables import call
from ringback.tenancy.model import TokenKind
from tests.api.ccai_support import basic, ccai_settings, inbound_body
from tests.conftest import MakeRestaurant, Tenant, make_settings, random_mobile

pytestmark = pytest.mark.sql

LIMIT = 256 * 1024
APP_SECRET = "hostile-app-secret-0b1c"
PAYLOADS = Path(__file__).parent.parent / "payloads"

SQL = "'; DROP TABLE call; --"
NUL = "abc\x00def"
LONG_NUMBER = "9" * 5000
RTL_EMOJI = "\u202e+33612345678\U0001f600\u200f"
NESTED = b"[" * 10_000 + b"]" * 10_000
NOT_UTF8 = b"\xff\xfe\xfa\xc3\x28\xa0\xa1"


@pytest.fixture
async def hostile(
    database_url: str, container: Container, graph: respx.MockRouter
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a WhatsApp app secret, the CCAI rate limit off, the Graph API mocked."""
    settings = make_settings(
        database_url, whatsapp_app_secret=APP_SECRET, ccai_rate_limit_per_second=0
    )
    app = create_app(settings, container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@dataclass
class Victim:
    """A restaurant on every door, with one call already stored (which must survive)."""

    tenant: Tenant
    key: SigningKey
    stored: list[Any] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.tenant.restaurant.slug

    @property
    def phone_number_id(self) -> str:
        return str(self.tenant.restaurant.whatsapp.phone_number_id)


@pytest.fixture
async def victim(
    hostile: httpx.AsyncClient, container: Container, make_restaurant: MakeRestaurant
) -> AsyncIterator[Victim]:
    key = SigningKey.generate()
    tenant = await make_restaurant(
        telnyx_public_key=base64.b64encode(bytes(key.verify_key)).decode(),
        ccai=ccai_settings(),
    )
    stored = await hostile.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": random_mobile(), "external_call_id": "kept-1"},
        headers=tenant.auth(),
    )
    assert stored.status_code == 201
    victim = Victim(tenant, key)
    victim.stored = await calls_of(container, tenant)
    yield victim
    after = {row.id: row for row in await calls_of(container, tenant)}
    for row in victim.stored:
        assert after.get(row.id) == row, "a call stored before the hostile request changed"


async def calls_of(container: Container, tenant: Tenant) -> list[Any]:
    query = (
        select(call.c.id, call.c.external_id, call.c.caller_phone_number, call.c.outcome)
        .where(call.c.restaurant_id == tenant.id)
        .order_by(call.c.id)
    )
    async with container.engine.connect() as conn:
        return list((await conn.execute(query)).all())


def pad_json(raw: bytes, size: int = LIMIT) -> bytes:
    """JSON allows trailing whitespace: the same document, exactly ``size`` bytes long."""
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


# --- Zoho PhoneBridge ----------------------------------------------------------------------------


def zoho_form(**overrides: str) -> str:
    fields = {
        "type": "received",
        "state": "missed",
        "id": uuid.uuid4().hex,
        "from": random_mobile(),
        "to": "+33140000000",
        "start_time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        **overrides,
    }
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in fields.items())


def zoho_at_limit() -> bytes:
    form = zoho_form() + "&zohouser="
    return (form + "x" * (LIMIT - len(form))).encode()


FORM = "application/x-www-form-urlencoded"
ZOHO_CASES: dict[str, tuple[Callable[[], bytes], str, int]] = {
    "over_the_limit": (lambda: zoho_at_limit() + b"x", FORM, 400),
    "exactly_at_the_limit": (zoho_at_limit, FORM, 200),
    "not_utf8": (lambda: zoho_form().encode() + b"&zohouser=" + NOT_UTF8, FORM, 400),
    "nested_json": (lambda: NESTED, "application/json", 400),
    "json_instead_of_a_form": (
        lambda: json.dumps({"type": "received", "state": "missed"}).encode(),
        "application/json",
        400,
    ),
    "sql_in_id": (lambda: zoho_form(id=SQL).encode(), FORM, 200),
    "nul_in_id": (lambda: zoho_form(id=NUL).encode(), FORM, 400),
    "nul_in_from": (lambda: zoho_form(**{"from": "+336\x0012345678"}).encode(), FORM, 400),
    "raw_pct00_in_id": (lambda: zoho_form().encode() + b"&id=x%00y", FORM, 400),
    # refused, as on every door: a random one that long would not fit the call's index (a 500)
    "long_number": (lambda: zoho_form(**{"from": LONG_NUMBER}).encode(), FORM, 400),
    "rtl_and_emoji": (lambda: zoho_form(**{"from": RTL_EMOJI}).encode(), FORM, 200),
    "repeated_parameters": (
        lambda: (zoho_form() + "&id=" + uuid.uuid4().hex + "&type=dialed&type=received").encode(),
        FORM,
        200,
    ),
}


@pytest.mark.parametrize("case", list(ZOHO_CASES))
async def test_zoho_callnotify_answers_hostile_input_in_zoho_shape_without_a_5xx(
    hostile: httpx.AsyncClient, victim: Victim, case: str
) -> None:
    body, content_type, expected = ZOHO_CASES[case]
    reply = await hostile.post(
        "/phonebridge/v3/callnotify",
        content=body(),
        headers={
            "Authorization": f"Zoho-oauthtoken {victim.tenant.tokens[TokenKind.ZOHO]}",
            "Content-Type": content_type,
        },
    )
    assert reply.status_code == expected, reply.text
    answer = reply.json()
    if expected == 200:
        assert answer == {"status": "success", "code": "SUCCESS"}
    else:
        assert answer["status"] == "error"
        assert answer["code"] in {"INVALID_PARAM_VALUE", "REQUIRED_PARAM_MISSING"}


# --- WhatsApp webhook ----------------------------------------------------------------------------


def whatsapp_text(victim: Victim, sender: str, text: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(
        json.loads((PAYLOADS / "whatsapp_message_stop.json").read_text())
    )
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = victim.phone_number_id
    value["contacts"][0]["wa_id"] = sender
    value["messages"][0]["from"] = sender
    value["messages"][0]["text"]["body"] = text
    return body


def whatsapp_json(victim: Victim, sender: str = "33612345678", text: str = "hello") -> bytes:
    return json.dumps(whatsapp_text(victim, sender, text)).encode()


WHATSAPP_CASES: dict[str, tuple[Callable[[Victim], bytes], str, int]] = {
    "over_the_limit": (lambda v: pad_json(whatsapp_json(v), LIMIT + 1), "application/json", 413),
    "exactly_at_the_limit": (lambda v: pad_json(whatsapp_json(v)), "application/json", 200),
    "not_utf8": (lambda v: NOT_UTF8, "application/json", 400),
    "nested_json": (lambda v: NESTED, "application/json", 400),
    "text_plain": (lambda v: whatsapp_json(v), "text/plain", 200),
    "sql_sender": (lambda v: whatsapp_json(v, sender=SQL, text="STOP"), "application/json", 200),
    "nul_sender": (lambda v: whatsapp_json(v, sender=NUL, text="STOP"), "application/json", 200),
    "nul_text": (lambda v: whatsapp_json(v, text="ST\x00OP"), "application/json", 200),
    "lone_surrogate": (
        lambda v: whatsapp_json(v).replace(b'"hello"', b'"\\ud800"'),
        "application/json",
        400,
    ),
    # a malformed message item is skipped and logged, the rest of the batch kept (SPEC §10)
    "long_sender": (
        lambda v: whatsapp_json(v, sender=LONG_NUMBER, text="STOP"),
        "application/json",
        200,
    ),
    "rtl_and_emoji": (
        lambda v: whatsapp_json(v, sender=RTL_EMOJI, text="\u202eSTOP\U0001f600"),
        "application/json",
        200,
    ),
    "repeated_keys": (
        lambda v: whatsapp_json(v).replace(b"{", b'{"object": "x", ', 1),
        "application/json",
        200,
    ),
}


@pytest.mark.parametrize("case", list(WHATSAPP_CASES))
async def test_whatsapp_webhook_answers_hostile_input_in_the_envelope_without_a_5xx(
    hostile: httpx.AsyncClient, victim: Victim, case: str
) -> None:
    make, content_type, expected = WHATSAPP_CASES[case]
    raw = make(victim)
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    reply = await hostile.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": content_type, "X-Hub-Signature-256": signature},
    )
    assert reply.status_code == expected, reply.text
    answer = reply.json()
    if expected == 200:
        assert answer == {"status": "ok"}
    else:
        assert set(answer["error"]) == {"code", "message", "request_id", "details"}


# --- Telnyx webhook ------------------------------------------------------------------------------


def telnyx_json(**payload: Any) -> bytes:
    body: dict[str, Any] = json.loads((PAYLOADS / "telnyx_call_hangup.json").read_text())
    now = dt.datetime.now(dt.UTC)
    body["data"]["id"] = str(uuid.uuid4())
    body["data"]["occurred_at"] = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    values = body["data"]["payload"]
    values["call_session_id"] = str(uuid.uuid4())
    values["from"] = random_mobile()
    values["start_time"] = (now - dt.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    values.update(payload)
    return json.dumps(body).encode()


TELNYX_CASES: dict[str, tuple[Callable[[], bytes], int]] = {
    "over_the_limit": (lambda: pad_json(telnyx_json(), LIMIT + 1), 413),
    "exactly_at_the_limit": (lambda: pad_json(telnyx_json()), 200),
    "not_utf8": (lambda: NOT_UTF8, 400),
    "nested_json": (lambda: NESTED, 400),
    "sql_session": (lambda: telnyx_json(call_session_id=SQL), 200),
    "nul_session": (lambda: telnyx_json(call_session_id=NUL), 422),
    "nul_number": (lambda: telnyx_json(**{"from": "+336\x0012345678"}), 422),
    "lone_surrogate": (lambda: telnyx_json(hangup_source="\ud800"), 400),
    "long_number": (lambda: telnyx_json(**{"from": LONG_NUMBER}), 400),
    "rtl_and_emoji": (lambda: telnyx_json(**{"from": RTL_EMOJI}), 200),
    "repeated_keys": (lambda: telnyx_json().replace(b"{", b'{"data": {}, ', 1), 200),
}


@pytest.mark.parametrize("case", list(TELNYX_CASES))
async def test_telnyx_webhook_answers_hostile_input_in_the_envelope_without_a_5xx(
    hostile: httpx.AsyncClient, victim: Victim, case: str
) -> None:
    make, expected = TELNYX_CASES[case]
    raw = make()
    stamp = str(int(time.time()))
    signed = victim.key.sign(stamp.encode() + b"|" + raw).signature
    reply = await hostile.post(
        f"/webhooks/telnyx/{victim.slug}",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "telnyx-timestamp": stamp,
            "telnyx-signature-ed25519": base64.b64encode(signed).decode(),
        },
    )
    assert reply.status_code == expected, reply.text
    answer = reply.json()
    if expected == 200:
        assert answer in ({"status": "ok"}, {"status": "ignored"})
    else:
        assert set(answer["error"]) == {"code", "message", "request_id", "details"}


@pytest.mark.parametrize(
    ("slug", "status", "code"),
    [
        ("x%00y", 422, "VALIDATION_ERROR"),  # PostgreSQL cannot even look a NUL up
        (quote(SQL, safe=""), 401, "UNAUTHORIZED"),
        ("%F0%9F%98%80" * 50, 401, "UNAUTHORIZED"),
        ("%ff%fe", 401, "UNAUTHORIZED"),
    ],
)
async def test_telnyx_webhook_with_a_hostile_slug_is_refused_in_the_envelope(
    hostile: httpx.AsyncClient, victim: Victim, slug: str, status: int, code: str
) -> None:
    reply = await hostile.post(f"/webhooks/telnyx/{slug}", content=telnyx_json())
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)


# --- CCAI call API -------------------------------------------------------------------------------


def ccai_json(**overrides: Any) -> bytes:
    return json.dumps({**inbound_body(random_mobile()), **overrides}).encode()


CCAI_CASES: dict[str, tuple[Callable[[], bytes], str, int]] = {
    "over_the_limit": (lambda: pad_json(ccai_json(), LIMIT + 1), "application/json", 413),
    "exactly_at_the_limit": (lambda: pad_json(ccai_json()), "application/json", 201),
    "not_utf8": (lambda: NOT_UTF8, "application/json", 400),
    "nested_json": (lambda: NESTED, "application/json", 400),
    "form_instead_of_json": (lambda: b"call_type=x&lang=en", FORM, 400),
    "sql_number": (lambda: ccai_json(end_user_number=SQL), "application/json", 400),
    "nul_number": (lambda: ccai_json(end_user_number="+336\x0012345678"), "application/json", 400),
    "nul_lang": (lambda: ccai_json(lang=NUL), "application/json", 400),
    "lone_surrogate": (
        lambda: ccai_json(lang="LANG").replace(b'"LANG"', b'"\\ud800"'),
        "application/json",
        400,
    ),
    "long_number": (lambda: ccai_json(end_user_number=LONG_NUMBER), "application/json", 400),
    "rtl_and_emoji": (lambda: ccai_json(end_user_number=RTL_EMOJI), "application/json", 400),
    "repeated_keys": (
        lambda: ccai_json().replace(b"{", b'{"lang": "xx", ', 1),
        "application/json",
        201,
    ),
}


@pytest.mark.parametrize("case", list(CCAI_CASES))
async def test_ccai_create_call_answers_hostile_input_in_ccai_shape_without_a_5xx(
    hostile: httpx.AsyncClient, victim: Victim, case: str
) -> None:
    make, content_type, expected = CCAI_CASES[case]
    reply = await hostile.post(
        "/apps/api/v1/calls",
        content=make(),
        headers={**basic(victim.tenant), "Content-Type": content_type},
    )
    assert reply.status_code == expected, reply.text
    answer = reply.json()
    if expected == 201:
        assert isinstance(answer["id"], int)
    else:
        assert list(answer) == ["message"]
        assert isinstance(answer["message"], str)
