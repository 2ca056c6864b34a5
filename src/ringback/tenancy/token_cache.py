"""The tokens this process authenticated, kept so that a report costs no token round trip.

SPEC §9 allows a per-process cache only if a revoked token stops working on every process within
one second, and at once in the process that revoked it. So:

- every change of an ``api_token`` or ``restaurant`` row NOTIFYs ``CHANNEL`` in the transaction
  that makes it (triggers of migration 0008: every writer is caught, the admin API, ``ringback
  demo``, a psql session alike), with ``t:<token hash>``, ``r:<restaurant id>`` or ``*`` (a
  TRUNCATE) as payload; each process hears them on one connection (``db.notifications.Listener``)
  and drops what they name. The process that made the change drops it at once as well
  (``TenancyRepository``).
- the cache serves only while the listener has confirmed, at most ``grace_seconds`` ago, that it
  heard everything committed (``confirmed(as_of)``): a listener whose ping is late may have lost
  its connection silently, so every lookup goes to the database until a ping confirms again; one
  that lost its connection missed what changed meanwhile, so the cache is emptied (``lost()``).
- a lookup that read the database before a change was heard must not put what it read back:
  every drop moves ``epoch`` on, and ``put`` keeps an entry only if the epoch it was read under is
  still the current one.
- entries are bounded in number and live at most ``ttl_seconds`` whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ringback.tenancy.model import ApiToken

CHANNEL = "ringback_tenancy"
TOKEN_PAYLOAD = "t:"  # noqa: S105 -- a payload's prefix, not a secret
RESTAURANT_PAYLOAD = "r:"
EVERYTHING_PAYLOAD = "*"


class TokenCache:
    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        ttl_seconds: float = 60.0,
        grace_seconds: float = 0.75,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: dict[str, tuple[float, ApiToken]] = {}
        self._max_entries = max_entries
        self._ttl = ttl_seconds
        self._grace = grace_seconds
        self._clock = clock
        self._confirmed_until = float("-inf")
        self.epoch = 0

    @property
    def serving(self) -> bool:
        return self._clock() < self._confirmed_until

    def get(self, token_hash: str) -> ApiToken | None:
        if not self.serving:
            return None
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        expires, found = entry
        if self._clock() >= expires:
            del self._entries[token_hash]
            return None
        return found

    def holds(self, token_hash: str) -> bool:
        """Whether an entry is kept for ``token_hash``, served or not (tests, diagnostics)."""
        return token_hash in self._entries

    def put(self, token_hash: str, found: ApiToken, epoch: int) -> None:
        """Keep ``found``, read while the epoch was ``epoch``, unless something changed since."""
        if epoch != self.epoch or not self.serving:
            return
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest
        self._entries[token_hash] = (self._clock() + self._ttl, found)

    # --- what invalidates ---

    def drop_token(self, token_hash: str) -> None:
        self.epoch += 1
        self._entries.pop(token_hash, None)

    def drop_restaurant(self, restaurant_id: int) -> None:
        self.epoch += 1
        for key in [k for k, (_, t) in self._entries.items() if t.restaurant.id == restaurant_id]:
            del self._entries[key]

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()

    def heard(self, payload: str) -> None:
        """A notification on ``CHANNEL``; one that cannot be read drops everything."""
        if payload.startswith(TOKEN_PAYLOAD):
            self.drop_token(payload.removeprefix(TOKEN_PAYLOAD))
        elif payload.startswith(RESTAURANT_PAYLOAD) and payload[2:].isdigit():
            self.drop_restaurant(int(payload[2:]))
        else:
            self.clear()

    def confirmed(self, as_of: float) -> None:
        """The listener has heard everything committed before ``as_of`` (on ``clock``)."""
        self._confirmed_until = max(self._confirmed_until, as_of + self._grace)

    def lost(self) -> None:
        """The listener may miss changes from now on: serve nothing until it is confirmed."""
        self._confirmed_until = float("-inf")
        self.clear()
