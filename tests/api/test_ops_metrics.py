"""``/metrics``, ``/healthz`` and ``/readyz`` (SPEC §8) over HTTP against the real database."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from ringback.app import create_app
from ringback.bootstrap import build_container
from ringback.db.migrate import head_revision
from ringback.http.metrics import PrometheusMetrics
from ringback.settings import Settings
from ringback.tenancy.model import TokenKind
from tests.conftest import MakeRestaurant, make_settings, random_mobile
from tests.databases import fresh_database
from tests.graphmock import POSTER

pytestmark = pytest.mark.sql


@pytest.fixture
async def metered(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, PrometheusMetrics]]:
    """An app whose services and HTTP edge report to one Prometheus registry."""
    settings: Settings = make_settings(database_url, db_pool_size=2)
    metrics = PrometheusMetrics()
    container = await build_container(settings, start_worker=False, metrics=metrics, graph=POSTER)
    app = create_app(settings, container, metrics=metrics)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, metrics
    finally:
        await container.aclose()


async def test_metrics_expose_every_series_after_some_traffic(
    metered: tuple[httpx.AsyncClient, PrometheusMetrics],
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    client, _ = metered
    tenant = await make_restaurant()
    reply = await client.post(
        "/api/partner/v1/missed-calls",
        json={"caller_phone_number": random_mobile()},
        headers=tenant.auth(),
    )
    call_id = reply.json()["data"]["id"]
    detail = await client.get(f"/api/ops/v1/calls/{call_id}", headers=tenant.auth(TokenKind.OPS))
    assert detail.status_code == 200
    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    text = scrape.text
    for name in (
        "ringback_calls_total",
        "ringback_messages_total",
        "ringback_dispatch_duration_seconds_bucket",
        "ringback_outbox_depth",
        "ringback_outbox_oldest_age_seconds",
        "ringback_http_requests_total",
        "ringback_http_request_duration_seconds_bucket",
    ):
        assert name in text, name
    assert (
        'ringback_calls_total{direction="inbound",disposition="missed",outcome="SENT",'
        'source="partner"}' in text
    )
    assert 'ringback_messages_total{status="sent"}' in text
    assert 'ringback_dispatch_duration_seconds_count{result="sent"} 1.0' in text
    assert 'route="/api/ops/v1/calls/{call_id}"' in text
    assert 'route="/api/partner/v1/missed-calls",status="201"' in text  # the short way's too
    assert f'/api/ops/v1/calls/{call_id}"' not in text


async def test_a_replayed_report_counts_once_more_as_skipped_duplicate(
    metered: tuple[httpx.AsyncClient, PrometheusMetrics],
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    client, metrics = metered
    tenant = await make_restaurant()
    report = {"caller_phone_number": random_mobile(), "external_call_id": "replayed-1"}
    for _ in range(3):
        reply = await client.post(
            "/api/partner/v1/missed-calls", json=report, headers=tenant.auth()
        )
        assert reply.status_code == 201

    def count(outcome: str) -> float | None:
        labels = {"source": "partner", "direction": "inbound", "disposition": "missed"}
        return metrics.registry.get_sample_value(
            "ringback_calls_total", {**labels, "outcome": outcome}
        )

    assert count("SENT") == 1.0
    assert count("SKIPPED_DUPLICATE") == 2.0
    assert len(graph.calls) == 1


async def test_an_answered_call_counts_the_queued_messages_it_cancelled(
    metered: tuple[httpx.AsyncClient, PrometheusMetrics],
    make_restaurant: MakeRestaurant,
    graph: respx.MockRouter,
) -> None:
    client, metrics = metered
    tenant = await make_restaurant(send_delay_seconds=300)  # the message waits, queued
    number = random_mobile()
    missed = {"caller_phone_number": number, "external_call_id": "to-cancel"}
    reply = await client.post("/api/partner/v1/missed-calls", json=missed, headers=tenant.auth())
    assert reply.json()["data"]["outcome"] == "QUEUED"
    answered = {
        "type": "dialed",
        "state": "answered",
        "id": "callback-1",
        "from": "+33140000000",
        "to": number,
        "start_time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }
    headers = {"Authorization": f"Zoho-oauthtoken {tenant.tokens[TokenKind.ZOHO]}"}
    notified = await client.post("/phonebridge/v3/callnotify", data=answered, headers=headers)
    assert notified.status_code == 200
    cancelled = metrics.registry.get_sample_value(
        "ringback_messages_total", {"status": "cancelled"}
    )
    assert cancelled == 1.0
    assert len(graph.calls) == 0


async def test_unmatched_paths_share_one_route_label(
    metered: tuple[httpx.AsyncClient, PrometheusMetrics],
) -> None:
    client, metrics = metered
    await client.get("/no/such/path/123")
    text = (await client.get("/metrics")).text
    assert 'route="<unmatched>"' in text
    assert "/no/such/path/123" not in text
    assert metrics.registry is not None


async def test_health_and_readiness_answer_when_migrations_are_at_head(
    metered: tuple[httpx.AsyncClient, PrometheusMetrics],
) -> None:
    client, _ = metered
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def test_multiprocess_mode_reads_the_directory_from_the_environment() -> None:
    metrics = PrometheusMetrics.from_environment({"PROMETHEUS_MULTIPROC_DIR": "metrics-dir"})
    assert metrics.multiprocess_dir == "metrics-dir"
    assert PrometheusMetrics.from_environment({}).multiprocess_dir is None


async def test_readiness_is_503_when_the_database_is_behind_the_migrations(
    pg_server_url: str,
) -> None:
    async with fresh_database(pg_server_url, "ringback_unmigrated", migrate=False) as url:
        settings = make_settings(url, db_pool_size=1)
        container = await build_container(settings, start_worker=False, graph=POSTER)
        try:
            transport = httpx.ASGITransport(app=create_app(settings, container))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                ready = await http.get("/readyz")
                alive = await http.get("/healthz")
        finally:
            await container.aclose()
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "database": "reachable",
        "migration": None,
        "head": head_revision(),
    }
    assert alive.status_code == 200
