"""The digest people read: stories and documents with summaries and the outlet behind each sentence.

Two digests come from the same parts: `daily_digest` (a day or a window, for `newsflow report`)
and `run_digest` (what one run did, for the run's Prefect artifact). Both read the stable views
(`v_daily_digest`, `v_story_summaries`) plus the tables they summarise. Rendering lives here for
Markdown and JSON and in `tasks/report_html.py` for HTML.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from tasks import summarize
from tasks.store import now, write_transaction

log = logging.getLogger(__name__)

FORMATS = ("md", "html", "json")
# What happened to an entry, strongest first: a story shows its strongest document's mark.
MARKS = ("new", "updated", "summarised")


class BadWindow(ValueError):
    """A --date or --since value that is not an ISO date or time."""


# --- the model ------------------------------------------------------------------------------------


@dataclass
class Sentence:
    """One summary sentence and the document and outlet it was taken from."""

    text: str
    outlet: str
    document_id: int


@dataclass
class Source:
    """A document behind an entry: its outlet and where to read it."""

    document_id: int
    outlet: str
    title: str | None
    link: str | None  # an http(s) URL, or None for local files
    location: str  # the URL or the seeds-relative path
    language: str | None
    published_at: str | None
    copies: list[str] = field(default_factory=list)  # outlets that carried an exact copy


@dataclass
class Entry:
    """A story (several documents) or a single document, with its summary."""

    kind: str  # story | document
    id: int
    title: str
    languages: list[str]
    published_at: str | None
    mark: str | None  # new | updated | None (seen in an earlier digest)
    sentences: list[Sentence]
    sources: list[Source]
    summary_method: str | None = None
    status: str | None = None  # the document's summary_status when it has no summary

    @property
    def outlets(self) -> list[str]:
        names = [source.outlet for source in self.sources]
        names += [copy for source in self.sources for copy in source.copies]
        return list(dict.fromkeys(names))


@dataclass
class Duplicate:
    """A document set aside as a copy of another, and why."""

    document_id: int
    outlet: str
    title: str
    canonical_id: int | None
    canonical_title: str | None
    method: str
    score: float | None
    reason: str | None


@dataclass
class Rejected:
    """An input that did not become a document, and why."""

    location: str
    kind: str
    reason: str
    detail: str | None


@dataclass
class Digest:
    """Everything a digest shows, ready to render as Markdown, HTML or JSON."""

    title: str
    generated_at: str
    window_start: str | None
    window_end: str | None
    previous_digest_at: str | None
    entries: list[Entry]
    by_language: dict[str, int]
    by_source: dict[str, int]
    by_day: dict[str, int]
    duplicates: list[Duplicate]
    rejects: list[Rejected]
    counts: dict[str, int] = field(default_factory=dict)
    more: int = 0  # documents in the window left out of `entries` by a limit
    notes: list[str] = field(default_factory=list)

    @property
    def new_entries(self) -> int:
        return sum(1 for entry in self.entries if entry.mark)


# --- windows --------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_moment(value: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC unless it says otherwise)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadWindow(f"not an ISO date or time: {value!r} (use YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def day_window(day: date) -> tuple[str, str]:
    """[day 00:00Z, next day 00:00Z) as stored timestamps."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return _stamp(start), _stamp(start + timedelta(days=1))


def latest_day(db: Database) -> date | None:
    """The most recent UTC day on which a document was added or changed."""
    row = db.execute("SELECT max(max(created_at), max(updated_at)) FROM documents").fetchone()
    return parse_moment(row[0]).date() if row and row[0] else None


def resolve_window(
    db: Database, *, on: str | None, since: str | None
) -> tuple[str | None, str | None]:
    """The (start, end) of a report: one day, since a moment, or the latest day with changes."""
    if on and since:
        raise BadWindow("give --date or --since, not both")
    if since:
        return _stamp(parse_moment(since)), None
    if on:
        try:
            return day_window(date.fromisoformat(on))
        except ValueError:
            raise BadWindow(f"not an ISO date: {on!r} (use YYYY-MM-DD)") from None
    day = latest_day(db)
    return day_window(day) if day else (None, None)


# --- reading --------------------------------------------------------------------------------------


