"""The framework floor beside SPEC §9's baseline: the same one asyncpg INSERT behind FastAPI.

Ringback's routes are FastAPI routes (the design card's stack), so no report can cost less than
FastAPI's own request handling (routing, a pydantic body, a declared response model) plus the
baseline's INSERT. bench/load_partner.py measures this app in the same run, under the same uvicorn
settings, so every run shows how much of the gap to the baseline is the framework's:
    uvicorn bench.floor_app:app --loop uvloop --http httptools
with BASELINE_DATABASE_URL pointing at the benchmark's database (the table is the baseline's).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel

from bench.baseline_app import CREATE, INSERT


class Report(BaseModel):
    caller_phone_number: str
    external_call_id: str | None = None


class Created(BaseModel):
    id: str


class _State:
    pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    _State.pool = await asyncpg.create_pool(
        os.environ["BASELINE_DATABASE_URL"], min_size=10, max_size=10
    )
    await _State.pool.execute(CREATE)
    yield
    await _State.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/partner/v1/missed-calls", status_code=201, response_model=Created)
async def report(body: Report) -> Created:
    assert _State.pool is not None
    row_id = await _State.pool.fetchval(INSERT, body.external_call_id, body.caller_phone_number)
    return Created(id=str(row_id))
