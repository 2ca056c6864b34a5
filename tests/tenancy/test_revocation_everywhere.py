"""Cached tokens and restaurants stay true on every process (SPEC §9, real PostgreSQL).

Two containers on one database stand for two server processes: each keeps its own token cache
and hears the other's changes through its own LISTENing connection. Waits are bounds only a hang
reaches (``tests/waits.py``); no test asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import select, text, update

from ringback.bootstrap import Container, build_container
from ringback.db.notifications import Listener
from ringback.db.tables import api_token, restaurant
from ringback.settings import Settings
from ringback.tenancy.model import ApiToken, TokenKind, hash_token
from ringback.tenancy.repository import TenancyRepository
from ringback.tenancy.token_cache import CHANNEL, TokenCache
from tests.conftest import MakeRestaurant
from tests.graphmock import POSTER
from tests.waits import SLOW_MACHINE_SECONDS

pytestmark = pytest.mark.sql

PARTNER = frozenset({TokenKind.PARTNER})


@pytest.fixture
async def other_process(settings: Settings) -> AsyncIterator[Container]:
    """A second container on the session's database: another server process, as far as the
    cache can tell (its own pool, its own listener)."""
    built = await build_container(settings, start_worker=False, graph=POSTER)
    yield built
    await built.aclose()


async def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + SLOW_MACHINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def dropped(repository: TenancyRepository, token: str) -> Callable[[], bool]:
    return lambda: not repository.tokens.holds(hash_token(token))


async def authenticated_and_kept(
    repository: TenancyRepository, token: str, kinds: frozenset[TokenKind] = PARTNER
) -> ApiToken:
    """Authenticate ``token`` until the repository's cache keeps it (it keeps nothing while its
    listener is not confirmed, as for a moment on a busy machine), and answer it."""
    deadline = time.monotonic() + SLOW_MACHINE_SECONDS
    while True:
        found = await repository.authenticate(token, kinds)
        assert found is not None
        if repository.tokens.holds(hash_token(token)):
            return found
        assert time.monotonic() < deadline, "the cache never kept the token"
        await asyncio.sleep(0.02)


async def test_the_process_that_revokes_a_cached_token_refuses_it_at_once(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    token = tenant.tokens[TokenKind.PARTNER]
    found = await authenticated_and_kept(container.tenancy, token)

    assert await container.tenancy.revoke_token(found.id)

    assert not container.tenancy.tokens.holds(hash_token(token))
    assert await container.tenancy.authenticate(token, PARTNER) is None


async def test_another_process_drops_a_revoked_token_when_it_hears_of_it(
    container: Container, other_process: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    token = tenant.tokens[TokenKind.PARTNER]
    found = await authenticated_and_kept(other_process.tenancy, token)

    assert await container.tenancy.revoke_token(found.id)

    assert await eventually(dropped(other_process.tenancy, token))
    assert await other_process.tenancy.authenticate(token, PARTNER) is None


async def test_a_settings_change_reaches_the_restaurant_cached_with_a_token(
    container: Container, other_process: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant(cooldown_hours=6)
    token = tenant.tokens[TokenKind.PARTNER]
    await authenticated_and_kept(container.tenancy, token)
    await authenticated_and_kept(other_process.tenancy, token)
    stored = await container.tenancy.stored_restaurant(tenant.id)
    assert stored is not None
    changed = dataclasses.replace(stored.settings, cooldown_hours=2)

    await container.tenancy.update_restaurant(tenant.id, changed, columns=["cooldown_hours"])

    here = await container.tenancy.authenticate(token, PARTNER)
    assert here is not None
    assert here.restaurant.cooldown_hours == 2
    assert await eventually(dropped(other_process.tenancy, token))
    there = await other_process.tenancy.authenticate(token, PARTNER)
    assert there is not None
    assert there.restaurant.cooldown_hours == 2


async def test_a_change_by_any_writer_reaches_every_process(
    container: Container, other_process: Container, make_restaurant: MakeRestaurant
) -> None:
    """A statement outside the repository (psql, ``ringback demo``) notifies through the
    trigger: neither process made the change, both drop what it touched."""
    tenant = await make_restaurant()
    partner, zoho = tenant.tokens[TokenKind.PARTNER], tenant.tokens[TokenKind.ZOHO]
    await authenticated_and_kept(container.tenancy, partner)
    await authenticated_and_kept(other_process.tenancy, partner)
    await authenticated_and_kept(container.tenancy, zoho, frozenset({TokenKind.ZOHO}))

    async with container.database.connection() as conn:
        await conn.execute(
            update(restaurant).where(restaurant.c.id == tenant.id).values(name="Renamed")
        )
        await conn.execute(
            update(api_token)
            .where(api_token.c.token_hash == hash_token(partner))
            .values(revoked_at=text("now()"))
        )

    for process in (container, other_process):
        assert await eventually(dropped(process.tenancy, partner))
        assert await process.tenancy.authenticate(partner, PARTNER) is None
    assert await eventually(dropped(container.tenancy, zoho))
    renamed = await container.tenancy.authenticate(zoho, frozenset({TokenKind.ZOHO}))
    assert renamed is not None
    assert renamed.restaurant.name == "Renamed"


async def test_a_cache_whose_listener_lost_its_connection_reads_the_database(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tokens = TokenCache()
    listener = Listener(
        container.engine,
        CHANNEL,
        on_notify=tokens.heard,
        on_confirmed=tokens.confirmed,
        on_lost=tokens.lost,
        retry_seconds=(3600.0, 3600.0),  # stays down for the test
    )
    repository = TenancyRepository(container.database, tokens)
    await listener.start(wait_seconds=SLOW_MACHINE_SECONDS)
    try:
        tenant = await make_restaurant()
        token = tenant.tokens[TokenKind.PARTNER]
        await authenticated_and_kept(repository, token)
        async with container.database.connection() as conn:
            await conn.execute(select(text(f"pg_terminate_backend({listener.backend_pid})")))
        assert await eventually(lambda: not tokens.serving)

        async with container.database.connection() as conn:  # unheard: nobody listens
            await conn.execute(
                update(api_token)
                .where(api_token.c.token_hash == hash_token(token))
                .values(revoked_at=text("now()"))
            )

        assert await repository.authenticate(token, PARTNER) is None
    finally:
        await listener.aclose()
