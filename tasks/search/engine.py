"""Search that understands language: results grouped by story, and matching for topics.

`search` ranks documents by BM25 over the stemmed index (the title weighs most, then the names of
countries and organisations, then the body), the more recent first on a tie, and groups them by
story: one result per story, with every matching document of it. `matching_ids` answers "which
of these documents match?" for topic matching, at a cost that grows with the documents asked
about, not with the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from newsflow.tasks.search.search_query import BadQuery, to_fts

__all__ = ["BadQuery", "Hit", "Result", "matching_ids", "search"]

# BM25 weights of title, body and names (a named country or organisation).
WEIGHTS = (10.0, 1.0, 2.0)
# Scores this close are a tie, which the more recent document wins.
TIE_DIGITS = 2
# Documents fetched per statement when showing results.
ID_CHUNK = 500
# matching_ids reads the index over ranges of ids; ids closer than this share a range (one index
# look-up per range costs about as much as reading this many documents' postings).
CLUSTER_GAP = 64


@dataclass
class Hit:
    """One matching document."""

    id: int
    score: float
    title: str | None
    language: str | None
    outlet: str | None
    path: str | None
    url: str | None
    when: str | None
    duplicate_of: int | None


@dataclass
class Result:
    """One story among the results (or a document that has no story yet), best document first.
    `others` are the story's other canonical documents, which the query did not match: the
    reports of the same event in another language, as often as not."""

    story_id: int | None
    title: str | None
    score: float
    documents: list[Hit] = field(default_factory=list)
    others: list[Hit] = field(default_factory=list)

    @property
    def outlets(self) -> list[str]:
        """The outlets of the matching documents, each once, in result order."""
        return list(dict.fromkeys(hit.outlet for hit in self.documents if hit.outlet))

    @property
    def languages(self) -> list[str]:
        """The languages of the matching documents, each once, in result order."""
        return list(dict.fromkeys(hit.language for hit in self.documents if hit.language))

    @property
    def story_languages(self) -> list[str]:
        """The languages of the whole story: its matching documents' and the others'."""
        every = [*self.documents, *self.others]
        return list(dict.fromkeys(hit.language for hit in every if hit.language))

    def as_json(self) -> dict[str, Any]:
        """The result as `newsflow search --json` prints it."""
        return {
            "story_id": self.story_id,
            "title": self.title,
            "score": round(self.score, 3),
            "document_ids": [hit.id for hit in self.documents],
            "titles": [hit.title for hit in self.documents],
            "locations": [hit.url or hit.path for hit in self.documents],
            "languages": self.languages,
            "outlets": self.outlets,
            "story_document_ids": [hit.id for hit in self.others],
            "story_languages": self.story_languages,
        }


def _match(db: Database, query: str, languages: Sequence[str] | None) -> str:
    """The FTS5 expression for the query, or BadQuery naming the query and the reason."""
    try:
        return to_fts(query, languages=languages)
    except BadQuery as error:
        raise BadQuery(f"cannot search for {query!r}: {error}") from None


def _language_filter(languages: Sequence[str] | None) -> tuple[str, list[str]]:
    if not languages:
        return "", []
    return f" AND d.language IN ({','.join('?' * len(languages))})", list(languages)


def search(
    db: Database, query: str, *, limit: int = 20, languages: Sequence[str] | None = None
) -> list[Result]:
    """The `limit` best stories matching `query` (in documents of `languages`, or any)."""
    expression = _match(db, query, languages)
    where, params = _language_filter(languages)
    try:
        ranked = db.execute(
            f"""
            SELECT s.rowid, bm25(documents_search, {", ".join(map(str, WEIGHTS))}) AS rank,
                   d.story_id, coalesce(d.event_at, d.published_at, d.created_at) AS recency
            FROM documents_search s JOIN documents d ON d.id = s.rowid
            WHERE documents_search MATCH ?{where}
            ORDER BY round(rank, {TIE_DIGITS}), recency DESC, s.rowid DESC
            """,
            [expression, *params],
        ).fetchall()
    except sqlite3.OperationalError as error:
        raise BadQuery(f"cannot search for {query!r}: {error}") from None
    # (is a story, story or document id) → [(document id, score)], best first
    chosen: dict[tuple[bool, int], list[tuple[int, float]]] = {}
    for document_id, rank, story_id, _ in ranked:
        key = (True, story_id) if story_id is not None else (False, document_id)
        if key not in chosen:
            if len(chosen) == limit:
                continue
            chosen[key] = []
        chosen[key].append((document_id, -rank))
    hits = _hits(db, [document_id for group in chosen.values() for document_id, _ in group])
    titles = _story_titles(db, [ident for is_story, ident in chosen if is_story])
    results = []
    for (is_story, ident), group in chosen.items():
        story_id = ident if is_story else None
        documents = [_scored(hits[document_id], score) for document_id, score in group]
        title = titles.get(story_id) if story_id is not None else None
        results.append(Result(story_id, title or documents[0].title, group[0][1], documents))
    _add_others(db, results)
    return results


def _add_others(db: Database, results: list[Result]) -> None:
    """Give each story result the story's canonical documents that the query did not match."""
    by_story = {result.story_id: result for result in results if result.story_id is not None}
    if not by_story:
        return
    shown = {hit.id for result in results for hit in result.documents}
    marks = ",".join("?" * len(by_story))
    rows = db.execute(
        f"SELECT id, story_id FROM documents WHERE story_id IN ({marks})"
        " AND duplicate_of IS NULL ORDER BY id",
        list(by_story),
    ).fetchall()
    others = [(document_id, story_id) for document_id, story_id in rows if document_id not in shown]
    hits = _hits(db, [document_id for document_id, _ in others])
    for document_id, story_id in others:
        by_story[story_id].others.append(hits[document_id])


