"""The story clusterer's state in SQLite, so that a story pass costs what its new reports look up.

`tasks/stories/clusters.py` decides; this module gives it, for one chunk of new reports, only the
stories, index entries and document frequencies those reports need, and writes back what they
changed, in the chunk's transaction (migration `m026_story_state`):

* `story_state`: each story's centroids (sums of its reports' unit TF-IDF vectors, as weighed when
  they joined), signal counts, languages, span and first report;
* `story_postings`: index key (headline term, text term, signal) → the last `MAX_POSTINGS`
  stories that added it, the latest last;
* `story_df`, `story_days`, `story_counted`: how many reports hold each key, by day of the
  reports' time, so a pass weighs terms by the reports of its window's days, as a clusterer that
  read the window would.

A story's centroids keep the term weights of when its reports joined, as they did in a clusterer
kept in memory across the passes of a run; a story whose reports near-duplicate detection moved
is built again from its reports under the current weights.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlite_utils import Database

from newsflow.tasks.dedup.settings import save_settings, stored_setting
from newsflow.tasks.stories.clusters import DAY, MAX_CANDIDATES, Clusterer, Profile, Story

if TYPE_CHECKING:
    from newsflow.tasks.stories.report_terms import Report

MARKER = "story_state"  # dedup_settings row: 'built' once the state holds every story
GENERATION = "story_state_generation"  # dedup_settings row: saves of the state so far
_BATCH = 500  # ids per statement
# Stories a kept clusterer holds in memory at most (about 12 KB each with their index entries):
# beyond, it lets go of them after a save and reads again what the next reports look up.
MAX_HELD = 10_000


def day_of(seconds: float) -> int:
    """The day (since the epoch) a report counts in."""
    return math.floor(seconds / DAY)


class StoredClusterer:
    """A `Clusterer` over the stories in the database: it reads what its reports look up."""

    def __init__(
        self,
        db: Database,
        *,
        window_days: float,
        span: tuple[float, float],
        read: Callable[[list[int]], Mapping[int, Report]],
        profile: Callable[[Clusterer, Report], Profile],
    ) -> None:
        self.db = db
        self.clusterer = Clusterer(window_days=window_days)
        self.clusterer.loader = self._load
        self.read = read
        self.make_profile = profile
        self.days = (0, -1)  # the days whose reports weigh terms: the window around the reports
        self.weighed: dict[int, int] = {}  # story → reports its centroids were weighed with
        self.changed: set[int] = set()  # stories to write back
        self.keys_read: set[str] = set()  # index keys read from the table
        self.keys_changed: set[str] = set()
        self.df_read: set[str] = set()
        # The state's generation as this clusterer left it: another writer's save changes it.
        self.generation = generation(db)
        self.move_to(span)

    def move_to(self, span: tuple[float, float]) -> None:
        """Weigh terms by the reports of the window around this span from now on."""
        window = self.clusterer.window
        days = (day_of(span[0] - window), day_of(span[1] + window))
        if days != self.days:
            self.days = days
            self.df_read.clear()
            self.clusterer.df.clear()
            self.clusterer.n = self._reports_in_days()

    # --- frequencies -----------------------------------------------------------------------------

    def _reports_in_days(self) -> int:
        row = self.db.execute(
            "SELECT coalesce(sum(reports), 0) FROM story_days WHERE day BETWEEN ? AND ?",
            list(self.days),
        ).fetchone()
        return int(row[0])

    def count(self, reports: Iterable[Report]) -> None:
        """Count reports not counted yet in the frequencies of their day (once each)."""
        fresh = uncounted(self.db, reports)
        if not fresh:
            return
        added = write_counts(self.db, fresh)
        # The frequencies read so far, as the table now holds them.
        lo, hi = self.days
        df, read = self.clusterer.df, self.df_read
        for report in fresh:
            if lo <= day_of(report.seconds()) <= hi:
                self.clusterer.n += 1
        for day, counts in added.items():
            if lo <= day <= hi:
                for key, count in counts.items():
                    if key in read:
                        df[key] += count

    def weigh(self, keys: Iterable[str]) -> None:
        """Read the window's frequencies of these keys (those not read yet)."""
        wanted = sorted(set(keys) - self.df_read)
        if not wanted:
            return
        self.df_read.update(wanted)
        df = self.clusterer.df
        for key, count in _rows_for(
            self.db,
            "SELECT key, sum(count) FROM story_df WHERE key IN (SELECT value FROM json_each(?))"
            " AND day BETWEEN ? AND ? GROUP BY key",
            wanted,
            *self.days,
        ):
            df[key] = int(count)

    def profiles(self, reports: Sequence[Report]) -> dict[int, Profile]:
        """The reports' profiles under the window's frequencies, their index entries read."""
        self.weigh(key for r in reports for key in (*r.terms.keys(), *r.signals))
        found = {r.id: self.make_profile(self.clusterer, r) for r in reports}
        self.postings(key for p in found.values() for key, _ in p.lookup)
        return found

    # --- the index -------------------------------------------------------------------------------

    def postings(self, keys: Iterable[str]) -> None:
        """Read the index entries of these keys (those not read yet)."""
        wanted = sorted(set(keys) - self.keys_read)
        if not wanted:
            return
        self.keys_read.update(wanted)
        index = self.clusterer.index
        for key, stories in _rows_for(
            self.db,
            "SELECT key, stories FROM story_postings WHERE key IN (SELECT value FROM json_each(?))",
            wanted,
        ):
            index[key] = dict.fromkeys(json.loads(stories))

    # --- stories ---------------------------------------------------------------------------------

    def add(self, profile: Profile, story_id: int) -> Story:
        """Put a report in a story (its index entries must have been read) and mark both."""
        story = self.clusterer.add(profile, story_id)
        self.weighed.setdefault(story_id, self.clusterer.n)
        self.changed.add(story_id)
        self.keys_changed.update(key for key, _ in profile.lookup)
        return story

    def _load(self, story_ids: list[int], when: float) -> dict[int, Story]:
        """The first `MAX_CANDIDATES` of these stories (best first) whose span lies within the
        window of `when`: no more can be candidates, and a story's centroids cost most to read."""
        window = self.clusterer.window
        spans = self.db.execute(
            "SELECT story_id FROM story_state WHERE story_id IN (SELECT value FROM json_each(?))"
            " AND last >= ? AND first <= ?",
            [json.dumps(story_ids), when - window, when + window],
        ).fetchall()
        near = {row[0] for row in spans}
        wanted = [story_id for story_id in story_ids if story_id in near][:MAX_CANDIDATES]
        if not wanted:
            return {}
        found: dict[int, Story] = {}
        for row in self.db.execute(
            "SELECT story_id, lead, first, last, size, undated, signal_mass, head_norm2,"
            " text_norm2, weighed_n, head_terms, head_weights, text_terms, text_weights, signals,"
            " languages FROM story_state"
            " WHERE story_id IN (SELECT value FROM json_each(?))",
            [json.dumps(wanted)],
        ).fetchall():
            story = _story(row)
            found[story.id] = story
            self.weighed[story.id] = int(row[9])
        return found

    def rebuild(self, story_ids: Collection[int]) -> dict[int, Story]:
        """Build these stories again from their canonical reports under the current weights."""
        members: dict[int, list[int]] = {story_id: [] for story_id in story_ids}
        ordered = sorted(story_ids)
        for start in range(0, len(ordered), _BATCH):
            for doc_id, story_id in self.db.execute(
                "SELECT id, story_id FROM documents WHERE story_id IN"
                " (SELECT value FROM json_each(?)) AND duplicate_of IS NULL"
                " AND coalesce(summary_status, '') != 'boilerplate'",
                [json.dumps(ordered[start : start + _BATCH])],
            ).fetchall():
                members[story_id].append(doc_id)
        reports = self.read([doc_id for ids in members.values() for doc_id in ids])
        self.count(reports.values())
        by_story: dict[int, list[Report]] = {}
        for report in reports.values():
            assert report.story_id is not None
            by_story.setdefault(report.story_id, []).append(report)
        profiles = self.profiles(list(reports.values()))
        rebuilt: dict[int, Story] = {}
        for story_id in ordered:
            self.clusterer.stories.pop(story_id, None)
            self.weighed.pop(story_id, None)
            self.changed.add(story_id)
            for report in sorted(by_story.get(story_id, []), key=lambda r: (r.seconds(), r.id)):
                rebuilt[story_id] = self.add(profiles[report.id], story_id)
            self.weighed[story_id] = self.clusterer.n
        return rebuilt

    def save(self) -> None:
        """Write back the stories and index entries this clusterer changed."""
        stories = self.clusterer.stories
        gone = [story_id for story_id in self.changed if story_id not in stories]
        if gone:
            self.db.conn.execute(
                "DELETE FROM story_state WHERE story_id IN (SELECT value FROM json_each(?))",
                [json.dumps(sorted(gone))],
            )
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO story_state (story_id, lead, first, last, size, undated,"
            " signal_mass, head_norm2, text_norm2, weighed_n, head_terms, head_weights,"
            " text_terms, text_weights, signals, languages)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_row(stories[story_id], self.weighed.get(story_id, self.clusterer.n))
             for story_id in sorted(self.changed) if story_id in stories],
        )  # fmt: skip
        index = self.clusterer.index
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO story_postings (key, stories) VALUES (?, ?)",
            [(key, json.dumps(list(index[key]))) for key in sorted(self.keys_changed)],
        )
        self.changed.clear()
        self.keys_changed.clear()
        self.generation = advance(self.db)
        if len(stories) > MAX_HELD:  # a backlog's stories: let go, the tables have them
            stories.clear()
            self.clusterer.index.clear()
            self.clusterer.members.clear()
            self.keys_read.clear()
            self.weighed.clear()


