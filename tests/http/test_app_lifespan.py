"""The app's own lifespan (``create_app`` with no container): it builds the services, freezes what
startup made out of the garbage collector's reach, and closes the services at shutdown."""

from __future__ import annotations

import gc

import pytest

from ringback.app import create_app
from ringback.settings import Settings

pytestmark = pytest.mark.sql


async def test_startup_builds_the_services_and_freezes_what_it_made(settings: Settings) -> None:
    app = create_app(settings, run_worker=False)
    gc.unfreeze()  # whatever an earlier test left frozen
    try:
        async with app.router.lifespan_context(app):
            assert app.state.container.settings is settings
            # the app, its routes and models, the modules: never scanned by a collection again
            assert gc.get_freeze_count() > 0
            async with app.state.container.database.driver() as conn:
                assert await conn.fetchval("SELECT 1") == 1
    finally:
        gc.unfreeze()
