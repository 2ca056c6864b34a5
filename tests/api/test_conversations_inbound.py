"""Inbound WhatsApp messages through the signed webhook, stored in real PostgreSQL (SPEC §10):
every type of the Cloud API as its sample in tests/payloads, once per provider id, in the
conversation of the restaurant that owns the business number."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from ringback.app import create_app
from ringback.bootstrap import Container
from ringback.db.tables import conversation_message, customer
from tests.api.conversations_support import (
    APP_SECRET,
    INBOUND_TYPES,
    conversations_of,
    deliver,
    hooks,
    inbound,
    own_number,
    pnid,
    stored_messages,
    webhook,
)
from tests.conftest import DEFAULT_WHATSAPP, MakeRestaurant, make_settings, random_mobile

pytestmark = pytest.mark.sql
__all__ = ["hooks"]

TEMPLATE_WAMID = "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBI5QTdDNUQ2RTRGM0IyQTEwMAA="

# type, text, media (id, mime type), context id, details: what each sample must be stored as
EXPECTED: dict[str, tuple[str, str | None, tuple[str, str] | None, str | None, dict[str, Any]]] = {
    "text": (
        "text",
        "Bonjour, vous avez une table pour deux ce soir vers 20h ?",
        None,
        TEMPLATE_WAMID,
        {},
    ),
    "button": ("button", "Rappelez-moi", None, TEMPLATE_WAMID, {"payload": "CALL_ME_BACK"}),
    "interactive_button_reply": (
        "interactive",
        "Je confirme",
        None,
        "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBJCOEU2RjdBMDlDMUQyRTNGNAA=",
        {"interactive_type": "button_reply", "reply_id": "confirm-resa-2291"},
    ),
    "interactive_list_reply": (
        "interactive",
        "20:30",
        None,
        "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBJDOUY3MDhCMUFEMkUzRjQ1AA=",
        {
            "interactive_type": "list_reply",
            "reply_id": "slot-2030",
            "description": "Terrasse, 2 personnes",
        },
    ),
    "image": (
        "image",
        "La table près de la fenêtre, c'est possible ?",
        ("1479537139650973", "image/jpeg"),
        None,
        {"sha256": "jG2Pp1y3m3a7k1q0nTn3vJ0Q6e4sXhXhJ3r4l8m2b5E="},
    ),
    "audio": (
        "audio",
        None,
        ("908277624813356", "audio/ogg; codecs=opus"),
        None,
        {"sha256": "4cR8bPp1l3F2lQm1JYv9X5Vq0p8kq2Xo0uYc4b9yT0k=", "voice": True},
    ),
    "video": (
        "video",
        "Le gâteau pour l'anniversaire",
        ("1062311285398170", "video/mp4"),
        None,
        {"sha256": "nTn3vJ0Q6e4sXhXhJ3r4l8m2b5EjG2Pp1y3m3a7k1q0="},
    ),
    "document": (
        "document",
        "Notre menu de groupe",
        ("2154071531723451", "application/pdf"),
        None,
        {
            "sha256": "Xo0uYc4b9yT0k4cR8bPp1l3F2lQm1JYv9X5Vq0p8kq2=",
            "filename": "menu-groupe-juin.pdf",
        },
    ),
    "sticker": (
        "sticker",
        None,
        ("827350905612733", "image/webp"),
        None,
        {"sha256": "lQm1JYv9X5Vq0p8kq2Xo0uYc4b9yT0k4cR8bPp1l3F2=", "animated": False},
    ),
    "location": (
        "location",
        None,
        None,
        None,
        {
            "latitude": 48.8566,
            "longitude": 2.3522,
            "name": "Parking Saint-Germain",
            "address": "169 Boulevard Saint-Germain, 75006 Paris",
            "url": "https://maps.example/parking-saint-germain",
        },
    ),
    "contacts": (
        "contacts",
        None,
        None,
        None,
        {
            "contacts": [
                {
                    "name": {
                        "formatted_name": "Julien Bernard",
                        "first_name": "Julien",
                        "last_name": "Bernard",
                    },
                    "phones": [
                        {"phone": "+33 6 98 76 54 32", "wa_id": "33698765432", "type": "CELL"}
                    ],
                    "emails": [{"email": "julien.bernard@example.com", "type": "HOME"}],
                    "org": {"company": "Bernard & Fils"},
                }
            ]
        },
    ),
    "reaction": ("reaction", "\U0001f44d", None, TEMPLATE_WAMID, {}),
    "unsupported": (
        "other",
        None,
        None,
        None,
        {
            "provider_type": "unsupported",
            "errors": [{"code": 131051, "title": "Message type unknown"}],
        },
    ),
}


def test_every_sample_has_its_expectation() -> None:
    assert set(EXPECTED) == set(INBOUND_TYPES)


@pytest.mark.parametrize("kind", INBOUND_TYPES)
async def test_each_message_type_is_stored_with_its_type_text_media_and_context(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container, kind: str
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    item = inbound(kind, sender=sender)

    reply = await deliver(hooks, webhook(pnid(tenant), item, name="Camille Martin"))

    assert reply.status_code == 200, reply.text
    (row,) = await stored_messages(container, tenant)
    stored_type, stored_text, media, context_id, details = EXPECTED[kind]
    assert (row.direction, row.type, row.text) == ("inbound", stored_type, stored_text)
    assert (row.media_id, row.media_mime_type) == (media or (None, None))
    assert row.context_id == context_id
    assert row.details == details
    assert row.provider_message_id == item["id"]
    assert row.phone_number == sender
    assert row.sent_at == dt.datetime.fromtimestamp(int(item["timestamp"]), dt.UTC)
    (chat,) = await conversations_of(container, tenant)
    assert (chat.last_direction, chat.last_type, chat.unread_count) == ("inbound", stored_type, 1)
    assert chat.profile_name == "Camille Martin"


async def test_a_sender_who_is_not_a_customer_becomes_one(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()

    await deliver(hooks, webhook(pnid(tenant), inbound(sender=sender, text="Bonsoir")))

    async with container.engine.connect() as conn:
        found = (
            await conn.execute(
                select(customer.c.opted_out_at).where(
                    customer.c.restaurant_id == tenant.id, customer.c.phone_number == sender
                )
            )
        ).one()
    assert found.opted_out_at is None
    assert len(await conversations_of(container, tenant)) == 1


async def test_a_retried_webhook_stores_each_message_once(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    body = webhook(
        pnid(tenant), inbound(sender=sender, text="un"), inbound(sender=sender, text="deux")
    )

    replies = [await deliver(hooks, body) for _ in range(3)]

    assert [r.status_code for r in replies] == [200, 200, 200]
    assert [row.text for row in await stored_messages(container, tenant)] == ["un", "deux"]
    (chat,) = await conversations_of(container, tenant)
    assert chat.unread_count == 2


async def test_concurrent_copies_of_one_webhook_store_each_message_once(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)
    senders = [random_mobile() for _ in range(3)]
    body = webhook(pnid(tenant), *(inbound(sender=s, text=s) for s in senders))

    replies = await asyncio.gather(*(deliver(hooks, body) for _ in range(6)))

    assert [r.status_code for r in replies] == [200] * 6
    assert sorted(row.text for row in await stored_messages(container, tenant)) == sorted(senders)
    chats = await conversations_of(container, tenant)
    assert sorted(c.unread_count for c in chats) == [1, 1, 1]


async def test_one_item_repeated_inside_a_batch_is_stored_once(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)
    item = inbound(sender=random_mobile(), text="deux fois")

    assert (await deliver(hooks, webhook(pnid(tenant), item, item))).status_code == 200

    assert len(await stored_messages(container, tenant)) == 1


async def test_a_malformed_item_is_skipped_and_logged_and_the_rest_of_the_batch_stored(
    hooks: httpx.AsyncClient,
    make_restaurant: MakeRestaurant,
    container: Container,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    no_id = inbound(sender=sender, text="sans id")
    del no_id["id"]
    not_a_number = inbound(sender=sender, text="from nowhere")
    not_a_number["from"] = "'; DROP TABLE call; --"
    body = webhook(
        pnid(tenant),
        inbound(sender=sender, text="avant"),
        no_id,
        "not even an object",
        not_a_number,
        inbound(sender=sender, text="après"),
    )

    with caplog.at_level(logging.WARNING, logger="ringback.webhooks.whatsapp"):
        reply = await deliver(hooks, body)

    assert reply.status_code == 200
    assert [row.text for row in await stored_messages(container, tenant)] == ["avant", "après"]
    skips = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skips) == 3
    assert any("messages[1]: malformed (id)" in s for s in skips)
    assert any("messages[2]: malformed" in s for s in skips)
    assert any("the sender is not a phone number" in s for s in skips)


async def test_a_nul_character_is_stored_as_a_replacement_character(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)

    reply = await deliver(
        hooks, webhook(pnid(tenant), inbound(sender=random_mobile(), text="a\x00b"))
    )

    assert reply.status_code == 200
    assert [row.text for row in await stored_messages(container, tenant)] == ["a\ufffdb"]


# --- whose messages ------------------------------------------------------------------------------


async def test_a_message_is_stored_only_under_the_restaurant_that_owns_the_number(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    ours = await own_number(make_restaurant)
    theirs = await own_number(make_restaurant)
    sender = random_mobile()

    await deliver(hooks, webhook(pnid(ours), inbound(sender=sender, text="pour vous")))

    assert [row.text for row in await stored_messages(container, ours)] == ["pour vous"]
    assert await stored_messages(container, theirs) == []
    assert await conversations_of(container, theirs) == []


async def test_messages_for_an_unknown_business_number_are_ignored_with_200(
    hooks: httpx.AsyncClient, container: Container
) -> None:
    item = inbound(sender=random_mobile(), text="personne ?")

    reply = await deliver(hooks, webhook("pn-nobody-has-this-number", item))

    assert reply.status_code == 200
    async with container.engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).where(conversation_message.c.provider_message_id == item["id"])
        )
    assert found == 0


async def test_restaurants_sharing_a_business_number_each_keep_the_message(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    first = await own_number(make_restaurant)
    second = await make_restaurant(whatsapp={**DEFAULT_WHATSAPP, "phone_number_id": pnid(first)})

    await deliver(hooks, webhook(pnid(first), inbound(sender=random_mobile(), text="à tous")))

    assert [row.text for row in await stored_messages(container, first)] == ["à tous"]
    assert [row.text for row in await stored_messages(container, second)] == ["à tous"]


# --- opt-out words are messages too -----------------------------------------------------------


async def test_stop_and_start_are_stored_and_still_opt_out_and_in(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    await deliver(hooks, webhook(pnid(tenant), inbound(sender=sender, text="STOP", at=now)))
    opted_out = await _opted_out(container, tenant.id, sender)
    later = now + dt.timedelta(seconds=5)
    await deliver(hooks, webhook(pnid(tenant), inbound(sender=sender, text="Start", at=later)))

    assert opted_out is True
    assert await _opted_out(container, tenant.id, sender) is False
    assert [row.text for row in await stored_messages(container, tenant)] == ["STOP", "Start"]


async def test_a_stop_delivered_again_after_start_does_not_opt_out_again(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    stop = webhook(pnid(tenant), inbound(sender=sender, text="STOP"))
    await deliver(hooks, stop)
    await deliver(hooks, webhook(pnid(tenant), inbound(sender=sender, text="START")))

    assert (await deliver(hooks, stop)).status_code == 200  # Meta's retry of the first webhook

    assert await _opted_out(container, tenant.id, sender) is False


async def test_stop_then_start_in_one_batch_ends_opted_in(
    hooks: httpx.AsyncClient, make_restaurant: MakeRestaurant, container: Container
) -> None:
    tenant = await own_number(make_restaurant)
    sender = random_mobile()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    body = webhook(
        pnid(tenant),
        inbound(sender=sender, text="START", at=now),
        inbound(sender=sender, text="STOP", at=now - dt.timedelta(seconds=30)),
    )

    await deliver(hooks, body)

    assert await _opted_out(container, tenant.id, sender) is False


async def _opted_out(container: Container, restaurant_id: int, phone: str) -> bool:
    async with container.engine.connect() as conn:
        value = await conn.scalar(
            select(customer.c.opted_out_at.is_not(None)).where(
                customer.c.restaurant_id == restaurant_id, customer.c.phone_number == phone
            )
        )
    return bool(value)


# --- a database failure leaves nothing half applied ------------------------------------------


@pytest.fixture
async def failing_on_boom(container: Container) -> Any:
    """A trigger that makes storing a message whose text is ``boom`` fail, as a database that
    fails mid-batch: everything the webhook did before it in the same transaction must go."""
    async with container.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION test_fail_on_boom() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.text = 'boom' THEN RAISE EXCEPTION 'disk full (test)'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER test_fail_on_boom BEFORE INSERT ON conversation_message "
                "FOR EACH ROW EXECUTE FUNCTION test_fail_on_boom()"
            )
        )
    try:
        yield
    finally:
        async with container.engine.begin() as conn:
            await conn.execute(
                text("DROP TRIGGER IF EXISTS test_fail_on_boom ON conversation_message")
            )
            await conn.execute(text("DROP FUNCTION IF EXISTS test_fail_on_boom()"))


async def test_a_database_failure_mid_batch_answers_5xx_and_stores_nothing(
    database_url: str,
    make_restaurant: MakeRestaurant,
    container: Container,
    failing_on_boom: None,
) -> None:
    tenant = await own_number(make_restaurant)
    first, second = random_mobile(), random_mobile()
    body = webhook(
        pnid(tenant), inbound(sender=first, text="STOP"), inbound(sender=first, text="hello")
    )
    body["entry"].append(webhook(pnid(tenant), inbound(sender=second, text="boom"))["entry"][0])
    app = create_app(make_settings(database_url, whatsapp_app_secret=APP_SECRET), container)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        failed = await deliver(client, body)

        assert failed.status_code >= 500
        assert await stored_messages(container, tenant) == []
        assert await conversations_of(container, tenant) == []
        assert await _opted_out(container, tenant.id, first) is False

        async with container.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_fail_on_boom ON conversation_message"))
        retried = await deliver(client, body)

    assert retried.status_code == 200
    texts = sorted(row.text for row in await stored_messages(container, tenant))
    assert texts == ["STOP", "boom", "hello"]
    assert await _opted_out(container, tenant.id, first) is True
