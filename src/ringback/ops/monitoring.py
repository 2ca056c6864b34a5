"""``GET /metrics`` (SPEC §8): the process's Prometheus metrics and the outbox gauges, which are
read from the database at scrape time so every process reports the shared queue."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ringback.http.deps import Db, HttpMetrics
from ringback.ops.queries import outbox_gauges

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(metrics: HttpMetrics, db: Db) -> Response:
    async with db.connection() as conn:
        depth, age = await outbox_gauges(conn)
    return Response(metrics.exposition(depth, age), media_type=CONTENT_TYPE_LATEST)
