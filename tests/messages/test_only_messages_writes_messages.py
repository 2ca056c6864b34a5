"""Only messages/ writes ``message`` and ``message_event`` (DESIGN.md, habit 1).

import-linter cannot see which table a statement writes, so this reads the source: outside
messages/, no ``insert``/``update``/``delete`` of those tables (SQLAlchemy Core, any spelling of
the call) and no raw SQL that writes them. Inside messages/, they are written from
``queries.py`` and the timeline's ``log_moves`` only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ringback

SRC = Path(ringback.__file__).parent
TABLES = {"message", "message_event", "message_table", "message_event_table"}
WRITES = {"insert", "update", "delete", "pg_insert"}
RAW_SQL = re.compile(r"\b(insert\s+into|update|delete\s+from)\s+message(_event)?\b", re.IGNORECASE)
ALLOWED = {SRC / "messages" / "queries.py", SRC / "messages" / "timeline.py"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def writes_in(path: Path) -> list[str]:
    """Each write of the message tables in ``path``, as ``line: what``."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _writes_a_message_table(node):
            found.append(f"{node.lineno}: {_name(node.func)}({_name(node.args[0])})")
        if isinstance(node, ast.Constant) and RAW_SQL.search(str(node.value)):
            found.append(f"{node.lineno}: SQL {str(node.value)[:40]!r}")
    return found


def _writes_a_message_table(call: ast.Call) -> bool:
    return _name(call.func) in WRITES and bool(call.args) and _name(call.args[0]) in TABLES


def test_nothing_outside_messages_writes_the_message_tables() -> None:
    offenders = {
        str(path.relative_to(SRC)): found
        for path in sorted(SRC.rglob("*.py"))
        if path not in ALLOWED and (found := writes_in(path))
    }
    assert offenders == {}


def test_the_scan_sees_a_write_of_each_spelling(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "update(message).values(status='x')\n"
        "sa.insert(tables.message_event)\n"
        "pg_insert(message)\n"
        "text('UPDATE message SET status = 1')\n"
        "'delete from message_event where id = 1'\n"
    )
    assert len(writes_in(sample)) == 5


def test_messages_queries_is_where_the_writes_are() -> None:
    assert writes_in(SRC / "messages" / "queries.py")
