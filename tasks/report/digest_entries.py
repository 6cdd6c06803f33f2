"""The digest as plain entries, for the terminal and topic listings: one per story (its summary
lines with their outlets, its reports and their copies), then lone documents."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlite_utils import Database

from newsflow.tasks.common.outlets import outlet_name
from newsflow.tasks.stories.linking import first_sentence


def _rows(db: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def digest_entries(
    db: Database,
    *,
    since: str | None = None,
    limit: int | None = None,
    only: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """The digest: one entry per story (with its reports and outlets), then documents without one.

    Each entry has `kind` (story | document), `title`, `summary` lines as (text, document id,
    outlet), `sources` (document id, title, outlet, location, and its copies) and dates. `since`
    keeps entries with a report created or changed since then; `only` those with one of these
    documents (a topic's). Boilerplate-only documents are left
    out (they are flagged, not news). `limit` keeps at least that many entries, the first ones.
    """
    where = "d.duplicate_of IS NULL AND coalesce(d.summary_status, '') != 'boilerplate'"
    params: list[Any] = []
    if since:
        where += " AND (d.created_at >= ? OR d.updated_at >= ?)"
        params += [since, since]
    if only is not None:
        where += " AND d.id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(only)))
    documents = _rows(
        db,
        f"""
        SELECT d.id, d.story_id, d.title, d.language, d.source, d.url, d.path, d.published_at,
               d.created_at, d.summary_status, d.outlets, f.name AS feed_name,
               substr(d.body, 1, 200) AS lede,
               (SELECT s.text FROM summaries s WHERE s.document_id = d.id
                ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS summary
        FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id
        WHERE {where}
        ORDER BY coalesce(d.published_at, d.created_at) DESC, d.id
        """,
        params,
    )
    if limit is not None:
        documents = _first_entries(documents, limit)
    story_ids = sorted({d["story_id"] for d in documents if d["story_id"] is not None})
    stories = {
        s["id"]: s
        for s in _rows(
            db, f"SELECT * FROM stories WHERE id IN ({','.join('?' * len(story_ids))})", story_ids
        )
    } if story_ids else {}  # fmt: skip
    members: dict[int, list[dict[str, Any]]] = {}
    if story_ids:
        for row in _rows(
            db,
            f"""
            SELECT d.id, d.story_id, d.title, d.language, d.source, d.url, d.path,
                   d.published_at, d.created_at, d.summary_status, d.outlets,
                   f.name AS feed_name, substr(d.body, 1, 200) AS lede,
                   (SELECT s.text FROM summaries s WHERE s.document_id = d.id
                    ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS summary
            FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id
            WHERE d.story_id IN ({",".join("?" * len(story_ids))}) AND d.duplicate_of IS NULL
            ORDER BY coalesce(d.event_at, d.published_at, d.created_at), d.id
            """,
            story_ids,
        ):
            members.setdefault(row["story_id"], []).append(row)
    copies = _copies(
        db, [d["id"] for d in documents] + [m["id"] for r in members.values() for m in r]
    )
    for row in documents + [m for rows in members.values() for m in rows]:
        row["copy_rows"] = copies.get(row["id"], [])
    entries: list[dict[str, Any]] = []
    seen_stories: set[int] = set()
    for document in documents:
        story_id = document["story_id"]
        if story_id is not None and story_id in stories:
            if story_id in seen_stories:
                continue
            seen_stories.add(story_id)
            entries.append(_story_entry(stories[story_id], members.get(story_id, [document])))
        else:
            entries.append(_document_entry(document))
    return entries


def _copies(db: Database, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The duplicates of each canonical document: id, outlet and where to find it."""
    found: dict[int, list[dict[str, Any]]] = {}
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in _rows(
            db,
            "SELECT d.id, d.duplicate_of, d.source, d.url, d.path, f.name AS feed_name"
            " FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id"
            f" WHERE d.duplicate_of IN ({','.join('?' * len(chunk))}) ORDER BY d.id",
            chunk,
        ):
            outlet = outlet_name(row["source"], row["feed_name"], row["url"])
            found.setdefault(row["duplicate_of"], []).append(
                {"document_id": row["id"], "outlet": outlet, "location": row["url"] or row["path"]}
            )
    return found


def _source(row: dict[str, Any]) -> dict[str, Any]:
    named = outlet_name(row.get("source"), row.get("feed_name"), row.get("url"))
    return {
        "document_id": row["id"],
        "title": row.get("title") or first_sentence(row.get("lede") or ""),
        "outlet": named or ("local file" if row.get("path") else "unknown"),
        "named_outlet": named,
        "location": row.get("url") or row.get("path"),
        "language": row.get("language"),
        "published_at": row.get("published_at"),
        "copies": row.get("copy_rows", []),  # duplicates: document_id, outlet, location
    }


def _document_entry(row: dict[str, Any]) -> dict[str, Any]:
    source = _source(row)
    lines = [
        (line, row["id"], source["outlet"]) for line in (row.get("summary") or "").splitlines()
    ]
    return {
        "kind": "document",
        "id": row["id"],
        "title": source["title"],
        "languages": [row["language"]] if row.get("language") else [],
        "published_at": row.get("published_at"),
        "summary": [line for line in lines if line[0].strip()],
        "status": None if row.get("summary") else row.get("summary_status"),
        "sources": [source],
    }


def _first_entries(documents: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The documents (in digest order) that make the first `limit` entries: one per story, one
    per document without a story. Building every entry of a large database only to show ten
    would cost more than the rest of a run with nothing new."""
    keys: set[tuple[str, int]] = set()
    kept = []
    for document in documents:
        story_id = document["story_id"]
        key = ("story", story_id) if story_id is not None else ("document", document["id"])
        if key not in keys:
            if len(keys) == limit:
                break
            keys.add(key)
        kept.append(document)
    return kept


def _story_entry(story: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    sources = [_source(row) for row in rows]
    outlet_of = {s["document_id"]: s["outlet"] for s in sources}
    lines: list[tuple[str, int, str | None]] = []
    if story.get("summary"):
        behind = json.loads(story.get("summary_sources") or "[]")
        for index, line in enumerate(story["summary"].splitlines()):
            document_id = int(behind[index]) if index < len(behind) else rows[0]["id"]
            lines.append((line, document_id, outlet_of.get(document_id)))
    else:
        # One report (or no story summary yet): its own summary stands in.
        lead = next((row for row in rows if row.get("summary")), rows[0])
        lines = [(line, lead["id"], outlet_of.get(lead["id"]))
                 for line in (lead.get("summary") or "").splitlines() if line.strip()]  # fmt: skip
    return {
        "kind": "story",
        "id": story["id"],
        "title": story.get("title") or sources[0]["title"],
        "languages": json.loads(story.get("languages") or "[]"),
        "published_at": story.get("first_published_at"),
        "last_published_at": story.get("last_published_at"),
        "outlets": json.loads(story.get("sources") or "[]"),
        "document_count": story.get("document_count"),
        "summary": lines,
        "status": None,
        "sources": sources,
    }
