"""Stories: reports of the same event grouped within a time window, across outlets and languages.

Near-duplicates (`tasks/dedup/neardup.py`) are copies of one text; a story is looser: different
reports of one event, in any wording or language. Each canonical report, in time order, joins the
story it is most similar to or opens a new one (`tasks/stories/clusters.py` holds the stories,
their index and the scoring; `tasks/stories/report_terms.py` what each report brings). This module
reads and writes the database: which reports wait, the window's stories, the decisions.
Duplicates share their canonical's story. Every assignment is a `dedup_decisions` row with method
`story`, its score, threshold and reason.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain

from sqlite_utils import Database

from newsflow.tasks.common.outlets import outlet_name
from newsflow.tasks.store.transaction import write_transaction
from newsflow.tasks.store.writer import now
from newsflow.tasks.stories import clusters
from newsflow.tasks.stories.report_terms import Report, primary_language, stored_features

log = logging.getLogger(__name__)


def first_sentence(body: str) -> str:
    """A title for a story whose report has none: its first sentence, at most 120 characters."""
    first = body.strip().split("\n", 1)[0]
    cut = first.find(". ")
    first = first[: cut + 1] if 0 < cut < 120 else first
    return first if len(first) <= 120 else first[:119].rstrip() + "…"


DEFAULT_WINDOW_DAYS = 7
CHUNK = 500  # pending reports read (and their window's stories loaded) at a time


# --- assignment -----------------------------------------------------------------------------------


@dataclass
class StoryResult:
    """What a story pass did."""

    assigned: int = 0  # canonical reports given a story
    joined: int = 0  # of which joined an existing story
    created: int = 0  # stories opened
    removed: int = 0  # stories left empty and deleted
    touched: set[int] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        """The counts a run records."""
        return {"stories_new": self.created, "stories_joined": self.joined}


def assign_stories(
    db: Database,
    *,
    run_id: str | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    dirty: Iterable[int] = (),
) -> StoryResult:
    """Give every canonical report without a story one; refresh the stories that changed."""
    result = StoryResult(touched=set(dirty))
    clusterer = _clusterer_for(db, window_days)
    if clusterer.stories:  # kept from this process's last pass: read changed stories again
        _reload(db, clusterer, result.touched)
    while True:
        # Pick the reports under the write lock: a concurrent run that assigned them while this
        # one waited must not have them assigned (and stories created) a second time.
        with write_transaction(db):
            pending = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM documents WHERE story_id IS NULL AND duplicate_of IS NULL"
                    " AND coalesce(summary_status, '') != 'boilerplate'"
                    " ORDER BY coalesce(event_at, published_at, created_at), id LIMIT ?",
                    [CHUNK],
                ).fetchall()
            ]
            if pending:
                _assign_chunk(db, pending, clusterer, run_id, result)
        if not pending:
            break
    with write_transaction(db):
        _propagate_to_copies(db, result)
        refresh_stories(db, result.touched, result)
        clusterer.fingerprint = _fingerprint(db)
    clusterer.built_n = clusterer.built_n or clusterer.n
    _kept[_database_file(db)] = clusterer
    log.info(
        "stories: %d reports assigned (%d joined, %d new stories)",
        result.assigned, result.joined, result.created,
    )  # fmt: skip
    return result


# The clusterer of this process's last pass over each database file. A run decides after every
# ingest batch: building the window's stories again for each pass made a run quadratic in its
# size (story passes 9.5 s at 5,000 generated documents, 78.7 s at 20,000). A kept clusterer is
# used while the stories table is as it left it; the stories a pass is told changed are read again.
# The flow lets go of it after a run's last pass (`release_kept`), so it never outlives a run.
_kept: dict[str, clusters.Clusterer] = {}


def release_kept() -> None:
    """Let go of the kept clusterers (a run's last pass is over: its memory is the summaries')."""
    _kept.clear()


def _database_file(db: Database) -> str:
    row = db.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return str(row[0]) if row and row[0] else f"memory:{id(db.conn)}"


def _fingerprint(db: Database) -> tuple[int, int]:
    count, highest = db.execute("SELECT count(*), coalesce(max(id), 0) FROM stories").fetchone()
    return int(count), int(highest)


def _clusterer_for(db: Database, window_days: int) -> clusters.Clusterer:
    """The kept clusterer of this database when it still holds, else a new one."""
    kept = _kept.pop(_database_file(db), None)
    window = window_days * clusters.DAY
    if (
        kept is not None
        and kept.window == window
        and kept.fingerprint == _fingerprint(db)
        # Centroids keep the term weights of when their reports joined; once the reports held
        # have doubled, weights from the current frequencies are worth building the stories anew.
        and kept.n <= 2 * max(kept.built_n, CHUNK)
    ):
        return kept
    return clusters.Clusterer(window_days=window_days)


def _reload(db: Database, clusterer: clusters.Clusterer, story_ids: set[int]) -> None:
    """Read these stories' canonical reports again (near-duplicates moved some of them)."""
    clusterer.drop(story_ids)
    if not story_ids:
        return
    rows = db.execute(
        "SELECT id, story_id FROM documents WHERE story_id IN (SELECT value FROM json_each(?))"
        " AND duplicate_of IS NULL AND coalesce(summary_status, '') != 'boilerplate'",
        [json.dumps(sorted(story_ids))],
    ).fetchall()
    reports = stored_features(db, [doc_id for doc_id, _ in rows])
    clusterer.count((r.id, r.terms, r.signals) for r in reports.values())
    for report in sorted(reports.values(), key=lambda r: (r.seconds(), r.id)):
        assert report.story_id is not None
        clusterer.add(_profile(clusterer, report), report.story_id)


