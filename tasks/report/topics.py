"""Topics: the subjects an analyst follows, matched against every run's new and changed documents.

A topics file lists `[[topics]]` (name, query in the search syntax, optional languages, notify and
enabled). Each run matches only the documents it added or changed (`run_documents`), so the cost
grows with what is new, not with the database; a topic whose query changed is matched again over
the story window and its stale matches are dropped. `topic_matches` keeps one row per topic and
document, flagged `new_story` when it is the topic's first match of that story: what a
notification announces. Sending is Prefect code (flows/topics.py); the message is built here.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from newsflow.tasks.report.entries import outlet_of, safe_link
from newsflow.tasks.search import engine
from newsflow.tasks.store.transaction import write_transaction
from newsflow.tasks.store.writer import now
from newsflow.tasks.stories.linking import DEFAULT_WINDOW_DAYS

log = logging.getLogger(__name__)

TOPIC_KEYS = {"name", "query", "languages", "notify", "enabled"}
# '<block type slug>/<block document name>', as `prefect block ls` shows them.
_BLOCK = re.compile(r"^[a-z0-9][a-z0-9-]*/[^/\s][^/]*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
# Ids further apart than this start a new rowid range in the full-text query: a range costs one
# query, and a range's gaps cost the documents in them (new documents are one dense range).
NOTE_LINKS = 3  # links per story in a message


class TopicError(ValueError):
    """The topics file, or one topic in it, is not valid; the message names the topic."""


@dataclass(frozen=True)
class Topic:
    """One topic as the topics file describes it."""

    name: str
    query: str
    languages: tuple[str, ...] = ()
    notify: str | None = None  # '<block type>/<block name>' of a Prefect notification block
    enabled: bool = True

    @property
    def slug(self) -> str:
        """Lowercase letters, digits and dashes: the topic's artifact key part."""
        return slugify(self.name)


