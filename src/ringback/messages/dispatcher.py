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
from collections.abc import Callable

from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.outbox import CallReply, SqlOutbox
from ringback.messages.ports import ClaimedMessage, MessageSender, SendResult
from ringback.messages.states import MessageStatus
from ringback.relay import rules
from ringback.relay.model import Outcome

log = logging.getLogger("ringback.dispatch")


class Dispatcher:
    def __init__(
        self,
        outbox: SqlOutbox,
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

    async def deliver_within(
        self, held: ClaimedMessage, seconds: float, call_id: int | None
    ) -> MessageStatus | None:
        """Send a message already held under lease (written leased by the request that sends it)
        and wait at most ``seconds``; past them the attempt goes on in the background. A message
        without a call (a staff reply) writes no outcome: its status is its reply.

        The outcome the request replies is written with the message's move (one statement, no
        window between them): once that move is under way the request waits for it, and a
        request that stopped waiting gets its move written without an outcome. So the call's
        stored outcome is always the one replied (SPEC §3). The call was stored ``SENT`` by its
        decision, so the move of a send that succeeds leaves the call row alone; a move that
        replies otherwise (``FAILED``, ``QUEUED`` after a transient error or a lost lease)
        writes it. Returns None when no move carried the reply: the caller stores its
        ``QUEUED`` (``RelayService.complete``).
        """
        waiting = _Waiting(call_id)
        task = asyncio.create_task(self._deliver(held, waiting))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        # asyncio.wait never cancels the task (a send outlives a request that stops waiting) and
        # costs less than wait_for around a shield, on every report
        done, _ = await asyncio.wait((task,), timeout=seconds)
        if done:
            try:
                return task.result()
            except Exception:
                # The request's effects committed before this attempt: it must not answer a 5xx
                # for it (SPEC §3). The message stays leased; once the lease expires the worker
                # sends it.
                log.exception(
                    "inline attempt for call %s failed; the worker takes it over", call_id
                )
                return None
        if not waiting.recording:
            waiting.call_id = None
            return None
        # The move carrying the reply is under way: its result is the reply; it is bounded by
        # the database's statement timeout.
        try:
            return await asyncio.shield(task)
        except Exception:
            return None

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
                    async with asyncio.timeout(poll_seconds):
                        await stop.wait()

    async def drain(self, grace_seconds: float) -> None:
        """Let inline attempts that outlived their request finish (on shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=grace_seconds)

    async def _deliver(
        self, message: ClaimedMessage, waiting: _Waiting | None = None
    ) -> MessageStatus | None:
        self._metrics.message_moved(MessageStatus.SENDING.value)
        started = time.perf_counter()
        try:
            result = await self._sender.send(message)
        except Exception as exc:  # a sender bug must not strand the lease until it expires
            log.exception("sender raised for message %s", message.id)
            result = SendResult(error=f"{type(exc).__name__}", transient=True)
        kind = "sent" if result.accepted else ("transient" if result.transient else "permanent")
        self._metrics.dispatch_observed(kind, time.perf_counter() - started)
        status = await self._record(message, result, waiting)
        if status is not None:
            self._metrics.message_moved(status.value)
        return status

    async def _record(
        self, message: ClaimedMessage, result: SendResult, waiting: _Waiting | None
    ) -> MessageStatus | None:
        if result.provider_message_id is not None:
            reply = waiting.claim(Outcome.SENT) if waiting else None
            ok = await self._outbox.mark_sent(message, result.provider_message_id, reply)
            return MessageStatus.SENT if ok else None
        error = result.error or "unknown error"
        if result.transient and message.attempts < self._max_attempts:
            delay = rules.backoff_seconds(message.attempts, self._retry_base)
            due = self._clock() + dt.timedelta(seconds=delay)
            reply = waiting.claim(Outcome.QUEUED) if waiting else None
            ok = await self._outbox.mark_retry(message, error, due, reply)
            return MessageStatus.QUEUED if ok else None
        reply = waiting.claim(Outcome.FAILED) if waiting else None
        ok = await self._outbox.mark_failed(message, error, reply)
        return MessageStatus.FAILED if ok else None


class _Waiting:
    """A request waiting for its inline send. ``call_id`` is None once it stopped waiting, and
    from the start for a message without a call."""

    def __init__(self, call_id: int | None) -> None:
        self.call_id: int | None = call_id
        self.recording = False

    def claim(self, outcome: Outcome) -> CallReply | None:
        """The reply to write with the move, if the request still waits; it then waits for the
        move. Runs without an await between the check and the move's start."""
        if self.call_id is None:
            return None
        self.recording = True
        return CallReply(self.call_id, outcome)
