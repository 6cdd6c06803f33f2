"""Save items, rejects, summaries and runs: idempotent upserts, one short transaction a batch."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlite_utils import Database

from newsflow.tasks.common.headline import STATUS as HEADLINE_ONLY
from newsflow.tasks.store import search_index
from newsflow.tasks.store.models import Item, Reject
from newsflow.tasks.store.transaction import write_transaction


def now() -> str:
    """The current time as ISO 8601 UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- documents ------------------------------------------------------------------------------------


@dataclass
class SaveCounts:
    """What a batch of items did to the documents table."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    # (document id, item key) of every document whose text is new: what dedup and stories decide
    saved: list[tuple[int, str]] = field(default_factory=list)

    def add(self, other: SaveCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def known_files(db: Database) -> dict[str, tuple[int | None, int | None]]:
    """Size and mtime of every file behind a document, keyed 'file:<path>', to skip unchanged files
    without reading them. A JSON file's records ('items.jsonl#3') all count for their one file."""
    return {
        "file:" + row[0].split("#", 1)[0]: (row[1], row[2])
        for row in db.execute(
            "SELECT path, file_size, file_mtime_ns FROM documents WHERE path IS NOT NULL"
        ).fetchall()
    }


def count_file_documents(db: Database) -> int:
    """How many documents come from files (a JSON file's records count one each)."""
    return int(db.execute("SELECT count(*) FROM documents WHERE path IS NOT NULL").fetchone()[0])


def touch_files(db: Database, keys: Iterable[str], *, run_id: str) -> None:
    """Mark unchanged files (and a JSON file's records) as seen by this run; nothing else."""
    paths = {key.removeprefix("file:") for key in keys}
    # One pass over the file-backed rows, then updates by primary key: `path` has no index, and a
    # per-file `WHERE path = ? OR …` scanned the whole table once per file (40 s at 5,000 files).
    ids = [
        row[0]
        for row in db.execute("SELECT id, path FROM documents WHERE path IS NOT NULL").fetchall()
        if row[1].split("#", 1)[0] in paths
    ]
    with write_transaction(db):
        db.conn.executemany(
            "UPDATE documents SET last_run_id = ? WHERE id = ?", [(run_id, i) for i in ids]
        )


_CONTENT_FIELDS = ("title", "body", "captions", "language", "content_hash", "source",
                   "published_at", "published_raw", "path", "url", "feed_id",
                   "headline_only")  # fmt: skip


def save_items(
    db: Database,
    items: Iterable[Item],
    *,
    run_id: str,
    search_entries: Mapping[str, tuple[str, str, str] | None] | None = None,
) -> SaveCounts:
    """Upsert items by key in one transaction; a changed body or headline becomes a new version
    of the same row. `search_entries` (by item key) are the new texts' search index entries when
    a parse worker made them (`search_index.entry`); the others are made here."""
    counts = SaveCounts()
    stamp = now()
    # Full-text rows are written after the batch's other statements: FTS5 flushes what it holds in
    # memory whenever a later statement opens a savepoint, and a flush per document made an
    # unrelated UPDATE the dearest statement of the batch (and left many small segments).
    new_text: list[tuple[int, str | None, str, str | None]] = []
    entries = search_entries or {}
    new_entries: list[tuple[int, tuple[str, str, str] | None]] = []
    changed_text: list[int] = []
    with write_transaction(db):
        for item in items:
            row = db.execute(
                "SELECT id, content_hash, title, body, version FROM documents WHERE key = ?",
                [item.key],
            ).fetchone()
            fields = {name: getattr(item, name) for name in _CONTENT_FIELDS}
            fields |= {
                "file_size": item.file_size,
                "file_mtime_ns": item.file_mtime_ns,
                "word_count": len(item.body.split()),
                "last_run_id": run_id,
                "updated_at": stamp,
            }
            # A headline-only document is never summarised: it says so from the start.
            status = HEADLINE_ONLY if item.headline_only else None
            if row is None:
                values = fields | {"key": item.key, "created_at": stamp, "first_run_id": run_id}
                values["summary_status"] = status
                # Plain SQL: sqlite-utils' insert() reads the table's schema again on every call,
                # which doubled the cost of a new document.
                inserted = db.execute(
                    f"INSERT INTO documents ({', '.join(values)})"
                    f" VALUES ({', '.join('?' * len(values))})",
                    list(values.values()),
                ).lastrowid
                assert inserted is not None  # an INSERT into a rowid table always has one
                document_id = inserted
                counts.new += 1
                new_text.append((document_id, item.title, item.body, item.language))
                new_entries.append((document_id, entries.get(item.key)))
            elif row[1] == item.content_hash:
                document_id, _, old_title, old_body, version = row
                seen = {k: fields[k] for k in ("file_size", "file_mtime_ns", "last_run_id")}
                if (old_title or None) == (item.title or None):
                    db.table("documents").update(document_id, seen)
                    counts.unchanged += 1
                    continue
                # An edited headline over the same text is a new version too, never a silent drop;
                # the body (and so its summary) is unchanged.
                _record_version(db, document_id, version, old_title, old_body, row[1], run_id)
                db.table("documents").update(
                    document_id,
                    seen | {"title": item.title, "version": version + 1, "updated_at": stamp},
                )
                counts.updated += 1
                changed_text.append(document_id)
                continue
            else:
                document_id, _, old_title, old_body, version = row
                _record_version(db, document_id, version, old_title, old_body, row[1], run_id)
                db.table("documents").update(
                    document_id, fields | {"version": version + 1, "summary_status": status}
                )
                counts.updated += 1
                changed_text.append(document_id)
            counts.saved.append((document_id, item.key))
            if assign_exact_duplicate(db, document_id, run_id=run_id):
                counts.duplicates += 1
        _index_new_documents(db, new_text, dict(new_entries))
        for document_id in changed_text:
            _index_document(db, document_id)
        search_index.refresh(db, changed_text)
    return counts


