"""The SQL views analysts query directly."""

from __future__ import annotations

from pathlib import Path

from newsflow.db import open_db


def add_document(db, key: str, status: str | None, duplicate_of: int | None = None) -> int:
    return db.execute(
        "INSERT INTO documents (key, path, body, content_hash, summary_status, duplicate_of,"
        " created_at, updated_at) VALUES (?, ?, 'text', ?, ?, ?, '2026-01-01', '2026-01-01')",
        [key, key, key, status, duplicate_of],
    ).lastrowid


def test_daily_digest_lists_canonical_news_only(db_path: Path):
    db = open_db(db_path)
    news = add_document(db, "news.txt", "ok")
    add_document(db, "copy.txt", "duplicate", duplicate_of=news)
    add_document(db, "notice.txt", "boilerplate")
    add_document(db, "japanese.txt", "unsupported_language")
    paths = [row[0] for row in db.execute("SELECT path FROM v_daily_digest ORDER BY path")]
    assert paths == ["japanese.txt", "news.txt"]
    copies = db.execute("SELECT copies FROM v_daily_digest WHERE path = 'news.txt'").fetchone()
    assert copies == (1,)