def uncounted(db: Database, reports: Iterable[Report]) -> list[Report]:
    """The reports not yet counted in the frequencies."""
    pending = {report.id: report for report in reports}
    if not pending:
        return []
    ids = sorted(pending)
    seen = {
        row[0]
        for row in _rows_for(
            db,
            "SELECT document_id FROM story_counted"
            " WHERE document_id IN (SELECT value FROM json_each(?))",
            ids,
        )
    }
    return [pending[i] for i in ids if i not in seen]


def _rows_for(db: Database, sql: str, values: Sequence[Any], *params: Any) -> list[Any]:
    """The rows of `sql` (its first parameter a JSON list) over `values`, a few thousand a time."""
    rows: list[Any] = []
    for start in range(0, len(values), 5 * _BATCH):
        chunk = json.dumps(list(values[start : start + 5 * _BATCH]))
        rows += db.execute(sql, [chunk, *params]).fetchall()
    return rows


def write_counts(db: Database, reports: Sequence[Report]) -> dict[int, Counter[str]]:
    """Add the reports to the frequencies of their day; the counts added, by day."""
    by_day: dict[int, Counter[str]] = {}
    days: Counter[int] = Counter()
    rows = []
    for report in reports:
        day = day_of(report.seconds())
        days[day] += 1
        rows.append((report.id, day))
        counts = by_day.setdefault(day, Counter())
        counts.update(report.terms.keys())
        counts.update(set(report.signals) - report.terms.keys())
    db.conn.executemany("INSERT INTO story_counted (document_id, day) VALUES (?, ?)", rows)
    db.conn.executemany(
        "INSERT INTO story_days (day, reports) VALUES (?, ?)"
        " ON CONFLICT (day) DO UPDATE SET reports = reports + excluded.reports",
        sorted(days.items()),
    )
    db.conn.executemany(
        "INSERT INTO story_df (key, day, count) VALUES (?, ?, ?)"
        " ON CONFLICT (key, day) DO UPDATE SET count = count + excluded.count",
        [(key, day, count) for day, counts in sorted(by_day.items())
         for key, count in sorted(counts.items())],
    )  # fmt: skip
    return by_day


