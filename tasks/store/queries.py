"""Read-side queries for the CLI: run history (search is `tasks/search/engine.py`)."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database


def _rows(db: Database, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def runs(db: Database, *, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs first."""
    return _rows(
        db,
        "SELECT id, flow_run_id, started_at, finished_at, status, trigger, counts, cpu, error"
        " FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
        [limit],
    )