def slugify(name: str) -> str:
    """`Cambodia & Japan` → `cambodia-japan` (accents folded, anything else a dash)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


# --- the topics file -----------------------------------------------------------------------------


def load_topics(path: Path) -> list[Topic]:
    """The topics in a TOML topics file; an absent file is an empty list."""
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TopicError(f"{path}: not valid TOML: {error}") from None
    tables = data.get("topics", [])
    if not isinstance(tables, list):
        raise TopicError(f"{path}: 'topics' must be an array of tables ([[topics]])")
    topics: list[Topic] = []
    slugs: dict[str, str] = {}
    for number, table in enumerate(tables, start=1):
        topic = _topic(table, where=f"{path}: topic #{number}")
        if topic.slug in slugs:
            raise TopicError(
                f"{path}: topic {topic.name!r}: same name or artifact key as {slugs[topic.slug]!r}"
            )
        slugs[topic.slug] = topic.name
        topics.append(topic)
    return topics


def _topic(table: object, *, where: str) -> Topic:
    if not isinstance(table, dict):
        raise TopicError(f"{where}: must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip() or not slugify(name):
        raise TopicError(f"{where}: needs a 'name' with letters or digits")
    where = f"{where.split(': topic #')[0]}: topic {name!r}"
    unknown = sorted(set(table) - TOPIC_KEYS)
    if unknown:
        raise TopicError(f"{where}: unknown key(s) {', '.join(unknown)}")
    query = table.get("query")
    if not isinstance(query, str) or not query.strip():
        raise TopicError(f"{where}: needs a non-empty 'query'")
    languages = table.get("languages", [])
    if isinstance(languages, str):
        languages = [languages]
    if not isinstance(languages, list) or not all(
        isinstance(code, str) and _LANGUAGE.match(code.lower()) for code in languages
    ):
        raise TopicError(f"{where}: 'languages' must be a list of ISO 639-1 codes like \"en\"")
    notify = table.get("notify")
    if notify is not None and (not isinstance(notify, str) or not _BLOCK.match(notify.strip())):
        raise TopicError(
            f"{where}: 'notify' must be '<block type>/<block name>', e.g. 'custom-webhook/team'"
        )
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise TopicError(f"{where}: 'enabled' must be true or false")
    return Topic(
        name=name.strip(),
        query=query.strip(),
        languages=tuple(sorted({code.lower() for code in languages})),
        notify=notify.strip() if notify else None,
        enabled=enabled,
    )


# --- matching (the one place that asks search) ---------------------------------------------------


def check_query(db: Database, query: str) -> None:
    """Raise engine.BadQuery when `query` is not valid search syntax (nothing is read)."""
    engine.matching_ids(db, query, ids=())


def matching_ids(
    db: Database, query: str, ids: Iterable[int], languages: Collection[str] | None = None
) -> set[int]:
    """The documents among `ids` that `query` matches (in `languages`, when given): the one
    place topics ask search, whose cost follows the ids, not the database."""
    wanted = set(ids)
    if not wanted:
        return set()
    return engine.matching_ids(db, query, ids=wanted, languages=sorted(languages or ()) or None)


# --- which documents a pass looks at -------------------------------------------------------------


def run_documents(db: Database, run_id: str) -> list[int]:
    """Canonical documents the run added or whose text it changed (by index, not a scan)."""
    row = db.execute("SELECT started_at FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise LookupError(f"Run {run_id!r} is not in the runs table")
    started = row[0]
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM documents WHERE created_at >= ? AND first_run_id = ?"
            " AND duplicate_of IS NULL"
            " UNION SELECT id FROM documents WHERE updated_at >= ? AND last_run_id = ?"
            " AND duplicate_of IS NULL",
            [started, run_id, started, run_id],
        ).fetchall()
    ]


def window_documents(db: Database, *, days: int = DEFAULT_WINDOW_DAYS) -> list[int]:
    """Canonical documents stored or changed in the last `days` days."""
    cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    cutoff = cutoff.replace("+00:00", "Z")
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM documents WHERE created_at >= ? AND duplicate_of IS NULL"
            " UNION SELECT id FROM documents WHERE updated_at >= ? AND duplicate_of IS NULL",
            [cutoff, cutoff],
        ).fetchall()
    ]


# --- the pass a run makes ------------------------------------------------------------------------


@dataclass
class TopicPass:
    """What one run's topic pass did."""

    matched: dict[str, int] = field(default_factory=dict)  # new matches per topic
    dropped: dict[str, int] = field(default_factory=dict)  # matches the topic no longer makes
    new_stories: dict[str, int] = field(default_factory=dict)
    rematched: list[str] = field(default_factory=list)  # topics matched over the window

    def counts(self) -> dict[str, int]:
        """The counts a run records."""
        return {
            "topic_matches": sum(self.matched.values()),
            "topic_matches_dropped": sum(self.dropped.values()),
            "topic_new_stories": sum(self.new_stories.values()),
        }


def sync_topics(db: Database, topics: list[Topic]) -> set[str]:
    """Store the file's topics; the names of those to match over the window (new, or with a
    changed query or languages, or enabled again). Topics gone from the file are kept."""
    stored = {
        row[0]: row[1:]
        for row in db.execute("SELECT name, query, languages, enabled FROM topics").fetchall()
    }
    stamp = now()
    changed: set[str] = set()
    for topic in topics:
        languages = json.dumps(list(topic.languages)) if topic.languages else None
        old = stored.get(topic.name)
        moved = old is None or old[0] != topic.query or old[1] != languages
        moved = moved or (topic.enabled and not (old and old[2]))
        if moved and topic.enabled:
            changed.add(topic.name)
        values = [topic.query, languages, topic.notify, int(topic.enabled)]
        if old is None:
            db.execute(
                "INSERT INTO topics (name, query, languages, notify, enabled, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [topic.name, *values, stamp, stamp],
            )
        else:
            db.execute(
                "UPDATE topics SET query = ?, languages = ?, notify = ?, enabled = ?,"
                " updated_at = CASE WHEN ? THEN ? ELSE updated_at END WHERE name = ?",
                [*values, int(moved), stamp, topic.name],
            )
    return changed


