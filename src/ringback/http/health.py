"""Liveness and readiness (SPEC §8)."""

from __future__ import annotations

import functools

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ringback.db.migrate import head_revision
from ringback.http.deps import Db

router = APIRouter(tags=["health"])
_HAS_VERSION_TABLE = text("SELECT to_regclass('alembic_version') IS NOT NULL")
_VERSION = text("SELECT version_num FROM alembic_version")


@functools.cache
def _head() -> str | None:
    """The newest migration this code knows, read from the migration files once (not at import)."""
    return head_revision()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(db: Db) -> JSONResponse:
    try:
        async with db.connection() as conn:
            migrated = (await conn.execute(_HAS_VERSION_TABLE)).scalar()
            revision = (await conn.execute(_VERSION)).scalar() if migrated else None
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    head = _head()
    if revision != head:
        return JSONResponse(
            {"status": "unavailable", "database": "reachable", "migration": revision, "head": head},
            503,
        )
    return JSONResponse({"status": "ok", "migration": revision})
