"""Prometheus metrics (SPEC §8 ``/metrics``): the Metrics port, HTTP metrics, the exposition.

One process keeps its figures in its own registry. Under ``ringback serve --workers N`` (N > 1) the
CLI sets ``PROMETHEUS_MULTIPROC_DIR`` before the processes start; prometheus-client then keeps every
process's figures in files there and a scrape (answered by any process) sums them. The outbox
gauges are read from the database at scrape time, so they are the same whoever answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Generic, Protocol, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


UNMATCHED = "<unmatched>"


_HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


_DISPATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


_M = TypeVar("_M", bound=MetricWrapperBase)


class _Children(Generic[_M]):
    """A labelled metric's children, each looked up once: ``labels`` validates its values and
    takes the metric's lock on every call, and every report counts several of them (a
    profile under load put it at 3 % of the server's CPU). Label values here come from short
    closed sets (statuses, sources, route templates), so the cache stays small."""

    def __init__(self, metric: _M) -> None:
        self._metric = metric
        self._known: dict[tuple[str, ...], _M] = {}

    def __call__(self, *values: str) -> _M:
        child = self._known.get(values)
        if child is None:
            child = self._known[values] = self._metric.labels(*values)
        return child


class PrometheusMetrics:
    """The Metrics port of the services, plus the HTTP edge's figures."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter(
            "ringback_calls",
            "Call notifications recorded, by what the relay decided",
            ["source", "direction", "disposition", "outcome"],
            registry=r,
        )
        self.messages = Counter(
            "ringback_messages", "Messages moved into each status", ["status"], registry=r
        )
        self.inbound = Counter(
            "ringback_inbound_messages",
            "Customers' WhatsApp messages stored (once each), by type",
            ["type"],
            registry=r,
        )
        self.dispatch = Histogram(
            "ringback_dispatch_duration_seconds",
            "Duration of Graph API send calls",
            ["result"],
            buckets=_DISPATCH_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "ringback_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "ringback_http_request_duration_seconds",
            "HTTP request duration by route template and method",
            ["route", "method"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self._calls = _Children(self.calls)
        self._messages = _Children(self.messages)
        self._inbound = _Children(self.inbound)
        self._dispatch = _Children(self.dispatch)
        self._http_requests = _Children(self.http_requests)
        self._http_duration = _Children(self.http_duration)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PrometheusMetrics:
        env = os.environ if environ is None else environ
        return cls(env.get(MULTIPROC_ENV) or None)

    # The Metrics port (domain/ports.py).
    def call_recorded(
        self, source: str, direction: str, disposition: str, outcome: str | None
    ) -> None:
        self._calls(source, direction, disposition, outcome or "").inc()

    def message_moved(self, status: str, count: int = 1) -> None:
        if count > 0:
            self._messages(status).inc(count)

    def dispatch_observed(self, result: str, seconds: float) -> None:
        self._dispatch(result).observe(seconds)

    def inbound_received(self, message_type: str, count: int = 1) -> None:
        if count > 0:
            self._inbound(message_type).inc(count)

    # The HTTP edge.
    def http_observed(self, route: str, method: str, status: int, seconds: float) -> None:
        self._http_requests(route, method, str(status)).inc()
        self._http_duration(route, method).observe(seconds)

    def exposition(self, outbox_depth: int, outbox_oldest_age: float) -> bytes:
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        gauges = CollectorRegistry()
        gauges.register(_OutboxGauges(outbox_depth, outbox_oldest_age))
        return generate_latest(registry) + generate_latest(gauges)


class _OutboxGauges(Collector):
    def __init__(self, depth: int, oldest_age: float) -> None:
        self.depth = depth
        self.oldest_age = oldest_age

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "ringback_outbox_depth", "Messages queued or being sent", value=self.depth
        )
        yield GaugeMetricFamily(
            "ringback_outbox_oldest_age_seconds",
            "How long the oldest due queued message has waited",
            value=self.oldest_age,
        )


def route_template(app: ASGIApp, scope: Scope) -> str:
    """The template of the route that served ``scope`` (``/api/ops/v1/calls/{call_id}``)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    for candidate in getattr(app, "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


class HttpMetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request by route template, method and status."""

    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics, router_app: ASGIApp) -> None:
        self.app = app
        self.metrics = metrics
        self.router_app = router_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_template(self.router_app, scope)
            self.metrics.http_observed(
                route, scope["method"], status, time.perf_counter() - started
            )


class Metrics(Protocol):
    """What the services report for monitoring; the HTTP edge exposes it (SPEC §8 /metrics)."""

    def call_recorded(
        self, source: str, direction: str, disposition: str, outcome: str | None
    ) -> None: ...

    def message_moved(self, status: str, count: int = 1) -> None: ...

    def dispatch_observed(self, result: str, seconds: float) -> None: ...

    def inbound_received(self, message_type: str, count: int = 1) -> None: ...


class NoMetrics:
    """Metrics that go nowhere (unit tests, tools)."""

    def call_recorded(
        self, source: str, direction: str, disposition: str, outcome: str | None
    ) -> None:
        return None

    def message_moved(self, status: str, count: int = 1) -> None:
        return None

    def dispatch_observed(self, result: str, seconds: float) -> None:
        return None

    def inbound_received(self, message_type: str, count: int = 1) -> None:
        return None
