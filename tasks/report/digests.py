"""The digest people read: stories and documents with summaries and the outlet behind each sentence.

Two digests come from the same parts: `daily_digest` (a day or a window, for `newsflow report`)
and `run_digest` (what one run did, for the run's Prefect artifact). Both read the stable views
(`v_daily_digest`, `v_story_summaries`) plus the tables they summarise. Rendering lives here for
Markdown and JSON and in `tasks/report/report_html.py` for HTML.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlite_utils import Database

from newsflow.tasks.report.entries import (
    DOC_COLUMNS,
    build_entries,
    mark_of,
    outlet_of,
    query_rows,
    title_of,
)
from newsflow.tasks.report.model import Digest, Duplicate, Rejected
from newsflow.tasks.report.window import day_window, parse_moment, resolve_window
from newsflow.tasks.store.transaction import write_transaction
from newsflow.tasks.store.writer import now
from newsflow.tasks.summarise import summarize

log = logging.getLogger(__name__)

FORMATS = ("md", "html", "json")


# --- reading --------------------------------------------------------------------------------------


def _duplicates(db: Database, where: str, params: list[Any]) -> list[Duplicate]:
    rows = query_rows(
        db,
        f"""
        SELECT d.id, d.title, d.source, d.url, d.path, substr(d.body, 1, 240) AS lede,
               d.duplicate_of AS canonical_id, c.title AS canonical_title,
               x.method, x.score, x.reason
        FROM documents d
        LEFT JOIN documents c ON c.id = d.duplicate_of
        LEFT JOIN dedup_decisions x ON x.id = (
            SELECT id FROM dedup_decisions WHERE document_id = d.id AND decision = 'duplicate'
            ORDER BY decided_at DESC, id DESC LIMIT 1)
        WHERE d.duplicate_of IS NOT NULL AND ({where})
        ORDER BY d.id
        """,
        params,
    )
    return [
        Duplicate(
            document_id=row["id"],
            outlet=outlet_of(row),
            title=title_of(row),
            canonical_id=row["canonical_id"],
            canonical_title=row["canonical_title"],
            method=row["method"] or "content_hash",
            score=row["score"],
            reason=row["reason"],
        )
        for row in rows
    ]


def _rejects(db: Database, where: str, params: list[Any]) -> list[Rejected]:
    return [
        Rejected(row["location"], row["kind"], row["reason"], row["detail"])
        for row in query_rows(
            db,
            f"SELECT location, kind, reason, detail FROM rejects WHERE {where} ORDER BY location",
            params,
        )
    ]


def _tallies(
    documents: list[dict[str, Any]],
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Documents per language, per outlet and per publication day."""
    languages: Counter[str] = Counter()
    outlets: Counter[str] = Counter()
    days: Counter[str] = Counter()
    for row in documents:
        languages[row.get("language") or "unknown"] += 1
        outlets[outlet_of(row)] += 1
        days[(row.get("published_at") or "")[:10] or "undated"] += 1
    return (
        dict(languages.most_common()),
        dict(outlets.most_common()),
        dict(sorted(days.items())),
    )


def previous_digest(db: Database) -> str | None:
    """When the last digest was produced, or None."""
    row = db.execute("SELECT max(generated_at) FROM digests").fetchone()
    return row[0] if row else None