def forget_stories(db: Database) -> int:
    """Undo every story assignment, for `assign_stories` to decide them all again from the stored
    features (`newsflow dedup --stories`); how many stories there were. Story ids are not reused."""
    _kept.pop(_database_file(db), None)
    with write_transaction(db):
        count = int(db.execute("SELECT count(*) FROM stories").fetchone()[0])
        db.conn.execute("UPDATE documents SET story_id = NULL WHERE story_id IS NOT NULL")
        db.conn.execute("DELETE FROM stories")
    return count


def _assign_chunk(
    db: Database,
    pending: list[int],
    clusterer: clusters.Clusterer,
    run_id: str | None,
    result: StoryResult,
) -> None:
    reports = stored_features(db, pending)
    times = [r.seconds() for r in reports.values()]
    dated = [r.when for r in reports.values()]
    stored = [r.created or r.when for r in reports.values()]
    current = _fingerprint(db)
    if clusterer.fingerprint != current:  # new, or another writer made stories meanwhile
        clusterer.read.clear()  # read the whole window again (reports held are not read twice)
        clusterer.fingerprint = current
    window = timedelta(seconds=clusterer.window)
    # Reports already in stories, dated near these or stored near them (for undated reports):
    # indexed ranges, less what earlier chunks of the pass read (the window moves on in time).
    parts = []
    for column, values in (("event_at", dated), ("created_at", stored)):
        wanted = (_iso(min(values) - window), _iso(max(values) + window))
        for lo, hi in _uncovered(wanted, clusterer.read.get(column)):
            # The unary + keeps SQLite on the date indexes (not on "duplicate_of IS NULL",
            # which matches most of the table).
            parts.append((f"{column} BETWEEN ? AND ?", [lo, hi]))
        clusterer.read[column] = _hull(wanted, clusterer.read.get(column))
    neighbours = [
        row
        for row in db.execute(
            "SELECT id, story_id FROM documents"
            f" WHERE ({' OR '.join(sql for sql, _ in parts)})"
            " AND +story_id IS NOT NULL AND +duplicate_of IS NULL"
            " AND coalesce(summary_status, '') != 'boilerplate'",
            [value for _, values in parts for value in values],
        ).fetchall()
        if row[0] not in clusterer.members
    ] if parts else []  # fmt: skip
    known = stored_features(db, [doc_id for doc_id, _ in neighbours])
    clusterer.count((r.id, r.terms, r.signals) for r in chain(known.values(), reports.values()))
    for report in sorted(known.values(), key=lambda r: (r.seconds(), r.id)):
        assert report.story_id is not None
        clusterer.add(_profile(clusterer, report), report.story_id)
    clusterer.forget_before(min(times))
    stamp = now()
    for report in sorted(reports.values(), key=lambda r: (r.seconds(), r.id)):
        profile = _profile(clusterer, report)
        joining, closest = clusterer.best(profile)
        if joining:
            chosen = joining[0]
            story_id = chosen.story
            partner: int | None = clusterer.stories[story_id].lead
            score: float | None = chosen.score
            threshold: float | None = chosen.threshold
            decision = "same_story"
            reason = f"joins story #{story_id}: {chosen.explain()}"
            result.joined += 1
        else:
            cursor = db.conn.execute(
                "INSERT INTO stories (created_at, updated_at, document_count) VALUES (?, ?, 1)",
                [stamp, stamp],
            )
            story_id = int(cursor.lastrowid or 0)
            table = clusterer.fingerprint or current
            clusterer.fingerprint = (table[0] + 1, story_id)  # as the table now stands
            result.created += 1
            decision = "distinct"
            if closest is None:
                partner = score = threshold = None
                reason = f"opens story #{story_id}: no story in the window shares its words or"
                reason += " signals"
            else:
                partner = clusterer.stories[closest.story].lead
                score, threshold = closest.score, closest.threshold
                reason = f"opens story #{story_id}: closest story #{closest.story} does not"
                reason += f" join ({closest.explain()})"
        clusterer.add(profile, story_id)
        report.story_id = story_id
        result.assigned += 1
        result.touched.add(story_id)
        db.conn.execute("UPDATE documents SET story_id = ? WHERE id = ?", [story_id, report.id])
        _log(db, report.id, partner, score, threshold, decision, reason, run_id, stamp)


