"""Near-duplicates: MinHash signatures and LSH bands kept in SQLite, every decision logged.

How a run works (`deduplicate`):

1. New and changed documents wait in `dedup_queue` (filled by triggers on `documents`, so every
   writer — files, feeds, records — is covered without calling us).
2. Each queued document gets a MinHash signature of its normalised, language-aware word shingles
   (`tasks/common/shingles.py`), stored in `signatures`, and its LSH band buckets in `lsh_bands`.
3. Its candidates come from indexed look-ups only — the same band bucket, the same URL, the same
   content hash — restricted to the window (default 30 days around its date). Old documents are
   never re-read or re-hashed; nothing scans the table.
4. A candidate whose estimated Jaccard similarity reaches the threshold joins the document's group.
   The group's canonical is the longest full text (short lines many unrelated documents carry —
   an outlet's furniture — do not count; lengths within 10 % are equal), then the earliest (stated
   date, else file time, else when stored); every other member points at it
   (`duplicate_of`, `summary_status = 'duplicate'`), and the canonical lists the outlets that
   carried it (`documents.outlets`).
5. Two short bodies that match under different headlines which they do not talk about are the same
   boilerplate (a paywall notice, a disclaimer), not the same article: both are flagged
   (`summary_status = 'boilerplate'`, a `rejects` row) and neither is a duplicate.

Every outcome is a `dedup_decisions` row: the pair, the method (content_hash | url | minhash), the
score, the threshold in force, the decision (duplicate | kept | distinct | boilerplate) and why.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database

from newsflow.tasks.dedup.documents import DedupResult
from newsflow.tasks.dedup.grouping import DedupPass
from newsflow.tasks.dedup.settings import (
    Settings,
    load_settings,
    save_settings,
    stored_banding,
    stored_setting,
)
from newsflow.tasks.dedup.signature_index import insert_bands
from newsflow.tasks.dedup.signatures import (
    LEDE_BAND_BASE,
    NUM_PERM,
    SIGNATURE_SETTINGS,
    band_rows_of,
    from_blob,
)
from newsflow.tasks.store.transaction import write_transaction
from newsflow.tasks.store.writer import now

log = logging.getLogger(__name__)

BATCH = 500


def deduplicate(
    db: Database,
    *,
    run_id: str | None = None,
    threshold: float | None = None,
    window_days: int | None = None,
    recompute: bool = False,
    batch: int = BATCH,
) -> DedupResult:
    """Decide the queued documents (or, with `recompute`, all of them) against the stored window."""
    stored = load_settings(db)
    settings = Settings(
        threshold=stored.threshold if threshold is None else float(threshold),
        window_days=stored.window_days if window_days is None else int(window_days),
    )
    result = DedupResult(threshold=settings.threshold)
    bands, rows = settings.banding
    banding = f"{NUM_PERM}:{bands}x{rows}"
    with write_transaction(db):
        save_settings(
            db,
            {"threshold": repr(settings.threshold), "window_days": str(settings.window_days)},
        )
        if stored_banding(db) != banding:
            result.rebanded = _reband(db, bands, rows)
            save_settings(db, {"banding": banding})
        # Signatures made with other shingle or MinHash settings are recomputed from the body:
        # looked for when the settings changed, not by reading every signature on every run.
        if stored_setting(db, "signatures") != SIGNATURE_SETTINGS:
            db.conn.execute(
                "INSERT OR IGNORE INTO dedup_queue (document_id, queued_at)"
                " SELECT document_id, ? FROM signatures WHERE settings IS NOT ?",
                [now(), SIGNATURE_SETTINGS],
            )
            save_settings(db, {"signatures": SIGNATURE_SETTINGS})
        if recompute:
            _queue_everything(db, result)
    while True:
        # Take the batch off the queue under the write lock: a concurrent run that decided these
        # documents while this one waited has dequeued them, so none is decided (or logged) twice.
        with write_transaction(db):
            pending = [
                row[0]
                for row in db.execute(
                    "SELECT q.document_id FROM dedup_queue q JOIN documents d"
                    " ON d.id = q.document_id"
                    " ORDER BY coalesce(d.event_at, d.published_at, d.created_at), d.id LIMIT ?",
                    [batch],
                ).fetchall()
            ]
            if pending:
                DedupPass(db, settings, bands, rows, run_id, result, recompute=recompute).run(
                    pending
                )
        if not pending:
            break
    log.info(
        "dedup: %d checked, %d signatures, %d duplicates, %d released, %d boilerplate",
        result.checked, result.signatures, result.duplicates, result.released, result.boilerplate,
    )  # fmt: skip
    return result


def _reband(db: Database, bands: int, rows: int) -> int:
    """Rebuild every LSH bucket from the stored signatures (after a threshold change)."""
    db.conn.execute("DELETE FROM lsh_bands WHERE band < ?", [LEDE_BAND_BASE])
    band_rows: list[tuple[int, int, int]] = []
    count = 0
    for document_id, blob in db.execute("SELECT document_id, minhash FROM signatures").fetchall():
        found = band_rows_of(from_blob(blob), document_id, bands, rows)
        band_rows.extend(found)
        count += bool(found)
        if len(band_rows) >= 100_000:  # bounded memory, however many signatures are stored
            insert_bands(db, band_rows)
            band_rows.clear()
    insert_bands(db, band_rows)
    return count


def _queue_everything(db: Database, result: DedupResult) -> None:
    """For a full recompute: every document is decided again, starting from no groups."""
    stamp = now()
    db.conn.execute(
        "INSERT OR IGNORE INTO dedup_queue (document_id, queued_at) SELECT id, ? FROM documents",
        [stamp],
    )
    # Remember who was a duplicate of whom, so only real changes count and are logged as such.
    db.conn.execute("DROP TABLE IF EXISTS temp.dedup_before")
    db.conn.execute(
        "CREATE TEMP TABLE dedup_before AS SELECT id, duplicate_of, summary_status FROM documents"
        " WHERE duplicate_of IS NOT NULL OR summary_status = 'boilerplate'"
    )
    db.conn.execute(
        "UPDATE documents SET duplicate_of = NULL,"
        " summary_status = CASE WHEN summary_status IN ('duplicate', 'boilerplate') THEN NULL"
        " ELSE summary_status END"
        " WHERE duplicate_of IS NOT NULL OR summary_status = 'boilerplate'"
    )


__all__ = ["DedupResult", "Settings", "deduplicate", "load_settings"]