def match_run(
    db: Database,
    topics: list[Topic],
    *,
    run_id: str,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> TopicPass:
    """Match the run's new and changed documents against every enabled topic (and the window's,
    for a topic whose query changed); record the matches and which stories are new."""
    result = TopicPass()
    with write_transaction(db):
        changed = sync_topics(db, topics)
        documents = run_documents(db, run_id)
        window = window_documents(db, days=window_days) if changed else []
        stamp = now()
        for topic in topics:
            if not topic.enabled:
                continue
            candidates = set(documents)
            if topic.name in changed:
                result.rematched.append(topic.name)
                earlier = db.execute(
                    "SELECT document_id FROM topic_matches WHERE topic = ?", [topic.name]
                ).fetchall()
                candidates |= set(window) | {row[0] for row in earlier}
            _match_topic(db, topic, candidates, run_id=run_id, stamp=stamp, result=result)
    log.info("topics: %s", result.counts())
    return result


def _match_topic(
    db: Database,
    topic: Topic,
    candidates: set[int],
    *,
    run_id: str,
    stamp: str,
    result: TopicPass,
) -> None:
    if not candidates:
        return
    hits = matching_ids(db, topic.query, candidates, topic.languages or None)
    marks = json.dumps(sorted(candidates))
    existing = {
        row[0]
        for row in db.execute(
            "SELECT document_id FROM topic_matches WHERE topic = ?"
            " AND document_id IN (SELECT value FROM json_each(?))",
            [topic.name, marks],
        ).fetchall()
    }
    stale = sorted(existing - hits)
    if stale:
        db.conn.executemany(
            "DELETE FROM topic_matches WHERE topic = ? AND document_id = ?",
            [(topic.name, i) for i in stale],
        )
        result.dropped[topic.name] = len(stale)
    fresh = sorted(hits - existing)
    if not fresh:
        return
    story_of = dict(
        db.execute(
            "SELECT id, story_id FROM documents WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(fresh)],
        ).fetchall()
    )
    stories = sorted({s for s in story_of.values() if s is not None})
    # Stories the topic already had (by the documents' current story: stories merge).
    known = {
        row[0]
        for row in db.execute(
            "SELECT DISTINCT d.story_id FROM topic_matches m JOIN documents d"
            " ON d.id = m.document_id WHERE m.topic = ?"
            " AND d.story_id IN (SELECT value FROM json_each(?))",
            [topic.name, json.dumps(stories)],
        ).fetchall()
    }
    rows = []
    for document_id in fresh:
        story_id = story_of.get(document_id)
        first = story_id is None or story_id not in known
        if story_id is not None:
            known.add(story_id)
        rows.append((topic.name, document_id, story_id, run_id, stamp, int(first)))
    db.conn.executemany(
        "INSERT INTO topic_matches (topic, document_id, story_id, run_id, matched_at, new_story)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    result.matched[topic.name] = len(rows)
    result.new_stories[topic.name] = sum(row[5] for row in rows)


# --- reading -------------------------------------------------------------------------------------


def topic_documents(db: Database, name: str, *, run_id: str | None = None) -> list[int]:
    """The canonical documents a topic matched (in one run, when given)."""
    sql = (
        "SELECT DISTINCT coalesce(d.duplicate_of, d.id) FROM topic_matches m"
        " JOIN documents d ON d.id = m.document_id WHERE m.topic = ?"
    )
    params: list[Any] = [name]
    if run_id is not None:
        sql += " AND m.run_id = ?"
        params.append(run_id)
    return sorted(row[0] for row in db.execute(sql, params).fetchall())


def known_topic(db: Database, name: str) -> bool:
    """Whether a topic of that name was ever stored (matched by a run)."""
    return db.execute("SELECT 1 FROM topics WHERE name = ?", [name]).fetchone() is not None


def topic_stats(db: Database, topics: list[Topic]) -> list[dict[str, Any]]:
    """Per topic (the file's, then stored ones no longer in it): matches today, in all, the
    stories, the last match and the last notification."""
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    stored = {
        row["name"]: row
        for row in _rows(db, "SELECT name, query, notify, enabled FROM topics ORDER BY name")
    }
    listed: list[dict[str, Any]] = [
        {"name": t.name, "query": t.query, "notify": t.notify, "enabled": t.enabled,
         "in_file": True} for t in topics
    ]  # fmt: skip
    names = {t.name for t in topics}
    listed += [
        {"name": name, "query": row["query"], "notify": row["notify"], "enabled": False,
         "in_file": False}
        for name, row in stored.items() if name not in names
    ]  # fmt: skip
    for entry in listed:
        counts = db.execute(
            "SELECT count(*), coalesce(sum(matched_at >= ?), 0), count(DISTINCT"
            " coalesce(story_id, -document_id)), max(matched_at)"
            " FROM topic_matches WHERE topic = ?",
            [today, entry["name"]],
        ).fetchone()
        entry |= {"matches": counts[0], "today": counts[1], "stories": counts[2],
                  "last_match": counts[3]}  # fmt: skip
        last = db.execute(
            "SELECT status, sent_at, error FROM notifications WHERE topic = ?"
            " ORDER BY sent_at DESC, id DESC LIMIT 1",
            [entry["name"]],
        ).fetchone()
        entry["last_notification"] = (
            {"status": last[0], "sent_at": last[1], "error": last[2]} if last else None
        )
    return listed


def _rows(db: Database, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- what a message says -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryNote:
    """A new story for a topic, as a message lists it."""

    title: str
    outlets: tuple[str, ...]
    links: tuple[str, ...]  # http(s) URLs, else the files' paths


def new_stories(db: Database, name: str, *, run_id: str) -> list[StoryNote]:
    """The stories the run found new for the topic, with their outlets and links."""
    rows = _rows(
        db,
        """
        SELECT d.id, d.story_id, d.title, d.source, d.url, d.path, substr(d.body, 1, 200) AS lede,
               f.name AS feed, st.title AS story_title
        FROM topic_matches m JOIN documents d ON d.id = m.document_id
        LEFT JOIN feeds f ON f.id = d.feed_id LEFT JOIN stories st ON st.id = d.story_id
        WHERE m.topic = ? AND m.run_id = ? AND m.new_story = 1
        ORDER BY coalesce(d.published_at, d.created_at) DESC, d.id
        """,
        [name, run_id],
    )
    notes = []
    for row in rows:
        members = [row]
        if row["story_id"] is not None:
            members = _rows(
                db,
                "SELECT d.id, d.source, d.url, d.path, f.name AS feed FROM documents d"
                " LEFT JOIN feeds f ON f.id = d.feed_id"
                " WHERE d.story_id = ? AND d.duplicate_of IS NULL ORDER BY d.id",
                [row["story_id"]],
            ) or [row]  # fmt: skip
        for member in members:
            member["source"] = member["source"] or member["feed"]
        outlets = tuple(dict.fromkeys(outlet_of(member) for member in members))
        links = tuple(
            dict.fromkeys(safe_link(m["url"]) or m["url"] or m["path"] or "" for m in members)
        )
        title = row["story_title"] or row["title"] or (row["lede"] or "").split("\n", 1)[0]
        notes.append(StoryNote(title.strip(), outlets, tuple(link for link in links if link)))
    return notes


def message(topic: Topic, notes: list[StoryNote]) -> tuple[str, str]:
    """The (subject, body) of a topic's message: each new story's title, outlets and links."""
    count = len(notes)
    subject = f"newsflow: {count} new {'story' if count == 1 else 'stories'} for {topic.name}"
    lines = []
    for note in notes:
        lines.append(f"• {note.title}")
        if note.outlets:
            lines.append(f"  {', '.join(note.outlets)}")
        for link in note.links[:NOTE_LINKS]:
            lines.append(f"  {link}")
        if len(note.links) > NOTE_LINKS:
            lines.append(f"  … and {len(note.links) - NOTE_LINKS} more reports")
    return subject, "\n".join(lines)


def record_notification(
    db: Database,
    topic: Topic,
    *,
    run_id: str,
    stories: int,
    error: str | None,
) -> None:
    """Remember a message: sent, or failed with its error."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO notifications (topic, run_id, block, sent_at, status, error, stories)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [topic.name, run_id, topic.notify or "", now(), "failed" if error else "sent",
             error, stories],
        )  # fmt: skip
