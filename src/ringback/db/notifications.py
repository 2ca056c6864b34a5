"""One dedicated connection that LISTENs for the process, outside the pool.

PostgreSQL delivers a NOTIFY to every connection LISTENing on its channel once the notifying
transaction commits, and a LISTEN lasts only as long as its connection: so ``Listener`` keeps one
asyncpg connection of its own (a pooled one would take a slot for good, and the pool may close it).
It tells its owner three things:

- ``on_notify(payload)``: a notification arrived;
- ``on_confirmed(as_of)``: LISTEN is in place and everything committed before ``as_of`` (a
  ``time.monotonic()``) has been heard. A connection that dies silently (no FIN, no RST) would
  look alive forever, so the listener pings it every ``ping_seconds``: PostgreSQL sends an idle
  backend's notifications as they come, before it reads the next query, and asyncpg hands them to
  the listener in the order they arrived, so a ping that comes back means nothing committed
  before it was sent was missed (``as_of`` is when it was sent). A ping that takes longer than
  ``ping_timeout`` counts the connection as lost;
- ``on_lost()``: the connection is gone or a ping failed; anything may be missed until the next
  ``on_confirmed`` (the listener reconnects, with a growing delay, and LISTENs again).

A cache that relies on hearing every change serves only while ``on_confirmed`` is recent
(``tenancy.token_cache``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("ringback.db.notifications")

_CANCEL_AGAIN_SECONDS = 0.5


class Listener:
    def __init__(
        self,
        engine: AsyncEngine,
        channel: str,
        *,
        on_notify: Callable[[str], None],
        on_confirmed: Callable[[float], None],
        on_lost: Callable[[], None],
        connect_timeout: float = 1.0,
        ping_seconds: float = 0.25,
        ping_timeout: float = 5.0,
        retry_seconds: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        _, self._connect_kwargs = engine.dialect.create_connect_args(engine.url)
        self._channel = channel
        self._on_notify = on_notify
        self._on_confirmed = on_confirmed
        self._on_lost = on_lost
        self._connect_timeout = connect_timeout
        self._ping_seconds = ping_seconds
        self._ping_timeout = ping_timeout
        self._retry_seconds = retry_seconds
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        # set when the first connection attempt has ended either way: start-up never waits on a
        # database that refused at once (it is retried in the background)
        self._first_try = asyncio.Event()
        self.backend_pid: int | None = None
        """The server process of the LISTENing connection, while there is one."""

    async def start(self, wait_seconds: float) -> None:
        """Start listening in the background; wait up to ``wait_seconds`` for the first attempt
        to LISTEN to end (a database that is down at start-up is retried in the background)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"ringback-listen-{self._channel}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_seconds):
                await self._first_try.wait()

    async def aclose(self) -> None:
        """Stop listening; returns once the task has ended.

        A cancellation can be lost on the way (Python 3.11's ``asyncio.wait_for`` returns the
        result of what it awaited when that was already in, and drops the cancellation: a
        process's shutdown once waited here for good), so the task is cancelled again until it
        ends."""
        task, self._task = self._task, None
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=_CANCEL_AGAIN_SECONDS)
        if not task.cancelled() and task.exception() is not None:
            log.warning("the %s listener ended with %r", self._channel, task.exception())

    async def _run(self) -> None:
        delay = self._retry_seconds[0]
        while True:
            try:
                await self._listen()
                delay = self._retry_seconds[0]  # it was up: the next try comes soon
                log.warning("the %s listener lost its connection", self._channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the %s listener is down: %s", self._channel, type(exc).__name__)
            finally:
                self._lost()
                self._first_try.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_seconds[1])

    async def _listen(self) -> None:
        """LISTEN on a new connection and ping it until it is lost (returns) or fails (raises)."""
        conn = await asyncpg.connect(
            **self._connect_kwargs,
            timeout=self._connect_timeout,
            server_settings={"application_name": "ringback-listener"},
        )
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            sent = time.monotonic()
            await conn.add_listener(self._channel, self._heard)
            self.backend_pid = conn.get_server_pid()
            self._on_confirmed(sent)
            self._listening.set()
            self._first_try.set()
            # asyncio.timeout, not wait_for: a cancellation always reaches this task (see aclose)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._ping_seconds):
                        await lost.wait()
                if not lost.is_set():
                    sent = time.monotonic()
                    async with asyncio.timeout(self._ping_timeout):
                        await conn.fetchval("SELECT 1")
                    self._on_confirmed(sent)
        finally:
            conn.terminate()  # never waits on a connection that may be half dead

    def _lost(self) -> None:
        self.backend_pid = None
        self._listening.clear()
        self._on_lost()

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_notify(payload)