def _uncovered(wanted: tuple[str, str], read: tuple[str, str] | None) -> list[tuple[str, str]]:
    """The parts of the range `wanted` outside the range `read` (ISO times compare as text)."""
    lo, hi = wanted
    if read is None or read[1] < lo or hi < read[0]:
        return [wanted]
    return [part for part in ((lo, read[0]), (read[1], hi)) if part[0] < part[1]]


def _hull(wanted: tuple[str, str], read: tuple[str, str] | None) -> tuple[str, str]:
    """The range read once `wanted` is read too (the newer range when the two do not meet)."""
    if read is None or read[1] < wanted[0] or wanted[1] < read[0]:
        return wanted
    return min(wanted[0], read[0]), max(wanted[1], read[1])


def _profile(clusterer: clusters.Clusterer, report: Report) -> clusters.Profile:
    return clusterer.profile(
        report.id, report.language, report.seconds(), report.terms, report.signals,
        dated=report.published is not None,
    )  # fmt: skip


def _log(
    db: Database,
    document_id: int,
    other_id: int | None,
    score: float | None,
    threshold: float | None,
    decision: str,
    reason: str,
    run_id: str | None,
    stamp: str,
) -> None:
    db.conn.execute(
        "INSERT INTO dedup_decisions (document_id, canonical_id, method, score, threshold,"
        " decision, reason, run_id, decided_at) VALUES (?, ?, 'story', ?, ?, ?, ?, ?, ?)",
        [document_id, other_id, None if score is None else round(score, 4), threshold, decision,
         reason, run_id, stamp],
    )  # fmt: skip


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _propagate_to_copies(db: Database, result: StoryResult) -> None:
    """Copies share their canonical's story (only copies whose story differs are touched)."""
    rows = db.execute(
        "SELECT d.id, d.story_id, c.story_id FROM documents d JOIN documents c"
        " ON c.id = d.duplicate_of WHERE d.story_id IS NOT c.story_id"
        " AND d.duplicate_of IN (SELECT id FROM documents WHERE story_id IN"
        f" ({','.join('?' * len(result.touched))}))"
        if result.touched
        else "SELECT NULL, NULL, NULL WHERE 0",
        list(result.touched),
    ).fetchall()
    rows += db.execute(
        "SELECT d.id, d.story_id, c.story_id FROM documents d JOIN documents c"
        " ON c.id = d.duplicate_of WHERE d.story_id IS NULL AND c.story_id IS NOT NULL"
    ).fetchall()
    for doc_id, old, new in rows:
        if old is not None:
            result.touched.add(old)
        if new is not None:
            result.touched.add(new)
        db.conn.execute("UPDATE documents SET story_id = ? WHERE id = ?", [new, doc_id])


def refresh_stories(
    db: Database, story_ids: Iterable[int], result: StoryResult | None = None
) -> None:
    """Recompute each story's title, dates, languages, outlets and count; drop empty stories."""
    stamp = now()
    for story_id in sorted(set(story_ids)):
        cursor = db.execute(
            "SELECT d.id, d.title, d.language, d.word_count, d.duplicate_of, d.source, d.url,"
            " f.name, coalesce(d.event_at, d.published_at, d.created_at) AS at, d.body"
            " FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id WHERE d.story_id = ?"
            " ORDER BY at, d.id",
            [story_id],
        )
        members = cursor.fetchall()
        if not members:
            db.conn.execute("DELETE FROM stories WHERE id = ?", [story_id])
            if result is not None:
                result.removed += 1
            continue
        canonical = [m for m in members if m[4] is None] or members
        languages = Counter(m[2] for m in canonical if m[2])
        primary = primary_language(languages)
        lead = min(
            (m for m in canonical if m[2] == primary or primary is None),
            key=lambda m: (-(m[3] or 0), m[8], m[0]),
            default=canonical[0],
        )
        title = lead[1] or first_sentence(lead[9])
        outlets = list(dict.fromkeys(o for m in members if (o := outlet_name(m[5], m[7], m[6]))))
        db.conn.execute(
            "UPDATE stories SET title = ?, first_published_at = ?, last_published_at = ?,"
            " document_count = ?, languages = ?, sources = ?, updated_at = ? WHERE id = ?",
            [title, members[0][8], members[-1][8], len(members), json.dumps(sorted(languages)),
             json.dumps(outlets), stamp, story_id],
        )  # fmt: skip


__all__ = ["DEFAULT_WINDOW_DAYS", "StoryResult", "assign_stories"]
