"""Batch upserts of customers and reservations (SPEC §4 PUTs): set-based statements with the
semantics of applying the items one after the other, all or nothing, per restaurant."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text

from ringback.bootstrap import Container
from ringback.doors.partner.queries import CustomerInput, ReservationInput
from tests.conftest import MakeRestaurant

pytestmark = pytest.mark.sql

START = dt.datetime(2031, 3, 4, 19, 30, tzinfo=dt.UTC)


def numbers(count: int, seed: int) -> list[str]:
    """Distinct valid French mobiles, distinct from every other test's (``seed``)."""
    return [f"+337{seed:02d}{n:06d}" for n in range(count)]


async def written_by(container: Container, table: str, restaurant_id: int) -> tuple[int, int]:
    """(rows, distinct command ids that wrote them): every row a statement inserts or updates
    carries that statement's command id within its transaction (``cmin``)."""
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    f"SELECT count(*), count(DISTINCT xmin::text || ':' || cmin::text) "  # noqa: S608
                    f"FROM {table} WHERE restaurant_id = :r"
                ),
                {"r": restaurant_id},
            )
        ).one()
    return int(row[0]), int(row[1])


async def stored_customer(container: Container, restaurant_id: int, phone: str) -> Any:
    async with container.engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT * FROM customer WHERE restaurant_id = :r AND phone_number = :p"),
                {"r": restaurant_id, "p": phone},
            )
        ).one_or_none()