def _scored(hit: Hit, score: float) -> Hit:
    hit.score = score
    return hit


def _hits(db: Database, ids: list[int]) -> dict[int, Hit]:
    """What a result line shows of each document."""
    found: dict[int, Hit] = {}
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        rows = db.execute(
            "SELECT d.id, d.title, d.language, coalesce(d.source, f.name), d.path, d.url,"
            " coalesce(d.published_at, d.created_at), d.duplicate_of"
            " FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id"
            f" WHERE d.id IN ({','.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        for row in rows:
            found[row[0]] = Hit(row[0], 0.0, *row[1:])
    return found


def _story_titles(db: Database, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    rows = db.execute(
        f"SELECT id, title FROM stories WHERE id IN ({','.join('?' * len(ids))})", ids
    ).fetchall()
    return dict(rows)


def matching_ids(
    db: Database,
    query: str,
    ids: Iterable[int] | None = None,
    languages: Sequence[str] | None = None,
) -> set[int]:
    """The documents among `ids` (all documents when None) that match `query`, in documents of
    `languages` (any when None). The index is read only between the lowest and highest id of each
    cluster of ids (a run's new documents are one cluster), so matching them costs in proportion
    to them, not to the database."""
    expression = _match(db, query, languages)
    where, params = _language_filter(languages)
    if where:
        sql = (
            "SELECT s.rowid FROM documents_search s JOIN documents d ON d.id = s.rowid"
            f" WHERE documents_search MATCH ?{where}"
        )
    else:
        sql = "SELECT rowid FROM documents_search s WHERE documents_search MATCH ?"
    try:
        if ids is None:
            return {row[0] for row in db.execute(sql, [expression, *params]).fetchall()}
        wanted = set(ids)
        found: set[int] = set()
        for low, high in _clusters(sorted(wanted)):
            rows = db.execute(
                sql + " AND s.rowid BETWEEN ? AND ?", [expression, *params, low, high]
            ).fetchall()
            found.update(row[0] for row in rows if row[0] in wanted)
        return found
    except sqlite3.OperationalError as error:
        raise BadQuery(f"cannot search for {query!r}: {error}") from None


def _clusters(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as (lowest, highest) ranges, split where ids lie more than CLUSTER_GAP apart."""
    ranges: list[tuple[int, int]] = []
    for document_id in ids:
        if ranges and document_id - ranges[-1][1] <= CLUSTER_GAP:
            ranges[-1] = (ranges[-1][0], document_id)
        else:
            ranges.append((document_id, document_id))
    return ranges
