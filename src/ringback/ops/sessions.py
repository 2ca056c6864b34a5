"""Dashboard sessions (SPEC §2): the database keeps the hash of the cookie's random id beside the
hash of the token that signed in, and every request reads the session with that token again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, func, insert, select

from ringback.db.tables import RESTAURANT_SETTINGS, api_token, ops_session, restaurant
from ringback.db.tx import Database
from ringback.tenancy.model import Restaurant, TokenKind, restaurant_from_settings

# Every cookie-signed request runs this: the session, its ops token (if still live) and the
# token's restaurant. An admin session joins no token.
_SESSION = (
    select(ops_session.c.token_hash, ops_session.c.is_admin, *RESTAURANT_SETTINGS)
    .select_from(
        ops_session.outerjoin(
            api_token,
            and_(
                api_token.c.token_hash == ops_session.c.token_hash,
                api_token.c.kind == TokenKind.OPS.value,
                api_token.c.revoked_at.is_(None),
                ops_session.c.is_admin.is_(False),
            ),
        ).outerjoin(restaurant, restaurant.c.id == api_token.c.restaurant_id)
    )
    .where(
        ops_session.c.session_hash == bindparam("p_hash"),
        ops_session.c.expires_at > func.now(),
    )
)


@dataclass(frozen=True, slots=True)
class OpsSession:
    """A live dashboard session: who signed in and, for an ops token still live, its restaurant."""

    token_hash: str
    admin: bool
    restaurant: Restaurant | None


class DashboardSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, session_hash: str, token_hash: str, is_admin: bool, ttl: dt.timedelta
    ) -> None:
        """A new session; the expired ones go in the same transaction, so the table stays small
        without a sweeper."""
        async with self._db.transaction() as tx:
            await tx.conn.execute(delete(ops_session).where(ops_session.c.expires_at < func.now()))
            await tx.conn.execute(
                insert(ops_session).values(
                    session_hash=session_hash,
                    token_hash=token_hash,
                    is_admin=is_admin,
                    expires_at=func.now() + ttl,
                )
            )
            await tx.commit()

    async def find(self, session_hash: str) -> OpsSession | None:
        """A live session with, for an ops token's, its restaurant, in one round trip. An ops
        session whose token was revoked since comes back without a restaurant."""
        async with self._db.connection() as conn:
            row = (await conn.execute(_SESSION, {"p_hash": session_hash})).mappings().first()
        if row is None:
            return None
        chosen = restaurant_from_settings(dict(row)) if row["id"] is not None else None
        return OpsSession(row["token_hash"], bool(row["is_admin"]), chosen)

    async def end(self, session_hash: str) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                delete(ops_session).where(ops_session.c.session_hash == session_hash)
            )
