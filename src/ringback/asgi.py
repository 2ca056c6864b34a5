"""The uvicorn factory: ``uvicorn --factory ringback.asgi:create_asgi_app``.

Every server process builds its own Settings from the environment. ``ringback serve`` passes its
flags to worker processes this way: ``DATABASE_URL`` (already resolved, so N processes share one
embedded server), ``RINGBACK_SANDBOX`` and ``RINGBACK_RUN_WORKER``.
"""

from __future__ import annotations

from fastapi import FastAPI

from ringback.app import create_app
from ringback.http.logs import configure_logging
from ringback.settings import Settings


def create_asgi_app() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_format)
    if not settings.database_url:
        from ringback.cli import database_url_or_embedded, with_database

        settings = with_database(settings, database_url_or_embedded(settings))
    return create_app(settings, run_worker=settings.run_worker)
