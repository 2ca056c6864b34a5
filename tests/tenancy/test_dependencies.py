"""Routes get what they use through ``http/deps.py``; nothing else reads ``request.app.state``."""

from __future__ import annotations

from pathlib import Path

from ringback.bootstrap import Container
from ringback.http.deps import Services

SRC = Path(__file__).resolve().parents[2] / "src" / "ringback"
# app.py puts things there; deps.py is the one reader
ALLOWED = {SRC / "app.py", SRC / "http" / "deps.py"}


def as_services(container: Container) -> Services:
    """Type-checked (mypy): the composition root provides what routes use."""
    return container


def test_only_the_dependencies_module_reads_the_app_state() -> None:
    readers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path not in ALLOWED and "app.state" in path.read_text(encoding="utf-8")
    )

    assert readers == []


def test_the_container_provides_every_service_routes_use() -> None:
    names = {name for name in dir(Services) if not name.startswith("_")}

    assert names <= set(Container.__dataclass_fields__) | set(dir(Container))