def daily_digest(
    db: Database,
    *,
    on: str | None = None,
    since: str | None = None,
    method: str | None = None,
    limit: int | None = None,
    only: Collection[int] | None = None,
    title: str = "News digest",
) -> Digest:
    """The digest of one day (`on`), of all since a moment (`since`), or of the latest day;
    `only` keeps these documents (a topic's), the latest day then being theirs."""
    if only is not None and not (on or since):
        start, end = _latest_window(db, only)
    else:
        start, end = resolve_window(db, on=on, since=since)
    previous = previous_digest(db)
    created, created_params = _between("v.created_at", start, end)
    updated, updated_params = _between("v.updated_at", start, end)
    among, among_params = "1", []
    if only is not None:
        among, among_params = (
            "v.document_id IN (SELECT value FROM json_each(?))",
            [json.dumps(sorted(only))],
        )
    documents = query_rows(
        db,
        f"SELECT {DOC_COLUMNS} FROM v_daily_digest v JOIN documents d ON d.id = v.document_id"
        f" WHERE (({created}) OR ({updated})) AND {among} ORDER BY v.document_id",
        created_params + updated_params + among_params,
    )
    marks = {row["id"]: mark_of(row, previous) for row in documents}
    entries = build_entries(
        db, documents[:limit], marks=marks, method=method or summarize.DEFAULT_METHOD
    )
    # A topic's digest is about its documents: the window's copies and rejects are not.
    duplicates = [] if only is not None else _duplicates(db, *_between("d.created_at", start, end))
    rejects = [] if only is not None else _rejects(db, *_between("last_seen_at", start, end))
    return _assemble(
        documents,
        limit,
        title=f"{title} — {_window_label(start, end)}",
        window_start=start,
        window_end=end,
        previous_digest_at=previous,
        entries=entries,
        duplicates=duplicates,
        rejects=rejects,
        counts={
            "entries": len(entries),
            "stories": sum(1 for e in entries if e.kind == "story"),
            "documents": len(documents),
            "new": sum(1 for e in entries if e.mark),
            "duplicates": len(duplicates),
            "rejects": len(rejects),
        },
    )


def _latest_window(db: Database, ids: Collection[int]) -> tuple[str | None, str | None]:
    """The day window of the latest change among these documents."""
    row = db.execute(
        "SELECT max(max(created_at), max(updated_at)) FROM documents"
        " WHERE id IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(ids))],
    ).fetchone()
    return day_window(parse_moment(row[0]).date()) if row and row[0] else (None, None)


def documents_digest(
    db: Database, ids: Collection[int], *, title: str, run_id: str | None = None
) -> Digest:
    """A digest of exactly these canonical documents, marked new (what a run found for a topic)."""
    documents = query_rows(
        db,
        f"SELECT {DOC_COLUMNS} FROM v_daily_digest v JOIN documents d ON d.id = v.document_id"
        f" WHERE v.document_id IN (SELECT value FROM json_each(?)) ORDER BY v.document_id",
        [json.dumps(sorted(ids))],
    )
    marks: dict[int, str | None] = {row["id"]: "new" for row in documents}
    entries = build_entries(db, documents, marks=marks, run_id=run_id)
    return _assemble(
        documents,
        None,
        title=title,
        window_start=None,
        window_end=None,
        previous_digest_at=None,
        entries=entries,
        duplicates=[],
        rejects=[],
        counts={"entries": len(entries), "documents": len(documents)},
    )


def _between(column: str, start: str | None, end: str | None) -> tuple[str, list[Any]]:
    """SQL for `start <= column < end`, either bound optional."""
    conditions, params = ["1"], []
    if start:
        conditions.append(f"{column} >= ?")
        params.append(start)
    if end:
        conditions.append(f"{column} < ?")
        params.append(end)
    return " AND ".join(conditions), params


def _window_label(start: str | None, end: str | None) -> str:
    if not start:
        return "nothing stored yet"
    if (
        end
        and parse_moment(end) - parse_moment(start) == timedelta(days=1)
        and start.endswith("T00:00:00Z")
    ):
        return start[:10]
    return f"since {start.replace('T00:00:00Z', '')}"


def record_digest(db: Database, digest: Digest, *, output_format: str) -> None:
    """Remember that a digest was produced, so the next one marks only what came after."""
    with write_transaction(db):
        db.table("digests").insert(
            {
                "generated_at": digest.generated_at,
                "window_start": digest.window_start,
                "window_end": digest.window_end,
                "format": output_format,
                "items": len(digest.entries),
            }
        )


