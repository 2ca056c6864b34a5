"""The container files, checked as data: no container engine runs on the machines we test on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_is_multi_stage_slim_and_runs_as_a_non_root_user(dockerfile: list[str]) -> None:
    stages = [line for line in dockerfile if line.startswith("FROM ")]
    assert len(stages) == 2
    assert all("-slim" in line for line in stages)
    assert "COPY --from=build" in "\n".join(dockerfile)
    users = [line.split()[1] for line in dockerfile if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")


def test_image_runs_ringback_serve_on_all_interfaces(dockerfile: list[str]) -> None:
    entrypoint = next(line for line in dockerfile if line.startswith("ENTRYPOINT"))
    command = next(line for line in dockerfile if line.startswith("CMD"))
    assert '"ringback"' in entrypoint
    assert '"serve"' in command
    assert '"0.0.0.0"' in command
    assert any(line.startswith("HEALTHCHECK") for line in dockerfile)


def test_image_build_carries_the_migrations(dockerfile: list[str]) -> None:
    text = "\n".join(dockerfile)
    assert re.search(r"COPY migrations", text)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"migrations" = "ringback/migrations"' in pyproject


def test_compose_has_postgres_migrate_api_and_worker(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "migrate", "api", "worker"}


def test_postgres_keeps_its_data_in_a_volume_and_reports_health(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:15")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pgdata" in compose["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_migrate_runs_once_after_postgres_is_healthy(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"


def test_api_and_worker_start_after_the_migration_with_the_same_database(
    compose: dict[str, Any],
) -> None:
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    for service in (api, worker):
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
        assert "RINGBACK_ADMIN_TOKEN" in service["environment"]
    assert api["command"][0] == "serve"
    assert "--no-worker" in api["command"]
    assert "readyz" in " ".join(api["healthcheck"]["test"])
    assert worker["command"] == ["worker"]
    assert worker["deploy"]["replicas"] >= 2


def test_compose_names_no_secret_values(compose: dict[str, Any]) -> None:
    env = compose["services"]["api"]["environment"]
    for name in ("RINGBACK_ADMIN_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"):
        assert env[name].startswith("${"), name
