"""Read-side queries for the CLI: full-text search and run history."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from sqlite_utils import Database


class BadQuery(ValueError):
    """A search query that SQLite's FTS5 cannot parse."""


def _rows(db: Database, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_BAREWORD = re.compile(r"[\w\-]+", re.UNICODE)


def to_fts_query(query: str) -> str:
    """Quote each word so user input is never FTS syntax, unless it clearly uses operators."""
    if re.search(r'["*()]|\b(?:AND|OR|NOT|NEAR)\b', query):
        return query
    return " ".join(f'"{word}"' for word in _BAREWORD.findall(query))


def search(db: Database, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Full-text search over title, body and summary, best first, with highlighted snippets."""
    fts = to_fts_query(query)
    if not fts.strip():
        raise BadQuery("empty search query")
    try:
        return _rows(
            db,
            """
            SELECT d.id, d.title, d.language, d.path, d.url, d.duplicate_of,
                   snippet(documents_fts, -1, '[', ']', '…', 12) AS snippet,
                   bm25(documents_fts, 10.0, 1.0, 3.0) AS rank
            FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid
            WHERE documents_fts MATCH ?
            ORDER BY rank LIMIT ?
            """,
            [fts, limit],
        )
    except sqlite3.OperationalError as error:
        raise BadQuery(f"cannot search for {query!r}: {error}") from None


def runs(db: Database, *, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs first."""
    return _rows(
        db,
        "SELECT id, flow_run_id, started_at, finished_at, status, trigger, counts, cpu, error"
        " FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
        [limit],
    )
