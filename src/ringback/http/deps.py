"""What routes depend on, as ``Annotated`` aliases (DESIGN.md habit 8).

This is the only module that reads ``request.app.state``: ``create_app`` puts the settings, the
rate limits and the HTTP metrics there, and the lifespan the container that ``bootstrap`` built.
The container is typed by ``Services`` — what routes use of it — not by ``bootstrap.Container``:
bootstrap imports every slice, so a door importing it would import every other door (the
"Doors are independent" contract). A door's own store (the partner directory, the CCAI calls, ops)
is built by the door from ``Db``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request

from ringback.conversations.inbound import InboundService
from ringback.db.tx import Database, Tx
from ringback.http.metrics import Metrics, PrometheusMetrics
from ringback.http.ratelimit import TokenBuckets
from ringback.messages.dispatcher import Dispatcher
from ringback.relay.call_lookup import SqlCallLookup
from ringback.relay.service import RelayService, utc_now
from ringback.settings import Settings
from ringback.tenancy.repository import TenancyRepository

T = TypeVar("T")


class Services(Protocol):
    """What routes use of the composition root (``bootstrap.Container``)."""

    @property
    def database(self) -> Database: ...

    @property
    def relay(self) -> RelayService: ...

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def tenancy(self) -> TenancyRepository: ...

    @property
    def inbound(self) -> InboundService: ...

    @property
    def calls(self) -> SqlCallLookup: ...

    @property
    def metrics(self) -> Metrics: ...


def services(request: Request) -> Services:
    found: Services = request.app.state.container
    return found


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def rate_limits(request: Request) -> TokenBuckets:
    """The native doors' buckets (``RINGBACK_RATE_LIMIT_PER_SECOND``), one per token."""
    found: TokenBuckets = request.app.state.rate_limits
    return found


def ccai_rate_limits(request: Request) -> TokenBuckets:
    """The CCAI door's buckets (``RINGBACK_CCAI_RATE_LIMIT_PER_SECOND``), one per restaurant."""
    found: TokenBuckets = request.app.state.ccai_rate_limits
    return found


def http_metrics(request: Request) -> PrometheusMetrics:
    found: PrometheusMetrics = request.app.state.metrics
    return found


def database(request: Request) -> Database:
    return services(request).database


async def transaction(request: Request) -> AsyncIterator[Tx]:
    """A ``Tx`` for the route: what it does not commit is rolled back when the route is done."""
    async with database(request).transaction() as tx:
        yield tx


async def clock() -> Callable[[], dt.datetime]:
    return utc_now


def relay(request: Request) -> RelayService:
    return services(request).relay


def dispatcher(request: Request) -> Dispatcher:
    return services(request).dispatcher


def tenancy(request: Request) -> TenancyRepository:
    return services(request).tenancy


def inbound(request: Request) -> InboundService:
    return services(request).inbound


def calls(request: Request) -> SqlCallLookup:
    return services(request).calls


def metrics(request: Request) -> Metrics:
    return services(request).metrics


def _provided(read: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
    """``read`` as an ``async`` dependency: FastAPI runs a plain ``def`` dependency in its thread
    pool, a thread hop per dependency per request (measured: 1.4 ms of CPU per partner report
    with eight of them). The plain functions stay for callers that hold the request already."""

    async def provide(request: Request) -> T:
        return read(request)

    return provide


AppSettings = Annotated[Settings, Depends(_provided(settings))]
Db = Annotated[Database, Depends(_provided(database))]
Transaction = Annotated[Tx, Depends(transaction)]
Clock = Annotated[Callable[[], dt.datetime], Depends(clock)]
Relay = Annotated[RelayService, Depends(_provided(relay))]
Outbox = Annotated[Dispatcher, Depends(_provided(dispatcher))]
Tenancy = Annotated[TenancyRepository, Depends(_provided(tenancy))]
Inbound = Annotated[InboundService, Depends(_provided(inbound))]
Calls = Annotated[SqlCallLookup, Depends(_provided(calls))]
ServiceMetrics = Annotated[Metrics, Depends(_provided(metrics))]
HttpMetrics = Annotated[PrometheusMetrics, Depends(_provided(http_metrics))]
RateLimits = Annotated[TokenBuckets, Depends(_provided(rate_limits))]
CcaiRateLimits = Annotated[TokenBuckets, Depends(_provided(ccai_rate_limits))]
