"""Outbox dispatch: claim under lease, send outside any transaction, record, back off (SPEC §3).

The inline attempt after a report and the background worker go through the same ``_deliver``: both
claim the message with a lease first, so at most one of them holds it at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ringback.domain import rules
from ringback.domain.model import MessageStatus, Outcome
from ringback.domain.ports import (
    ClaimedMessage,
    MessageSender,
    Metrics,
    NoMetrics,
    Outbox,
    SendResult,
)

log = logging.getLogger("ringback.dispatch")


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        sender: MessageSender,
        *,
        lease_seconds: float,
        max_attempts: int,
        retry_base_seconds: float,
        clock: Callable[[], dt.datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._clock = clock
        self._metrics = metrics or NoMetrics()
        self._background: set[asyncio.Task[MessageStatus | None]] = set()

    @property
    def lease_seconds(self) -> float:
        return self._lease_seconds

    async def deliver_within(self, held: ClaimedMessage, seconds: float) -> MessageStatus | None:
        """Send a message already held under lease (written leased by the request that sends it)."""
        return await self._within(self._deliver(held), seconds)

    async def _within(
        self, attempt: Coroutine[Any, Any, MessageStatus | None], seconds: float
    ) -> MessageStatus | None:
        task = asyncio.create_task(attempt)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(task), seconds)
        except TimeoutError:
            return None

    async def record_outcome(self, call_id: int, outcome: Outcome) -> None:
        await self._outbox.set_call_outcome(call_id, outcome)

    async def run_once(self, batch_size: int) -> int:
        """Claim what is due (or whose lease expired), deliver it; returns how many were claimed."""
        batch = await self._outbox.claim_due(batch_size, self._lease_seconds)
        if batch:
            await asyncio.gather(*(self._deliver(message) for message in batch))
        return len(batch)

    async def run_forever(
        self, stop: asyncio.Event, *, batch_size: int, poll_seconds: float
    ) -> None:
        """The worker loop: a full batch is followed at once by the next; errors never end it."""
        while not stop.is_set():
            try:
                claimed = await self.run_once(batch_size)
            except Exception:
                log.exception("outbox poll failed; retrying")
                claimed = 0
            if claimed < batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_seconds)

    async def drain(self, grace_seconds: float) -> None:
        """Let inline attempts that outlived their request finish (on shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=grace_seconds)

    async def _deliver(self, message: ClaimedMessage) -> MessageStatus | None:
        self._metrics.message_moved(MessageStatus.SENDING.value)
        started = time.perf_counter()
        try:
            result = await self._sender.send(message)
        except Exception as exc:  # a sender bug must not strand the lease until it expires
            log.exception("sender raised for message %s", message.id)
            result = SendResult(error=f"{type(exc).__name__}", transient=True)
        kind = "sent" if result.accepted else ("transient" if result.transient else "permanent")
        self._metrics.dispatch_observed(kind, time.perf_counter() - started)
        status = await self._record(message, result)
        if status is not None:
            self._metrics.message_moved(status.value)
        return status

    async def _record(self, message: ClaimedMessage, result: SendResult) -> MessageStatus | None:
        if result.provider_message_id is not None:
            ok = await self._outbox.mark_sent(message, result.provider_message_id)
            return MessageStatus.SENT if ok else None
        error = result.error or "unknown error"
        if result.transient and message.attempts < self._max_attempts:
            delay = rules.backoff_seconds(message.attempts, self._retry_base)
            due = self._clock() + dt.timedelta(seconds=delay)
            ok = await self._outbox.mark_retry(message, error, due)
            return MessageStatus.QUEUED if ok else None
        ok = await self._outbox.mark_failed(message, error)
        return MessageStatus.FAILED if ok else None