def _rows(
    db: Database, sql: str, params: list[Any] | dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def outlet_of(row: dict[str, Any]) -> str:
    """Who published a document: its stated source, its feed, its web site, or its file."""
    if row.get("source"):
        return str(row["source"]).strip()
    url = row.get("url")
    if url:
        host = urlsplit(str(url)).hostname or ""
        if host:
            return host.removeprefix("www.")
    # A local file without an attribution line: the path is shown as its location instead.
    return "local file" if row.get("path") else "unknown"


def safe_link(url: str | None) -> str | None:
    """The URL when it is http(s), so no `javascript:` or `data:` link ever reaches a page."""
    if not url:
        return None
    return url if urlsplit(url).scheme.lower() in {"http", "https"} else None


def title_of(row: dict[str, Any]) -> str:
    """The headline, or the start of the body when the document has none."""
    if row.get("title"):
        return str(row["title"]).strip()
    lede = " ".join(str(row.get("lede") or "").split())
    if not lede:
        return f"Document {row.get('id') or row.get('document_id')}"
    first = re.split(r"(?<=[.!?])\s", lede, maxsplit=1)[0]
    return first if len(first) <= 100 else first[:99].rstrip() + "…"


_DOC_COLUMNS = """
    v.document_id AS id, v.story_id, v.title, v.language, v.source, v.url, v.path,
    v.published_at, v.created_at, v.updated_at, v.version, v.summary_status,
    substr(d.body, 1, 240) AS lede
"""


def _summaries(
    db: Database, ids: list[int], *, method: str | None, length: str | None, run_id: str | None
) -> dict[int, dict[str, Any]]:
    """The summary to show per document: this run's, else preferred method/length, else latest."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = _rows(
        db,
        f"SELECT document_id, method, length, text, sentence_indexes, run_id, created_at, id"
        f" FROM summaries WHERE document_id IN ({marks})",
        list(ids),
    )
    best: dict[int, tuple[tuple[int, int, int, str, int], dict[str, Any]]] = {}
    for row in rows:
        rank = (
            int(run_id is not None and row["run_id"] == run_id),
            int(method is not None and row["method"] == method),
            int(length is not None and row["length"] == length),
            row["created_at"] or "",
            row["id"],
        )
        current = best.get(row["document_id"])
        if current is None or rank > current[0]:
            best[row["document_id"]] = (rank, row)
    return {document_id: row for document_id, (_, row) in best.items()}


def _copies(db: Database, ids: list[int]) -> dict[int, list[str]]:
    """Outlets of the exact or near copies of each canonical document."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    found: dict[int, list[str]] = {}
    for row in _rows(
        db,
        f"SELECT d.duplicate_of, d.source, d.url, d.path, f.name AS feed"
        f" FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id"
        f" WHERE d.duplicate_of IN ({marks}) ORDER BY d.id",
        list(ids),
    ):
        row["source"] = row["source"] or row["feed"]
        found.setdefault(row["duplicate_of"], []).append(outlet_of(row))
    return found


def _mark(row: dict[str, Any], previous: str | None) -> str | None:
    if previous is None:
        return "new"
    if (row.get("created_at") or "") > previous:
        return "new"
    if (row.get("updated_at") or "") > previous:
        return "updated"
    return None


def _source(row: dict[str, Any], copies: dict[int, list[str]]) -> Source:
    return Source(
        document_id=row["id"],
        outlet=outlet_of(row),
        title=row.get("title"),
        link=safe_link(row.get("url")),
        location=row.get("url") or row.get("path") or "",
        language=row.get("language"),
        published_at=row.get("published_at"),
        copies=list(dict.fromkeys(copies.get(row["id"], []))),
    )


def build_entries(
    db: Database,
    documents: list[dict[str, Any]],
    *,
    marks: dict[int, str | None],
    method: str | None = None,
    length: str | None = None,
    run_id: str | None = None,
) -> list[Entry]:
    """Group documents into story entries (when they have a story) and single-document entries."""
    ids = [row["id"] for row in documents]
    summaries = _summaries(db, ids, method=method, length=length, run_id=run_id)
    copies = _copies(db, ids)
    by_story: dict[int, list[dict[str, Any]]] = {}
    entries: list[Entry] = []
    for row in documents:
        if row.get("story_id") is not None:
            by_story.setdefault(int(row["story_id"]), []).append(row)
            continue
        source = _source(row, copies)
        summary = summaries.get(row["id"])
        sentences = [
            Sentence(line, source.outlet, row["id"])
            for line in (summary["text"].splitlines() if summary else [])
            if line.strip()
        ]
        entries.append(
            Entry(
                kind="document",
                id=row["id"],
                title=title_of(row),
                languages=[row["language"]] if row.get("language") else [],
                published_at=row.get("published_at"),
                mark=marks.get(row["id"]),
                sentences=sentences,
                sources=[source],
                summary_method=summary["method"] if summary else None,
                status=None if summary else row.get("summary_status"),
            )
        )
    entries += _story_entries(db, by_story, marks=marks, summaries=summaries, copies=copies)
    entries.sort(key=lambda e: (e.mark is None, -len(e.sources), e.published_at or "", e.id))
    return entries


def _story_entries(
    db: Database,
    by_story: dict[int, list[dict[str, Any]]],
    *,
    marks: dict[int, str | None],
    summaries: dict[int, dict[str, Any]],
    copies: dict[int, list[str]],
) -> list[Entry]:
    if not by_story:
        return []
    story_ids = list(by_story)
    placeholders = ",".join("?" * len(story_ids))
    stories = {
        row["story_id"]: row
        for row in _rows(
            db, f"SELECT * FROM v_story_summaries WHERE story_id IN ({placeholders})", story_ids
        )
    }
    # Every canonical document of each story, including ones outside the window, as its sources.
    # By id through the story index: on `v.story_id` SQLite walked every canonical document.
    members = _rows(
        db,
        f"SELECT {_DOC_COLUMNS} FROM v_daily_digest v JOIN documents d ON d.id = v.document_id"
        f" WHERE v.document_id IN (SELECT id FROM documents WHERE story_id IN ({placeholders}))"
        f" ORDER BY v.published_at, v.document_id",
        story_ids,
    )
    member_copies = _copies(db, [row["id"] for row in members]) | copies
    entries = []
    for story_id, rows in by_story.items():
        story = stories.get(story_id, {})
        docs = [row for row in members if row["story_id"] == story_id] or rows
        sources = [_source(row, member_copies) for row in docs]
        outlet_by_doc = {source.document_id: source.outlet for source in sources}
        sentences: list[Sentence] = []
        lines = [line for line in (story.get("summary") or "").splitlines() if line.strip()]
        behind = json.loads(story.get("summary_sources") or "[]")
        if lines:
            for index, line in enumerate(lines):
                document_id = int(behind[index]) if index < len(behind) else docs[0]["id"]
                outlet = outlet_by_doc.get(document_id) or _outlet_by_id(db, document_id)
                sentences.append(Sentence(line, outlet, document_id))
        else:
            # No story summary yet: the lead document's own summary stands in.
            lead = next((row for row in docs if row["id"] in summaries), docs[0])
            summary = summaries.get(lead["id"])
            for line in summary["text"].splitlines() if summary else []:
                if line.strip():
                    sentences.append(Sentence(line, outlet_by_doc[lead["id"]], lead["id"]))
        row_marks = {marks.get(row["id"]) for row in rows}
        mark = next((m for m in MARKS if m in row_marks), None)
        entries.append(
            Entry(
                kind="story",
                id=story_id,
                title=story.get("title") or title_of(docs[0]),
                languages=sorted({row["language"] for row in docs if row.get("language")}),
                published_at=story.get("first_published_at") or docs[0].get("published_at"),
                mark=mark,
                sentences=sentences,
                sources=sources,
                summary_method="story" if lines else None,
            )
        )
    return entries


def _outlet_by_id(db: Database, document_id: int) -> str:
    rows = _rows(
        db,
        "SELECT d.source, d.url, d.path, f.name AS feed FROM documents d"
        " LEFT JOIN feeds f ON f.id = d.feed_id WHERE d.id = ?",
        [document_id],
    )
    if not rows:
        return "unknown"
    rows[0]["source"] = rows[0]["source"] or rows[0]["feed"]
    return outlet_of(rows[0])


def _duplicates(db: Database, where: str, params: list[Any]) -> list[Duplicate]:
    rows = _rows(
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
        for row in _rows(
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
    documents = _rows(
        db,
        f"SELECT {_DOC_COLUMNS} FROM v_daily_digest v JOIN documents d ON d.id = v.document_id"
        f" WHERE (({created}) OR ({updated})) AND {among} ORDER BY v.document_id",
        created_params + updated_params + among_params,
    )
    marks = {row["id"]: _mark(row, previous) for row in documents}
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
    documents = _rows(
        db,
        f"SELECT {_DOC_COLUMNS} FROM v_daily_digest v JOIN documents d ON d.id = v.document_id"
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
    run = _rows(db, "SELECT * FROM runs WHERE id = ?", [run_id])
    if not run:
        raise LookupError(f"Run {run_id!r} is not in the runs table")
    parameters = json.loads(run[0]["parameters"] or "{}")
    counts = json.loads(run[0]["counts"] or "{}")
    documents = _rows(
        db,
        f"""
        SELECT {_DOC_COLUMNS}, d.first_run_id,
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
        return _rows(
            db,
            "SELECT name, url, last_status AS status, last_items AS items,"
            " last_new_items AS new, duplicates, failed AS errors, last_fetch_error AS error"
            " FROM v_feed_health ORDER BY name, url",
        )
    return _rows(
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
