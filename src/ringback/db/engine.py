"""The async engine: a bounded asyncpg pool that fails fast when PostgreSQL is down."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ringback.settings import Settings


def build_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    size = pool_size or settings.db_pool_size
    return create_async_engine(
        settings.database_url,
        # bound parameters hold customers' numbers and names: an error's message (logged with
        # its traceback on a 500) must not carry them (SPEC §2)
        hide_parameters=True,
        pool_size=size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_statement_timeout_seconds,
            "server_settings": {"application_name": "ringback"},
        },
    )
