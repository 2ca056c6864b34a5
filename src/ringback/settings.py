"""Configuration (SPEC §1), read once with pydantic-settings and passed in; never read at import."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"
SANDBOX_APP_SECRET = "ringback-sandbox-app-secret"  # noqa: S105 - public by design, see below
"""The WhatsApp app secret of ``ringback serve --sandbox`` when none is configured, which
``ringback demo --reply`` signs with too: the sandbox talks to no real WhatsApp, so its webhook
needs no secret of its own for a newcomer's offline demo. A configured secret always wins."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RINGBACK_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    admin_token: SecretStr | None = None
    whatsapp_api_base_url: str = Field(
        default=DEFAULT_GRAPH_URL,
        validation_alias=AliasChoices("WHATSAPP_API_BASE_URL", "whatsapp_api_base_url"),
    )
    whatsapp_app_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("WHATSAPP_APP_SECRET", "whatsapp_app_secret"),
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("WHATSAPP_VERIFY_TOKEN", "whatsapp_verify_token"),
    )
    inline_dispatch_timeout: float = Field(default=2.0, ge=0)
    rate_limit_per_second: float = Field(default=200, ge=0)
    ccai_rate_limit_per_second: float = Field(default=10, ge=0)
    log_format: Literal["console", "json"] = "console"
    retry_base_seconds: float = Field(default=2, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    lease_seconds: float = Field(default=30, gt=0)
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    worker_batch_size: int = Field(default=20, ge=1)
    graph_timeout_seconds: float = Field(default=10, gt=0)
    db_pool_size: int = Field(default=10, ge=1)
    db_connect_timeout_seconds: float = Field(default=1.0, gt=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a request waits for a free pooled connection under load (not an outage)."""
    db_statement_timeout_seconds: float = Field(default=10, gt=0)
    max_body_bytes: int = 256 * 1024
    sandbox: bool = False
    run_worker: bool = True
    """RINGBACK_RUN_WORKER: whether each server process also runs the outbox worker. Set by
    ``ringback serve`` for the processes it starts (``--no-worker`` sets it false)."""

    @field_validator("run_worker", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        # RINGBACK_RUN_WORKER= (set but empty, as compose files often leave it) keeps the default
        return True if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str | None) -> str | None:
        return to_asyncpg_url(value) if value else value


def to_asyncpg_url(url: str) -> str:
    """Accept both ``postgresql://`` and ``postgresql+asyncpg://`` (SPEC §1)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url
