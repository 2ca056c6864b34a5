"""The listener always stops when it is closed (``Listener.aclose``).

A close used to hang for good, now and then, on a busy machine: ``aclose`` cancelled the
listening task once, and a cancellation that arrived while the ping's reply was already in (its
future done, the task not yet resumed) was dropped by Python 3.11's ``asyncio.wait_for``, which
returned the reply instead (fixed in 3.12). The task went on pinging, "cancelling" for ever, and
the shutdown waited on it (CI: the ops bench at smoke size never returned; caught with a dump of
the process's tasks). The listener now waits with ``asyncio.timeout``, and ``aclose`` cancels
again until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import create_async_engine

from ringback.db.notifications import Listener
from tests.waits import SLOW_MACHINE_SECONDS


class DropsTheFirstCancellation(Listener):
    """A listener whose turn drops one cancellation, as 3.11's ``wait_for`` could, and goes on
    pinging (no database: the ping is a sleep)."""

    async def _listen(self) -> None:
        self._first_try.set()
        # the reply was already in: wait_for returned it and dropped the cancellation
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        while True:
            await asyncio.sleep(0.001)


async def test_a_close_ends_the_listener_even_when_a_cancellation_is_dropped() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    listener = DropsTheFirstCancellation(
        engine,
        "ringback_test_close",
        on_notify=lambda _payload: None,
        on_confirmed=lambda _as_of: None,
        on_lost=lambda: None,
    )
    await listener.start(wait_seconds=SLOW_MACHINE_SECONDS)
    task = listener._task
    assert task is not None

    # only a hang reaches this bound: the close takes one re-cancel (half a second)
    await asyncio.wait_for(listener.aclose(), SLOW_MACHINE_SECONDS)

    assert task.done()
    assert task.cancelled()
    await engine.dispose()
