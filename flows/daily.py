"""The daily flow: files (and feeds) → clean text → dedup → summaries → SQLite."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Literal

from flows.settings import apply_defaults

apply_defaults()

from prefect import flow, get_run_logger, task  # noqa: E402

from db import open_db  # noqa: E402
from flows.artifacts import publish_artifacts  # noqa: E402
from flows.feeds import ingest_feeds  # noqa: E402
from flows.runinfo import current_run  # noqa: E402
from tasks import ingest, runslots, store, summarize  # noqa: E402

FILE_BATCH = 200  # files read and written per task run / transaction
FILE_BATCH_BYTES = 64 * 1024 * 1024  # and at most this many bytes of files, to bound memory
SUMMARY_BATCH = 100  # documents summarised per task run / transaction

# The summariser names as a Literal, so the Prefect UI renders `method` as a dropdown.
Method = Literal[summarize.METHODS]  # type: ignore[valid-type]


@task(name="scan-seeds")
def scan_seeds(db_path: str, seeds_dir: str, run_id: str) -> dict[str, Any]:
    """Find article files; skip the ones whose size and mtime are unchanged since the last run."""
    db = open_db(db_path)
    entries, rejects = ingest.scan_folder(Path(seeds_dir))
    known = store.known_files(db)
    changed = [e for e in entries if known.get(e.key) != (e.size, e.mtime_ns)]
    unchanged = [e.key for e in entries if known.get(e.key) == (e.size, e.mtime_ns)]
    store.touch_files(db, unchanged, run_id=run_id)
    store.save_rejects(db, rejects, run_id=run_id)
    batches = ingest.plan_batches(changed, max_files=FILE_BATCH, max_bytes=FILE_BATCH_BYTES)
    return {
        "changed": [str(e.path) for e in changed],
        "batches": [[str(e.path) for e in batch] for batch in batches],
        "files_seen": len(entries) + len(rejects),
        "files_unchanged": len(unchanged),
        "rejects": len(rejects),
    }


@task(name="ingest-files")
def ingest_files(db_path: str, seeds_dir: str, paths: list[str], run_id: str) -> dict[str, int]:
    """Read a batch of files and upsert their items in one transaction."""
    db = open_db(db_path)
    root = Path(seeds_dir).resolve()
    items, rejects = [], []
    for path in paths:
        # A file may have changed or gone since the scan: load_path refuses it, never raises.
        found, refused = ingest.load_path(root, Path(path))
        items.extend(found)
        rejects.extend(refused)
    # One transaction for the batch: a kill leaves all of it or none of it.
    with store.write_transaction(db):
        counts = store.save_items(db, items, run_id=run_id)
        store.save_rejects(db, rejects, run_id=run_id)
        store.clear_rejects(db, [item.path for item in items if item.path])
    return {
        "documents_new": counts.new,
        "documents_updated": counts.updated,
        "documents_unchanged": counts.unchanged,
        "exact_duplicates": counts.duplicates,
        "rejects": len(rejects),
    }


@task(name="summarise-batch")
def summarise_batch(
    db_path: str, document_ids: list[int], method: str, length: str, run_id: str
) -> dict[str, int]:
    """Summarise a batch of canonical documents and store the results in one transaction."""
    db = open_db(db_path)
    placeholders = ",".join("?" * len(document_ids))
    cursor = db.execute(
        f"SELECT id, body, language, content_hash FROM documents WHERE id IN ({placeholders})",
        document_ids,
    )
    names = [c[0] for c in cursor.description]
    documents = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    results, statuses = summarize.summarise_documents(
        documents, method=method, length=summarize.parse_length(length)
    )
    rows = [
        store.SummaryRow(document_id, method, length, summarize.SETTINGS_VERSION, digest,
                         summary.text, summary.indexes)
        for document_id, digest, summary in results
    ]
    store.save_summaries(db, rows, statuses=statuses, run_id=run_id)
    unsupported = sum(1 for s in statuses.values() if s == "unsupported_language")
    return {"summaries": len(rows), "unsupported_language": unsupported}


def _publish(db_path: str, run_id: str) -> None:
    try:
        publish_artifacts(db_path, run_id)
    except Exception as error:  # the run's data is stored; a missing artifact must not fail it
        get_run_logger().warning("could not publish the run's artifacts: %s", error)


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for name, value in part.items():
        total[name] = total.get(name, 0) + value


@flow(name="newsflow-daily", log_prints=True)
def daily(
    seeds_dir: str = "seeds",
    feeds: list[str] | None = None,
    feeds_file: str | None = None,
    method: Method = summarize.DEFAULT_METHOD,
    # A number, so the UI shows a number field; the CLI's "3" or "0.2" is coerced by validation.
    sentences: float = summarize.DEFAULT_SENTENCES,
    db_path: str = "db/newsflow.db",
    trigger: str = "cli",
) -> dict[str, Any]:
    """Ingest the seeds folder, deduplicate, summarise, and record the run.

    Args:
        seeds_dir: Folder of article files (.txt, .md, .html, .json) to ingest.
        feeds: Feed URLs to fetch besides the seed files.
        feeds_file: Feed list (TOML) to use instead of <seeds_dir>/feeds.toml.
        method: Summariser used for every new or changed document.
        sentences: Summary length: a sentence count (3) or a ratio of the document (0.2).
        db_path: SQLite database file (created if missing).
        trigger: Label recorded for runs outside a deployment (deployment runs record
            'schedule' or 'ui').
    """
    logger = get_run_logger()
    length = summarize.length_key(summarize.parse_length(sentences))
    if method not in summarize.METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(summarize.METHODS)}")
    db = open_db(db_path)
    parameters = {"seeds_dir": seeds_dir, "feeds": feeds or [], "feeds_file": feeds_file,
                  "method": method,
                  "sentences": length, "db_path": db_path}
    info = current_run(trigger)
    # Runs killed before they could record how they ended are marked, not left 'running'.
    for stale in store.abandon_stale_runs(db):
        logger.warning("run %s was left unfinished by a process that is gone: abandoned", stale)
    run_id = store.start_run(db, parameters=parameters, flow_run_id=info.flow_run_id,
                             trigger=info.trigger)
    # Run-date guard: a schedule slot that another run completed (or is running) is a no-op.
    owner = runslots.claim_slot(db, run_id, info.slot) if info.slot else None
    if owner:
        store.finish_run(db, run_id, status="skipped",
                         error=f"slot {info.slot} already taken by run {owner}")
        _publish(db_path, run_id)
        return {"run_id": run_id, "counts": {}, "db_path": db_path, "status": "skipped"}
    counts: dict[str, int] = {}
    try:
        if Path(seeds_dir).is_dir():
            scanned = scan_seeds(db_path, seeds_dir, run_id)
            counts |= {k: v for k, v in scanned.items() if k not in ("changed", "batches")}
            for batch in scanned["batches"]:
                _add(counts, ingest_files(db_path, seeds_dir, batch, run_id))
        else:
            logger.warning("seeds folder %s does not exist; no files ingested", seeds_dir)

        # Feeds: the listed ones (enabled) plus ad-hoc URLs; a failing feed never fails the run.
        feed_list = feeds_file or str(Path(seeds_dir) / "feeds.toml")
        if feeds_file and not Path(feeds_file).is_file():
            raise FileNotFoundError(f"feed list {feeds_file} does not exist")
        if feeds or Path(feed_list).is_file():
            _add(counts, ingest_feeds(db_path, feed_list, list(feeds or []), run_id))

        pending = store.documents_to_summarise(
            db, method=method, length=length, settings_version=summarize.SETTINGS_VERSION
        )
        ids = [int(d["id"]) for d in pending]  # type: ignore[call-overload]
        for start in range(0, len(ids), SUMMARY_BATCH):
            _add(counts, summarise_batch(db_path, ids[start:start + SUMMARY_BATCH], method, length, run_id))
    except BaseException as error:
        store.finish_run(db, run_id, status="failed", counts=counts,
                         error="".join(traceback.format_exception_only(error)).strip())
        raise
    store.finish_run(db, run_id, status="completed", counts=counts)
    _publish(db_path, run_id)
    return {"run_id": run_id, "counts": counts, "db_path": db_path}
