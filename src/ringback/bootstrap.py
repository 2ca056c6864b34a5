"""The composition root: one engine, one Graph API client, the services, and the worker task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from functools import cached_property

import aiohttp
import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ringback.conversations.inbound import InboundService
from ringback.db.driver import DriverPoolOptions
from ringback.db.engine import build_engine
from ringback.db.notifications import Listener
from ringback.db.tx import Database
from ringback.doors.partner.queries import SqlDirectoryStore
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.dispatcher import Dispatcher
from ringback.messages.graph import WhatsAppCloudSender
from ringback.messages.graph_client import GraphClient, GraphPoster
from ringback.messages.outbox import SqlOutbox
from ringback.messages.ports import MessageSender
from ringback.messages.receipts import ReceiptsService
from ringback.relay.call_lookup import SqlCallLookup
from ringback.relay.service import RelayService, utc_now
from ringback.settings import Settings
from ringback.tenancy.repository import TenancyRepository
from ringback.tenancy.token_cache import CHANNEL, TokenCache

log = logging.getLogger("ringback")


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    database: Database
    http: GraphClient
    dispatcher: Dispatcher
    relay: RelayService
    tenancy: TenancyRepository
    directory: SqlDirectoryStore
    metrics: Metrics = field(default_factory=NoMetrics)
    listener: Listener | None = None
    """Hears the changes of tokens and restaurants for ``tenancy``'s cache (None: no cache)."""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _worker: asyncio.Task[None] | None = None

    @cached_property
    def receipts(self) -> ReceiptsService:
        return ReceiptsService(self.database, metrics=self.metrics)

    @cached_property
    def inbound(self) -> InboundService:
        return InboundService(self.database, self.receipts, metrics=self.metrics)

    @cached_property
    def calls(self) -> SqlCallLookup:
        return SqlCallLookup(self.database)

    def start_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(
                self.dispatcher.run_forever(
                    self._stop,
                    batch_size=self.settings.worker_batch_size,
                    poll_seconds=self.settings.worker_poll_seconds,
                ),
                name="ringback-outbox-worker",
            )

    async def aclose(self) -> None:
        self._stop.set()
        if self._worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self.dispatcher.drain(grace_seconds=self.settings.graph_timeout_seconds + 1)
        if self.listener is not None:
            await self.listener.aclose()
        await self.http.aclose()
        await self.database.dispose()


def driver_pool_options(settings: Settings) -> DriverPoolOptions:
    """The hot path's asyncpg pool (``db/driver.py``): as large as the engine's, same timeouts."""
    assert settings.database_url, "DATABASE_URL is not set"
    url = make_url(settings.database_url).set(drivername="postgresql")
    return DriverPoolOptions(
        dsn=url.render_as_string(hide_password=False),
        size=settings.db_pool_size,
        acquire_timeout=settings.db_pool_timeout_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
        command_timeout=settings.db_statement_timeout_seconds,
    )


_GRAPH_CONNECTIONS = 100
_KEEPALIVE_SECONDS = 5.0


def graph_timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        settings.graph_timeout_seconds, connect=min(5.0, settings.graph_timeout_seconds)
    )


def build_graph_client(settings: Settings) -> GraphClient:
    """The one client of the Graph API (``messages/graph_client.py``, aiohttp's connection pool
    and parser), with the settings' timeout.

    One client serves every restaurant, so it may keep no cookie: one the Graph API set on a
    restaurant's request would go out with the next restaurant's; aiohttp's session gets a
    dummy jar.
    """
    ssl_context = httpx.create_ssl_context()

    def graph_session() -> aiohttp.ClientSession:  # built lazily, inside the running loop
        return aiohttp.ClientSession(
            # every pooled connection kept alive: under load a smaller keep-alive pool churns
            # TCP connections to the Graph API on every send (seen in bench/ profiles)
            connector=aiohttp.TCPConnector(
                limit=_GRAPH_CONNECTIONS, keepalive_timeout=_KEEPALIVE_SECONDS, ssl=ssl_context
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    return GraphClient(graph_session, graph_timeout(settings))


async def build_container(
    settings: Settings,
    *,
    start_worker: bool = True,
    sender: MessageSender | None = None,
    graph: GraphPoster | None = None,
    metrics: Metrics | None = None,
    listen: bool = True,
) -> Container:
    """The services on one engine. With ``listen``, tokens are served from a per-process cache
    kept true by one LISTENing connection (``tenancy/token_cache.py``); without it, every
    lookup reads the database. The Graph API sender posts through ``graph`` when given (a test's
    stand-in, DESIGN §6), else through the container's own ``GraphClient``."""
    metrics = metrics or NoMetrics()
    engine = build_engine(settings)
    database = Database(engine, driver_pool_options(settings))
    http = build_graph_client(settings)
    dispatcher = Dispatcher(
        SqlOutbox(database, metrics=metrics),
        sender or WhatsAppCloudSender(graph or http, settings.whatsapp_api_base_url),
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        retry_base_seconds=settings.retry_base_seconds,
        clock=utc_now,
        metrics=metrics,
    )
    relay = RelayService(
        database,
        dispatcher,
        inline_timeout=settings.inline_dispatch_timeout,
        clock=utc_now,
        metrics=metrics,
    )
    tokens = TokenCache()
    listener = (
        Listener(
            engine,
            CHANNEL,
            on_notify=tokens.heard,
            on_confirmed=tokens.confirmed,
            on_lost=tokens.lost,
            connect_timeout=settings.db_connect_timeout_seconds,
        )
        if listen
        else None
    )
    container = Container(
        settings=settings,
        engine=engine,
        database=database,
        http=http,
        dispatcher=dispatcher,
        relay=relay,
        tenancy=TenancyRepository(database, tokens),
        directory=SqlDirectoryStore(database),
        metrics=metrics,
        listener=listener,
    )
    if listener is not None:
        await listener.start(wait_seconds=settings.db_connect_timeout_seconds)
    if start_worker:
        container.start_worker()
    return container
