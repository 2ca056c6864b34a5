"""Liveness and readiness (SPEC §8)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ringback.adapters.outbound.db.migrate import head_revision

router = APIRouter(tags=["health"])
_HEAD = head_revision()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> JSONResponse:
    engine = request.app.state.container.engine
    try:
        async with engine.connect() as conn:
            revision = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    head = _HEAD
    if revision != head:
        return JSONResponse(
            {"status": "unavailable", "database": "reachable", "migration": revision, "head": head},
            503,
        )
    return JSONResponse({"status": "ok", "migration": revision})
