"""The tenancy repository reads restaurants and tokens as objects (real PostgreSQL)."""

from __future__ import annotations

from ringback.bootstrap import Container
from ringback.tenancy.model import ApiToken, TokenKind
from tests.conftest import MakeRestaurant


async def test_a_live_token_comes_back_with_its_kind_and_restaurant(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant(telnyx_public_key="a-key")

    found = await container.tenancy.authenticate(
        tenant.tokens[TokenKind.ZOHO], frozenset({TokenKind.ZOHO, TokenKind.PARTNER})
    )

    assert isinstance(found, ApiToken)
    assert found.kind is TokenKind.ZOHO
    assert found.restaurant == tenant.restaurant
    assert found.restaurant.telnyx_public_key == "a-key"


async def test_a_token_of_another_kind_or_an_unknown_one_is_none(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()

    other_kind = frozenset({TokenKind.PARTNER})
    assert await container.tenancy.authenticate(tenant.tokens[TokenKind.OPS], other_kind) is None
    assert await container.tenancy.authenticate("rb_partner_unknown", other_kind) is None


async def test_a_revoked_token_is_refused_at_once(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant()
    kinds = frozenset({TokenKind.PARTNER})
    found = await container.tenancy.authenticate(tenant.tokens[TokenKind.PARTNER], kinds)
    assert found is not None

    assert await container.tenancy.revoke_token(found.id)

    assert await container.tenancy.authenticate(tenant.tokens[TokenKind.PARTNER], kinds) is None


async def test_a_restaurant_is_found_by_id_and_by_slug(
    container: Container, make_restaurant: MakeRestaurant
) -> None:
    tenant = await make_restaurant(quiet_hours={"start": "22:00", "end": "08:30"})

    by_id = await container.tenancy.restaurant(tenant.id)
    by_slug = await container.tenancy.restaurant_by_slug(tenant.restaurant.slug)

    assert by_id == by_slug == tenant.restaurant
    assert by_id is not None
    assert by_id.quiet_hours is not None
    assert await container.tenancy.restaurant_by_slug("no-such-restaurant") is None
    assert tenant.restaurant in await container.tenancy.restaurants()
