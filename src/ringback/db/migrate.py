"""Run the alembic migrations, from a checkout or an installed wheel (which carries them)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from ringback.settings import to_asyncpg_url


def migrations_dir() -> Path:
    packaged = Path(__file__).resolve().parents[3] / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[5] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", to_asyncpg_url(database_url).replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Blocking (alembic's env runs its own event loop): call from a thread inside async code."""
    command.upgrade(alembic_config(database_url), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql://unused/x")).get_current_head()