def generation(db: Database) -> int:
    """How many times story state was saved: a clusterer kept in memory holds while it has not
    changed since its own last save."""
    return int(stored_setting(db, GENERATION) or 0)


def advance(db: Database) -> int:
    """Count one more save of story state; the new generation."""
    db.conn.execute(
        "INSERT INTO dedup_settings (name, value, updated_at)"
        " VALUES (?, '1', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) ON CONFLICT (name) DO UPDATE"
        " SET value = CAST(value AS INTEGER) + 1, updated_at = excluded.updated_at",
        [GENERATION],
    )
    return generation(db)


def forget(db: Database) -> None:
    """Empty the state (every story is decided again); it stays marked as built."""
    for table in ("story_state", "story_postings", "story_df", "story_days", "story_counted"):
        db.conn.execute(f"DELETE FROM {table}")


def is_built(db: Database) -> bool:
    """Whether the state holds every story (databases from before it get it built once)."""
    return stored_setting(db, MARKER) is not None


def mark_built(db: Database) -> None:
    """Record that the state holds every story."""
    save_settings(db, {MARKER: "built"})


def _story(row: Sequence[Any]) -> Story:
    (story_id, lead, first, last, size, undated, mass, head_norm2, text_norm2, _, head_terms,
     head_weights, text_terms, text_weights, signals, languages) = row  # fmt: skip
    return Story(
        story_id,
        lead=lead,
        head=_vector(head_terms, head_weights),
        text=_vector(text_terms, text_weights),
        head_norm2=head_norm2,
        text_norm2=text_norm2,
        signals=Counter(json.loads(signals)),
        signal_mass=mass,
        undated=undated,
        size=size,
        first=first,
        last=last,
        languages=Counter(json.loads(languages)),
    )


def _row(story: Story, weighed_n: int) -> tuple[Any, ...]:
    return (
        story.id, story.lead, story.first, story.last, story.size, story.undated,
        story.signal_mass, story.head_norm2, story.text_norm2, weighed_n,
        json.dumps(list(story.head)), _weights(story.head), json.dumps(list(story.text)),
        _weights(story.text), json.dumps(story.signals), json.dumps(story.languages),
    )  # fmt: skip


def _vector(terms: str, weights: bytes) -> dict[str, float]:
    # Weights as stored bytes: the exact float64 sums, read back faster than JSON numbers.
    return dict(zip(json.loads(terms), np.frombuffer(weights, dtype="<f8").tolist(), strict=True))


def _weights(vector: Mapping[str, float]) -> bytes:
    return np.fromiter(vector.values(), dtype="<f8", count=len(vector)).tobytes()


__all__ = ["StoredClusterer", "forget", "is_built", "mark_built"]
