"""The README is the front door: it documents every command, the set-up and the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from db import open_db
from flows.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = [command.name or command.callback.__name__ for command in app.registered_commands]


def test_the_contract_commands_exist():
    expected = {"run", "digest", "search", "summarize", "eval", "report", "serve", "runs", "dedup"}
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_takes_db_and_is_in_the_readme(name: str):
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    assert command.help, f"{name} has no help text"
    assert any("--db" in parameter.opts for parameter in command.params), f"{name} lacks --db"
    assert f"newsflow {name}" in README, f"README does not show `newsflow {name}`"


def test_quick_start_shows_the_two_commands_first():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick_start and "make test" in quick_start


def test_every_table_is_documented(tmp_path: Path):
    db = open_db(tmp_path / "docs.db")
    shadow = ("_", "documents_fts_", "documents_search_")  # FTS5's own tables
    tables = [t for t in db.table_names() if not t.startswith(shadow)]
    for table in tables + db.view_names():
        assert f"`{table}`" in README, f"README does not document table or view {table}"
