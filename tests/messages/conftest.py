"""Fixtures of the outbox's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ringback.bootstrap import Container, build_container
from tests.conftest import make_settings
from tests.graphmock import POSTER


@pytest.fixture
async def queued(database_url: str) -> AsyncIterator[Container]:
    """A container that never sends inline: its reports stay queued for the test to claim."""
    built = await build_container(
        make_settings(database_url, inline_dispatch_timeout=0), start_worker=False, graph=POSTER
    )
    yield built
    await built.aclose()
