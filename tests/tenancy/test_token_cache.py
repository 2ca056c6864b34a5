"""The token cache serves only what no change could have made stale (no database)."""

from __future__ import annotations

from ringback.tenancy.model import ApiToken, Restaurant, TokenKind
from ringback.tenancy.token_cache import TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def token(hash_: str = "h1", restaurant_id: int = 1) -> ApiToken:
    return ApiToken(
        1, TokenKind.PARTNER, hash_, Restaurant(restaurant_id, "r", "R", "FR", "Europe/Paris")
    )


def confirmed_cache(
    clock: Clock, *, ttl_seconds: float = 60.0, max_entries: int = 100
) -> TokenCache:
    cache = TokenCache(
        clock=clock, grace_seconds=1.0, ttl_seconds=ttl_seconds, max_entries=max_entries
    )
    cache.confirmed(clock.now)
    return cache


def test_a_cache_whose_listener_never_confirmed_serves_nothing() -> None:
    cache = TokenCache()
    cache.put("h1", token(), cache.epoch)
    assert cache.get("h1") is None


def test_a_confirmed_cache_serves_what_it_was_given() -> None:
    clock = Clock()
    cache = confirmed_cache(clock)
    cache.put("h1", token(), cache.epoch)
    assert cache.get("h1") == token()


def test_it_stops_serving_when_no_confirmation_came_within_the_grace() -> None:
    clock = Clock()
    cache = confirmed_cache(clock)
    cache.put("h1", token(), cache.epoch)
    clock.now += 1.5
    assert cache.get("h1") is None
    cache.confirmed(clock.now)  # the late ping came back: nothing was missed
    assert cache.get("h1") == token()


def test_a_lost_listener_empties_it_and_it_serves_nothing_until_confirmed_again() -> None:
    clock = Clock()
    cache = confirmed_cache(clock)
    cache.put("h1", token(), cache.epoch)
    cache.lost()
    assert cache.get("h1") is None
    cache.put("h1", token(), cache.epoch)
    cache.confirmed(clock.now)
    assert cache.get("h1") is None


def test_what_was_read_before_a_change_was_heard_is_not_kept() -> None:
    clock = Clock()
    cache = confirmed_cache(clock)
    epoch = cache.epoch
    cache.heard("t:h1")  # the token changed while its row was being read
    cache.put("h1", token(), epoch)
    assert cache.get("h1") is None


def test_notifications_drop_the_token_the_restaurant_or_everything() -> None:
    clock = Clock()
    cache = confirmed_cache(clock)
    for hash_, restaurant_id in (("a", 1), ("b", 1), ("c", 2), ("d", 3)):
        cache.put(hash_, token(hash_, restaurant_id), cache.epoch)

    cache.heard("t:c")
    assert cache.get("c") is None
    cache.heard("r:1")
    assert cache.get("a") is None
    assert cache.get("b") is None
    assert cache.get("d") is not None
    cache.heard("*")
    assert cache.get("d") is None


def test_an_unreadable_notification_drops_everything() -> None:
    clock = Clock()
    cache = confirmed_cache(clock)
    cache.put("a", token("a"), cache.epoch)
    cache.heard("r:not-a-number")
    assert cache.get("a") is None


def test_entries_expire_and_their_number_is_bounded() -> None:
    clock = Clock()
    cache = confirmed_cache(clock, ttl_seconds=10.0, max_entries=2)
    cache.put("a", token("a"), cache.epoch)
    cache.put("b", token("b"), cache.epoch)
    cache.put("c", token("c"), cache.epoch)
    assert cache.get("a") is None  # the oldest made room
    assert cache.get("b") is not None
    assert cache.get("c") is not None
    clock.now += 0.5
    cache.confirmed(clock.now)
    clock.now += 10
    cache.confirmed(clock.now)
    assert cache.get("b") is None