async def test_a_batch_of_1000_customers_is_written_by_one_statement_not_one_per_item(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    phones = numbers(1000, 1)
    created = await container.directory.upsert_customers(
        tenant.id, [CustomerInput(p, name="New") for p in phones]
    )
    assert len(created) == 1000
    assert await written_by(container, "customer", tenant.id) == (1000, 1)
    updated = await container.directory.upsert_customers(
        tenant.id, [CustomerInput(p, lang="fr") for p in phones]
    )
    assert [row["id"] for row in updated] == [row["id"] for row in created]
    assert await written_by(container, "customer", tenant.id) == (1000, 1)


async def test_a_batch_of_1000_reservations_is_two_statements_customers_then_reservations(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    batch = [
        ReservationInput(f"r-{i}", START, 2, "CONFIRMED", CustomerInput(phone))
        for i, phone in enumerate(numbers(1000, 2))
    ]
    for status in ("PENDING", "CONFIRMED"):
        rows = await container.directory.upsert_reservations(
            tenant.id,
            [ReservationInput(r.external_id, START, 2, status, r.customer) for r in batch],
        )
        assert [row["status"] for row in rows] == [status] * 1000
        assert await written_by(container, "customer", tenant.id) == (1000, 1)
        assert await written_by(container, "reservation", tenant.id) == (1000, 1)


async def test_fields_left_out_keep_their_stored_values_and_opted_out_false_clears(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    kept, cleared = numbers(2, 3)
    await container.directory.upsert_customers(
        tenant.id, [CustomerInput(p, "Ada", "en", "crm-1", opted_out=True) for p in (kept, cleared)]
    )
    rows = await container.directory.upsert_customers(
        tenant.id, [CustomerInput(kept), CustomerInput(cleared, name="Grace", opted_out=False)]
    )
    assert (rows[0]["name"], rows[0]["lang"], rows[0]["external_id"]) == ("Ada", "en", "crm-1")
    assert rows[0]["opted_out_at"] is not None
    assert (rows[1]["name"], rows[1]["lang"], rows[1]["external_id"]) == ("Grace", "en", "crm-1")
    assert rows[1]["opted_out_at"] is None


async def test_an_opt_out_repeated_keeps_its_time_and_one_cleared_then_set_again_is_renewed(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    """As if the items ran one after the other: ``true`` on an opted-out customer keeps the time
    of the opt-out; ``false`` then ``true`` in one batch opts out again, as of this batch."""
    tenant = await make_restaurant()
    repeated, renewed = numbers(2, 4)
    first = await container.directory.upsert_customers(
        tenant.id, [CustomerInput(repeated, opted_out=True), CustomerInput(renewed, opted_out=True)]
    )
    rows = await container.directory.upsert_customers(
        tenant.id,
        [
            CustomerInput(repeated, opted_out=True),
            CustomerInput(renewed, opted_out=False),
            CustomerInput(renewed, opted_out=True),
        ],
    )
    assert rows[0]["opted_out_at"] == first[0]["opted_out_at"] < rows[0]["updated_at"]
    assert rows[1] == rows[2]
    assert rows[2]["opted_out_at"] == rows[2]["updated_at"] > first[1]["opted_out_at"]


async def test_a_number_given_twice_in_one_batch_is_applied_in_order_and_replied_as_stored(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    [phone] = numbers(1, 5)
    rows = await container.directory.upsert_customers(
        tenant.id,
        [
            CustomerInput(phone, name="First", lang="fr", opted_out=True),
            CustomerInput(phone, name="Second"),
            CustomerInput(phone, external_id="crm-9", opted_out=False),
        ],
    )
    stored = await stored_customer(container, tenant.id, phone)
    assert (stored.name, stored.lang, stored.external_id) == ("Second", "fr", "crm-9")
    assert stored.opted_out_at is None
    assert rows[0] == rows[1] == rows[2]
    assert rows[0]["id"] == stored.id
    assert rows[0]["name"] == "Second"


async def test_reservations_match_or_create_their_customer_by_number_and_keep_its_fields(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    known, unknown = numbers(2, 6)
    [customer] = await container.directory.upsert_customers(
        tenant.id, [CustomerInput(known, name="Ada", lang="en", opted_out=True)]
    )
    rows = await container.directory.upsert_reservations(
        tenant.id,
        [
            ReservationInput("a", START, 2, "PENDING", CustomerInput(known)),
            ReservationInput("b", START, 4, "CONFIRMED", CustomerInput(unknown, name="Bo")),
        ],
    )
    assert rows[0]["customer_id"] == customer["id"]
    assert rows[0]["customer"]["name"] == "Ada"
    assert rows[0]["customer"]["opted_out_at"] == customer["opted_out_at"]
    assert rows[1]["customer"]["phone_number"] == unknown
    assert rows[1]["customer"]["name"] == "Bo"
    assert rows[1]["customer_id"] == rows[1]["customer"]["id"]


async def test_an_external_id_given_twice_in_one_batch_is_the_last_items_and_both_customers_exist(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    first, last = numbers(2, 7)
    later = START + dt.timedelta(days=1)
    rows = await container.directory.upsert_reservations(
        tenant.id,
        [
            ReservationInput("same", START, 2, "PENDING", CustomerInput(first, name="One")),
            ReservationInput("same", later, 6, "CONFIRMED", CustomerInput(last, name="Two")),
        ],
    )
    assert rows[0] == rows[1]
    assert (rows[0]["start_at"], rows[0]["party_size"], rows[0]["status"]) == (
        later,
        6,
        "CONFIRMED",
    )
    assert rows[0]["customer"]["phone_number"] == last
    assert rows[0]["customer_id"] == rows[0]["customer"]["id"]
    assert (await stored_customer(container, tenant.id, first)).name == "One"


async def test_the_same_numbers_and_external_ids_in_two_restaurants_stay_apart(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    mine, theirs = await make_restaurant(), await make_restaurant()
    [phone] = numbers(1, 8)
    batch = [ReservationInput("shared", START, 2, "PENDING", CustomerInput(phone, name="Mine"))]
    [own] = await container.directory.upsert_reservations(mine.id, batch)
    [other] = await container.directory.upsert_reservations(
        theirs.id,
        [ReservationInput("shared", START, 8, "CONFIRMED", CustomerInput(phone, name="Theirs"))],
    )
    assert other["id"] != own["id"]
    assert other["customer_id"] != own["customer_id"]
    assert (other["restaurant_id"], other["customer"]["restaurant_id"]) == (theirs.id, theirs.id)
    [again] = await container.directory.upsert_reservations(mine.id, batch)
    assert (again["id"], again["party_size"], again["customer"]["name"]) == (own["id"], 2, "Mine")


async def test_a_batch_that_fails_part_way_stores_nothing(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    good, bad = numbers(2, 9)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's error for an int4 overflow
        await container.directory.upsert_reservations(
            tenant.id,
            [
                ReservationInput("fine", START, 2, "PENDING", CustomerInput(good)),
                ReservationInput("too-big", START, 2**40, "PENDING", CustomerInput(bad)),
            ],
        )
    assert await written_by(container, "customer", tenant.id) == (0, 0)
    assert await written_by(container, "reservation", tenant.id) == (0, 0)