def _record_version(
    db: Database,
    document_id: int,
    version: int,
    title: str | None,
    body: str,
    digest: str,
    run_id: str,
) -> None:
    db.table("document_versions").insert(
        {
            "document_id": document_id,
            "version": version,
            "title": title,
            "body": body,
            "content_hash": digest,
            "run_id": run_id,
            "recorded_at": now(),
        },
        ignore=True,
    )


def assign_exact_duplicate(db: Database, document_id: int, *, run_id: str | None = None) -> bool:
    """Point a document at the earliest canonical row with the same content hash; True if it is one.

    A document whose content changed also releases the rows that pointed at it for its old text.
    """
    digest = db.execute(
        "SELECT content_hash FROM documents WHERE id = ?", [document_id]
    ).fetchone()[0]
    # Rows that were exact copies of this document's old text lose their canonical: re-home them.
    orphans = [
        row[0]
        for row in db.execute(
            "SELECT id FROM documents WHERE duplicate_of = ? AND content_hash != ? ORDER BY id",
            [document_id, digest],
        ).fetchall()
    ]
    if orphans:
        db.conn.execute(
            "UPDATE documents SET duplicate_of = NULL, summary_status = NULL WHERE duplicate_of = ?"
            " AND content_hash != ?",
            [document_id, digest],
        )
        for orphan in orphans:
            assign_exact_duplicate(db, orphan, run_id=run_id)

    canonical = db.execute(
        "SELECT id FROM documents WHERE content_hash = ? AND duplicate_of IS NULL AND id != ?"
        " ORDER BY id LIMIT 1",
        [digest, document_id],
    ).fetchone()
    if canonical is None or canonical[0] > document_id:
        db.conn.execute(
            # Correlated, so it reads one row: "IN (SELECT id … WHERE content_hash != ?)" scanned
            # the whole content-hash index for every document stored.
            "UPDATE documents SET duplicate_of = NULL WHERE id = ? AND duplicate_of IS NOT NULL"
            " AND (SELECT c.content_hash FROM documents c WHERE c.id = documents.duplicate_of)"
            " != ?",
            [document_id, digest],
        )
        return False
    db.conn.execute(
        "UPDATE documents SET duplicate_of = ?, summary_status = 'duplicate' WHERE id = ?",
        [canonical[0], document_id],
    )
    db.table("dedup_decisions").insert(
        {
            "document_id": document_id,
            "canonical_id": canonical[0],
            "method": "content_hash",
            "score": 1.0,
            "threshold": 1.0,
            "decision": "duplicate",
            "reason": "identical normalised body; the earliest row is kept",
            "run_id": run_id,
            "decided_at": now(),
        }
    )
    return True


def _index_new_documents(
    db: Database,
    rows: list[tuple[int, str | None, str, str | None]],
    entries: Mapping[int, tuple[str, str, str] | None],
) -> None:
    """The FTS rows of documents just inserted (id, title, body, language), from the text at hand:
    they have no summary yet, and this is a third of the cost of _index_document's INSERT … SELECT.
    The stemmed search rows too (`tasks/store/search_index.py`)."""
    db.conn.executemany("DELETE FROM documents_fts WHERE rowid = ?", [(row[0],) for row in rows])
    db.conn.executemany(
        "INSERT INTO documents_fts (rowid, title, body, summary) VALUES (?, ?, ?, '')",
        [(document_id, title or "", body) for document_id, title, body, _ in rows],
    )
    search_index.write(
        db,
        [
            (row[0], title, body, names)
            for row in rows
            for title, body, names in [entries.get(row[0]) or search_index.entry(*row[1:])]
        ],
    )


def _index_document(db: Database, document_id: int) -> None:
    """Keep the FTS row of a document in step with its text and latest summary."""
    db.conn.execute("DELETE FROM documents_fts WHERE rowid = ?", [document_id])
    db.conn.execute(
        """
        INSERT INTO documents_fts (rowid, title, body, summary)
        SELECT d.id, coalesce(d.title, ''), d.body,
               coalesce((SELECT s.text FROM summaries s WHERE s.document_id = d.id
                         ORDER BY s.id DESC LIMIT 1), '')
        FROM documents d WHERE d.id = ?
        """,
        [document_id],
    )


