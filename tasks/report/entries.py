"""A digest's entries: one per story (its summary lines credited to their outlets) or lone
document, with its sources and copies."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from newsflow.tasks.report.model import MARKS, Entry, Sentence, Source


def query_rows(
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


DOC_COLUMNS = """
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
    rows = query_rows(
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
    for row in query_rows(
        db,
        f"SELECT d.duplicate_of, d.source, d.url, d.path, f.name AS feed"
        f" FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id"
        f" WHERE d.duplicate_of IN ({marks}) ORDER BY d.id",
        list(ids),
    ):
        row["source"] = row["source"] or row["feed"]
        found.setdefault(row["duplicate_of"], []).append(outlet_of(row))
    return found


def mark_of(row: dict[str, Any], previous: str | None) -> str | None:
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
        for row in query_rows(
            db, f"SELECT * FROM v_story_summaries WHERE story_id IN ({placeholders})", story_ids
        )
    }
    # Every canonical document of each story, including ones outside the window, as its sources.
    # By id through the story index: on `v.story_id` SQLite walked every canonical document.
    members = query_rows(
        db,
        f"SELECT {DOC_COLUMNS} FROM v_daily_digest v JOIN documents d ON d.id = v.document_id"
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
    rows = query_rows(
        db,
        "SELECT d.source, d.url, d.path, f.name AS feed FROM documents d"
        " LEFT JOIN feeds f ON f.id = d.feed_id WHERE d.id = ?",
        [document_id],
    )
    if not rows:
        return "unknown"
    rows[0]["source"] = rows[0]["source"] or rows[0]["feed"]
    return outlet_of(rows[0])
