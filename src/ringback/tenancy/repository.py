"""TenancyRepository: restaurants and their tokens, read as ``Restaurant``/``ApiToken`` objects."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from ringback.db.driver import DriverStatement
from ringback.db.tables import RESTAURANT_SETTINGS, api_token, restaurant
from ringback.db.tx import Database
from ringback.tenancy.model import (
    ApiToken,
    Restaurant,
    TokenKind,
    hash_token,
    restaurant_from_settings,
    same_hash,
    slugify,
)
from ringback.tenancy.stored import (
    StoredRestaurant,
    StoredSettings,
    settings_columns,
    stored_from_row,
)
from ringback.tenancy.token_cache import TokenCache

# Every authenticated request runs this: built once, read in autocommit (no BEGIN/ROLLBACK)
# by the driver itself (driver.py).
_AUTHENTICATE = DriverStatement(
    select(
        api_token.c.id.label("token_id"),
        api_token.c.token_hash,
        api_token.c.kind,
        *RESTAURANT_SETTINGS,
    )
    .join(restaurant, restaurant.c.id == api_token.c.restaurant_id)
    .where(api_token.c.token_hash == bindparam("p_hash"), api_token.c.revoked_at.is_(None))
)


class TenancyRepository:
    def __init__(self, db: Database, tokens: TokenCache | None = None) -> None:
        self._db = db
        # without a listener confirming it, a cache never serves: every lookup reads the database
        self.tokens = tokens or TokenCache()

    async def authenticate(self, token: str, kinds: frozenset[TokenKind]) -> ApiToken | None:
        """The live token of one of ``kinds`` that ``token`` is, with its restaurant; else None.

        Served from ``tokens`` while its listener is confirmed (``token_cache.py``), else read."""
        digest = hash_token(token)
        found = self.tokens.get(digest)
        if found is None:
            epoch = self.tokens.epoch
            async with self._db.connection() as conn:
                row = await _AUTHENTICATE.fetchrow(conn, {"p_hash": digest})
            if row is None or not same_hash(row["token_hash"], token):
                return None
            found = ApiToken(
                row["token_id"],
                TokenKind(row["kind"]),
                row["token_hash"],
                restaurant_from_settings(row),
            )
            self.tokens.put(digest, found, epoch)
        return found if found.kind in kinds else None

    async def restaurant(self, restaurant_id: int) -> Restaurant | None:
        return await self._one_restaurant(restaurant.c.id == restaurant_id)

    async def restaurant_by_slug(self, slug: str) -> Restaurant | None:
        return await self._one_restaurant(restaurant.c.slug == slug)

    async def _one_restaurant(self, where: ColumnElement[bool]) -> Restaurant | None:
        async with self._db.connection() as conn:
            found = await conn.execute(select(*RESTAURANT_SETTINGS).where(where))
            row = found.mappings().first()
        return restaurant_from_settings(row) if row else None

    async def restaurants(self) -> list[Restaurant]:
        """Every restaurant, oldest first."""
        async with self._db.connection() as conn:
            rows = (
                await conn.execute(select(*RESTAURANT_SETTINGS).order_by(restaurant.c.id))
            ).mappings()
            return [restaurant_from_settings(row) for row in rows]

    # --- the settings as stored: the admin API's record (see stored.py) ---

    async def create_restaurant(
        self, settings: StoredSettings, slug: str | None = None
    ) -> StoredRestaurant:
        """Insert a restaurant; a slug derived from the name gets a suffix until it is unique."""
        base = slug or slugify(settings.name)
        columns = settings_columns(settings)
        for n in range(1, 1000):
            candidate = base if n == 1 else f"{base}-{n}"
            try:
                async with self._db.connection() as conn:
                    inserted = await conn.execute(
                        insert(restaurant)
                        .values(**columns, slug=candidate)
                        .returning(*restaurant.c)
                    )
                    return stored_from_row(inserted.mappings().one())
            except IntegrityError:
                if slug:
                    raise
        raise RuntimeError("no free slug")

    async def stored_restaurant(self, restaurant_id: int) -> StoredRestaurant | None:
        async with self._db.connection() as conn:
            row = (
                (await conn.execute(select(restaurant).where(restaurant.c.id == restaurant_id)))
                .mappings()
                .first()
            )
        return stored_from_row(row) if row else None

    async def stored_restaurants(self) -> list[StoredRestaurant]:
        """Every restaurant, oldest first."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(restaurant).order_by(restaurant.c.id))).mappings()
            return [stored_from_row(row) for row in rows]

    async def update_restaurant(
        self,
        restaurant_id: int,
        settings: StoredSettings,
        *,
        columns: Collection[str],
        slug: str | None = None,
    ) -> StoredRestaurant | None:
        """Write the ``columns`` of ``settings`` (and ``slug`` when given), nothing else: a PATCH
        that names some settings leaves the others as a concurrent writer left them."""
        values = {
            name: value for name, value in settings_columns(settings).items() if name in columns
        }
        if slug is not None:
            values["slug"] = slug
        async with self._db.connection() as conn:
            row = (
                (
                    await conn.execute(
                        update(restaurant)
                        .where(restaurant.c.id == restaurant_id)
                        .values(**values, updated_at=func.now())
                        .returning(*restaurant.c)
                    )
                )
                .mappings()
                .first()
            )
        # other processes hear it from the trigger (migration 0008); this one drops it at once
        self.tokens.drop_restaurant(restaurant_id)
        return stored_from_row(row) if row else None

    # --- tokens ---

    async def create_token(
        self, restaurant_id: int, kind: TokenKind, token: str, name: str | None
    ) -> int:
        async with self._db.connection() as conn:
            created = await conn.execute(
                insert(api_token)
                .values(
                    restaurant_id=restaurant_id,
                    kind=kind.value,
                    name=name,
                    token_hash=hash_token(token),
                )
                .returning(api_token.c.id)
            )
            return int(created.scalar_one())

    async def revoke_token(self, token_id: int) -> bool:
        async with self._db.connection() as conn:
            revoked = (
                await conn.execute(
                    update(api_token)
                    .where(api_token.c.id == token_id, api_token.c.revoked_at.is_(None))
                    .values(revoked_at=func.now())
                    .returning(api_token.c.token_hash)
                )
            ).scalar()
        if revoked is None:
            return False
        # other processes hear it from the trigger (migration 0008); this one drops it at once
        self.tokens.drop_token(revoked)
        return True