# --- rejects --------------------------------------------------------------------------------------


def save_rejects(db: Database, rejects: Iterable[Reject], *, run_id: str) -> int:
    """Record rejected inputs, one row per location, counting how often each was seen."""
    rejects = list(rejects)
    stamp = now()
    with write_transaction(db):
        for reject in rejects:
            db.conn.execute(
                """
                INSERT INTO rejects (location, kind, reason, detail, size, run_id,
                                     first_seen_at, last_seen_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (location) DO UPDATE SET
                    kind = excluded.kind, reason = excluded.reason, detail = excluded.detail,
                    size = excluded.size, run_id = excluded.run_id,
                    last_seen_at = excluded.last_seen_at, times_seen = times_seen + 1
                """,
                [
                    reject.location,
                    reject.kind,
                    reject.reason,
                    reject.detail,
                    reject.size,
                    run_id,
                    stamp,
                    stamp,
                ],
            )
            # An input that used to be a document and is now refused is no longer current.
    return len(rejects)


def clear_rejects(db: Database, locations: Iterable[str]) -> None:
    """Forget rejects for inputs that have since become documents."""
    locations = list(locations)
    if not locations:
        return
    with write_transaction(db):
        db.conn.executemany("DELETE FROM rejects WHERE location = ?", [(loc,) for loc in locations])


# --- summaries ------------------------------------------------------------------------------------


@dataclass
class SummaryRow:
    """A computed summary ready to store."""

    document_id: int
    method: str
    length: str
    settings_version: str
    content_hash: str
    text: str
    sentence_indexes: list[int]


_PENDING = """
        FROM documents d
        WHERE d.duplicate_of IS NULL
          AND coalesce(d.summary_status, '')
              NOT IN ('unsupported_language', 'too_short', 'boilerplate', 'headline_only')
          AND NOT EXISTS (
            SELECT 1 FROM summaries s
            WHERE s.document_id = d.id AND s.method = ? AND s.length = ?
              AND s.settings_version = ? AND s.content_hash = d.content_hash)
        ORDER BY d.id
"""


def documents_to_summarise(
    db: Database, *, method: str, length: str, settings_version: str, limit: int | None = None
) -> list[dict[str, object]]:
    """Canonical documents with no current summary for this method, length and settings version."""
    sql = "SELECT d.id, d.body, d.language, d.content_hash, d.title" + _PENDING
    if limit:
        sql += f" LIMIT {int(limit)}"
    cursor = db.execute(sql, [method, length, settings_version])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def ids_to_summarise(db: Database, *, method: str, length: str, settings_version: str) -> list[int]:
    """The ids of documents_to_summarise, without their text: the flow reads bodies per batch."""
    sql = "SELECT d.id" + _PENDING
    return [row[0] for row in db.execute(sql, [method, length, settings_version]).fetchall()]


def documents_for_summary(db: Database, ids: list[int]) -> list[dict[str, object]]:
    """What summarising needs of each document (id, body, language, content_hash, headline_only),
    in id order."""
    placeholders = ",".join("?" * len(ids))
    cursor = db.execute(
        "SELECT id, body, language, content_hash, headline_only FROM documents"
        f" WHERE id IN ({placeholders}) ORDER BY id",
        ids,
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def save_summaries(
    db: Database, rows: Iterable[SummaryRow], *, statuses: dict[int, str], run_id: str
) -> int:
    """Upsert summaries by (document, method, length, settings version) and set each status."""
    rows = list(rows)
    stamp = now()
    with write_transaction(db):
        for row in rows:
            db.conn.execute(
                """
                INSERT INTO summaries (document_id, method, length, settings_version,
                                       content_hash, text, sentence_indexes, run_id, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (document_id, method, length, settings_version) DO UPDATE SET
                    content_hash = excluded.content_hash, text = excluded.text,
                    sentence_indexes = excluded.sentence_indexes, run_id = excluded.run_id,
                    created_at = excluded.created_at
                """,
                [
                    row.document_id,
                    row.method,
                    row.length,
                    row.settings_version,
                    row.content_hash,
                    row.text,
                    json.dumps(row.sentence_indexes),
                    run_id,
                    stamp,
                ],
            )
        db.conn.executemany(
            "UPDATE documents SET summary_status = ? WHERE id = ?",
            [(status, document_id) for document_id, status in statuses.items()],
        )
        for row in rows:
            _index_summary(db, row.document_id)
    return len(rows)


def _index_summary(db: Database, document_id: int) -> None:
    """Put a document's latest summary in its FTS row: only that column changes, which costs
    less than half of rebuilding the row (_index_document), as long as the row exists."""
    updated = db.conn.execute(
        """
        UPDATE documents_fts SET summary = coalesce(
            (SELECT s.text FROM summaries s WHERE s.document_id = ? ORDER BY s.id DESC LIMIT 1),
            '')
        WHERE rowid = ?
        """,
        [document_id, document_id],
    ).rowcount
    if not updated:
        _index_document(db, document_id)