def run_digest(db: Database, run_id: str, *, limit: int | None = None) -> Digest:
    """What one run did: documents it added, changed or summarised, its duplicates and rejects."""
    run = query_rows(db, "SELECT * FROM runs WHERE id = ?", [run_id])
    if not run:
        raise LookupError(f"Run {run_id!r} is not in the runs table")
    parameters = json.loads(run[0]["parameters"] or "{}")
    counts = json.loads(run[0]["counts"] or "{}")
    documents = query_rows(
        db,
        f"""
        SELECT {DOC_COLUMNS}, d.first_run_id,
               EXISTS (SELECT 1 FROM document_versions x
                       WHERE x.document_id = d.id AND x.run_id = :run) AS changed,
               EXISTS (SELECT 1 FROM summaries s
                       WHERE s.document_id = d.id AND s.run_id = :run) AS summarised
        FROM v_daily_digest v JOIN documents d ON d.id = v.document_id
        WHERE d.first_run_id = :run
           OR EXISTS (SELECT 1 FROM document_versions x
                      WHERE x.document_id = d.id AND x.run_id = :run)
           OR EXISTS (SELECT 1 FROM summaries s WHERE s.document_id = d.id AND s.run_id = :run)
        ORDER BY v.document_id
        """,
        {"run": run_id},
    )
    marks: dict[int, str | None] = {}
    for row in documents:
        if row["first_run_id"] == run_id:
            marks[row["id"]] = "new"
        elif row["changed"]:
            marks[row["id"]] = "updated"
        else:
            marks[row["id"]] = "summarised"
    entries = build_entries(
        db,
        documents[:limit],
        marks=marks,
        method=parameters.get("method"),
        length=parameters.get("sentences"),
        run_id=run_id,
    )
    duplicates = _duplicates(
        db,
        "d.first_run_id = ? OR EXISTS (SELECT 1 FROM dedup_decisions y WHERE y.document_id = d.id"
        " AND y.run_id = ? AND y.decision = 'duplicate')",
        [run_id, run_id],
    )
    rejects = _rejects(db, "run_id = ?", [run_id])
    done = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items()) if v)
    notes = [
        f"{run[0]['trigger'] or 'manual'} run, {run[0]['status']};"
        f" {parameters.get('method')} with {parameters.get('sentences')} sentences"
        + (f"; {done}" if done else "")
    ]
    if run[0]["status"] == "skipped":
        notes.append(f"Skipped: {run[0]['error'] or 'this scheduled slot was already done'}.")
    return _assemble(
        documents,
        limit,
        title=f"Run {run_id[:8]} — {run[0]['started_at']}",
        window_start=run[0]["started_at"],
        window_end=run[0]["finished_at"],
        previous_digest_at=None,
        entries=entries,
        duplicates=duplicates,
        rejects=rejects,
        counts={k: int(v) for k, v in counts.items() if isinstance(v, int | float)},
        notes=notes,
    )


def _assemble(documents: list[dict[str, Any]], limit: int | None, **fields: Any) -> Digest:
    """A digest of these documents: the tallies, the time, and how many a limit left out."""
    by_language, by_source, by_day = _tallies(documents)
    return Digest(
        generated_at=now(),
        by_language=by_language,
        by_source=by_source,
        by_day=by_day,
        more=max(0, len(documents) - len(documents[:limit])),
        **fields,
    )


def feed_health(db: Database, run_id: str | None = None) -> list[dict[str, Any]]:
    """Per feed: last status, items, new, duplicates and errors (of one run, when given)."""
    if run_id is None:
        return query_rows(
            db,
            "SELECT name, url, last_status AS status, last_items AS items,"
            " last_new_items AS new, duplicates, failed AS errors, last_fetch_error AS error"
            " FROM v_feed_health ORDER BY name, url",
        )
    return query_rows(
        db,
        """
        WITH runs_fetches AS (
            SELECT x.*, coalesce(x.feed_id, x.url) AS feed_key
            FROM fetches x WHERE x.run_id = :run AND x.kind = 'feed')
        SELECT coalesce(f.name, nullif(x.url, ''), f.url) AS name,
               coalesce(f.url, x.url) AS url,
               (SELECT y.status FROM runs_fetches y WHERE y.feed_key = x.feed_key
                ORDER BY y.fetched_at DESC, y.id DESC LIMIT 1) AS status,
               coalesce(sum(x.items), 0) AS items,
               coalesce(sum(x.new_items), 0) AS new,
               (SELECT count(*) FROM documents d WHERE d.feed_id = x.feed_id
                  AND d.first_run_id = :run AND d.duplicate_of IS NOT NULL) AS duplicates,
               sum(x.error IS NOT NULL OR x.status IS NULL OR x.status >= 400) AS errors,
               (SELECT y.error FROM runs_fetches y WHERE y.feed_key = x.feed_key
                  AND y.error IS NOT NULL ORDER BY y.id DESC LIMIT 1) AS error
        FROM runs_fetches x LEFT JOIN feeds f ON f.id = x.feed_id
        GROUP BY x.feed_key ORDER BY name
        """,
        {"run": run_id},
    )
