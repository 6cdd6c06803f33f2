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
from datetime import datetime

from sqlite_utils import Database

from newsflow.tasks.common.outlets import outlet_name, parse_time
from newsflow.tasks.store.transaction import write_transaction
from newsflow.tasks.store.writer import now
from newsflow.tasks.stories import clusters, story_state
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
    """Give every canonical report without a story one; refresh the stories that changed.

    The clusterer's stories, index and frequencies are stored (`tasks/stories/story_state.py`): each
    chunk of new reports reads only the stories and index entries its reports look up, and
    writes back what changed in its own transaction, where another writer's stories are seen."""
    result = StoryResult(touched=set(dirty))
    with write_transaction(db):
        if not story_state.is_built(db):  # a database from before the state: build it once
            _build_state(db, window_days)
        if result.touched:  # near-duplicates moved reports of these stories: weigh them again
            stored = _stored(db, window_days, _spans(db, result.touched))
            stored.rebuild(result.touched)
            stored.save()
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
                try:
                    _assign_chunk(db, pending, window_days, run_id, result)
                except BaseException:  # rolled back: what the kept clusterer holds was not saved
                    _kept.pop(_database_file(db), None)
                    raise
        if not pending:
            break
    with write_transaction(db):
        _propagate_to_copies(db, result)
        refresh_stories(db, result.touched, result)
    log.info(
        "stories: %d reports assigned (%d joined, %d new stories)",
        result.assigned, result.joined, result.created,
    )  # fmt: skip
    return result


# The stored clusterer of this process's last pass over each database file, with the stories,
# index entries and frequencies it read or made. A run decides after every ingest batch; the next
# pass uses it while the stored state is as it left it (no other writer saved since), instead of
# reading them again. The flow lets go of it after a run's last pass (`release_kept`).
_kept: dict[str, story_state.StoredClusterer] = {}


def release_kept() -> None:
    """Let go of the kept clusterers (a run's last pass is over: its memory is the summaries')."""
    _kept.clear()


def _database_file(db: Database) -> str:
    row = db.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return str(row[0]) if row and row[0] else f"memory:{id(db.conn)}"


def _stored(
    db: Database, window_days: int, span: tuple[float, float]
) -> story_state.StoredClusterer:
    """The kept clusterer of this database when the stored state is as it left it, else a new
    one; its frequencies those of the window around `span`."""
    name = _database_file(db)
    kept = _kept.get(name)
    if (
        kept is not None
        and kept.clusterer.window == window_days * clusters.DAY
        and kept.generation == story_state.generation(db)
    ):
        kept.db = db
        kept.read = lambda ids: stored_features(db, ids)
        kept.move_to(span)
        return kept
    fresh = story_state.StoredClusterer(
        db, window_days=window_days, span=span, read=lambda ids: stored_features(db, ids),
        profile=_profile,
    )  # fmt: skip
    _kept[name] = fresh
    return fresh


def _spans(db: Database, story_ids: Iterable[int]) -> tuple[float, float]:
    """The time span of these stories' reports as the story window sees it."""
    row = db.execute(
        "SELECT min(coalesce(event_at, published_at, created_at)),"
        " max(coalesce(event_at, published_at, created_at)) FROM documents"
        " WHERE story_id IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(story_ids))],
    ).fetchone()
    if not row or row[0] is None:
        stamp = parse_time(now()).timestamp()
        return stamp, stamp
    return parse_time(row[0]).timestamp(), parse_time(row[1]).timestamp()


def _build_state(db: Database, window_days: int) -> None:
    """Build the stored state of every story, oldest first (once, for a database from before it)."""
    story_ids = [
        row[0]
        for row in db.execute(
            "SELECT story_id FROM documents WHERE story_id IS NOT NULL AND duplicate_of IS NULL"
            " GROUP BY story_id ORDER BY max(coalesce(event_at, published_at, created_at)),"
            " story_id"
        ).fetchall()
    ]
    for start in range(0, len(story_ids), CHUNK):
        chunk = story_ids[start : start + CHUNK]
        stored = _stored(db, window_days, _spans(db, chunk))
        stored.rebuild(chunk)
        stored.save()
    story_state.mark_built(db)


def forget_stories(db: Database) -> int:
    """Undo every story assignment, for `assign_stories` to decide them all again from the stored
    features (`newsflow dedup --stories`); how many stories there were. Story ids are not reused."""
    with write_transaction(db):
        count = int(db.execute("SELECT count(*) FROM stories").fetchone()[0])
        db.conn.execute("UPDATE documents SET story_id = NULL WHERE story_id IS NOT NULL")
        db.conn.execute("DELETE FROM stories")
        story_state.forget(db)
        story_state.mark_built(db)
        story_state.advance(db)
    _kept.pop(_database_file(db), None)
    return count


def _assign_chunk(
    db: Database,
    pending: list[int],
    window_days: int,
    run_id: str | None,
    result: StoryResult,
) -> None:
    reports = stored_features(db, pending)
    times = [r.seconds() for r in reports.values()]
    stored = _stored(db, window_days, (min(times), max(times)))
    clusterer = stored.clusterer
    clusterer.forget_before(min(times))  # stories held in memory that the window left
    # The chunk's reports count in the frequencies before they are weighed, as those of a
    # clusterer that read the window and then the chunk.
    stored.count(reports.values())
    ordered = sorted(reports.values(), key=lambda r: (r.seconds(), r.id))
    profiles = stored.profiles(ordered)
    stamp = now()
    for report in ordered:
        profile = profiles[report.id]
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
        stored.add(profile, story_id)
        report.story_id = story_id
        result.assigned += 1
        result.touched.add(story_id)
        db.conn.execute("UPDATE documents SET story_id = ? WHERE id = ?", [story_id, report.id])
        _log(db, report.id, partner, score, threshold, decision, reason, run_id, stamp)
    stored.save()


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
