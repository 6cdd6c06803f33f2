"""Feeds in SQLite: the `feeds` rows, their conditional-GET and backoff state, the `fetches` health
history, the per-entry seen-state (`feed_entries`), and entries saved as documents."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from newsflow.tasks.feeds.feed_list import FeedSpec
from newsflow.tasks.feeds.fetch import FetchResult
from newsflow.tasks.feeds.parsing import ParsedFeed
from newsflow.tasks.ingest.language import usual_language
from newsflow.tasks.store import transaction, writer
from newsflow.tasks.store.models import Item, Reject

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=15)  # after the first failure; doubles with each one after
BACKOFF_MAX = timedelta(hours=24)
LOOKBACK = timedelta(days=90)  # entries seen within this window are known without a lookup
FULL_TEXT_ATTEMPTS = 3  # a failed article page is tried again on later runs up to this often


@dataclass(frozen=True)
class KnownEntry:
    """What the last run recorded about an entry."""

    entry_hash: str
    full_text: str | None
    full_text_attempts: int


@dataclass
class FeedState:
    """What a fetch worker needs to know about one feed (plain data, no connection)."""

    id: int
    url: str
    name: str | None = None
    language: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0
    known: dict[str, KnownEntry] = field(default_factory=dict)
    # The language of most of the feed's stored articles: what its headlines are taken to be in
    # when their own words cannot tell.
    usual_language: str | None = None


@dataclass
class EntryRecord:
    """The seen-state of one entry after this run."""

    key: str
    identity: str
    guid: str | None
    url: str | None
    entry_hash: str
    full_text: str | None = None  # ok | failed | not_needed | no_link
    full_text_error: str | None = None
    full_text_attempts: int = 0
    date_problem: str | None = None


@dataclass
class FeedOutcome:
    """Everything one feed's fetch produced, to be written by the single writer."""

    feed_id: int
    fetch: FetchResult | None = None
    parsed: ParsedFeed | None = None
    items: list[Item] = field(default_factory=list)
    records: list[EntryRecord] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # keys of entries seen before, unedited
    rejects: list[Reject] = field(default_factory=list)
    articles: list[FetchResult] = field(default_factory=list)
    deferred: int = 0  # entries left for a later run (article-page budget spent)
    error: str | None = None  # an unexpected failure of the worker itself

    @property
    def failure(self) -> str | None:
        """Why this feed counts as failed in this run, or None."""
        if self.error:
            return self.error
        if self.fetch is None:
            return "not fetched"
        if self.fetch.error:
            return self.fetch.error
        if self.fetch.not_modified:
            return None
        if self.parsed is not None and not self.parsed.is_feed:
            return self.parsed.problem or "not a feed"
        return None


# --- feeds rows -----------------------------------------------------------------------------------


def sync_feeds(db: Database, specs: list[FeedSpec], adhoc: list[str]) -> tuple[list[int], set[int]]:
    """Upsert feeds from the feed list and ad-hoc URLs; return the ids to fetch in this run, and
    which of them were asked for ad hoc.

    Listed feeds take name, language, enabled and tags from the list; an ad-hoc URL is fetched
    even when the list disables it (the user asked for it by name).
    """
    stamp = writer.now()
    wanted: list[int] = []
    adhoc_ids: set[int] = set()
    with transaction.write_transaction(db):
        for spec in specs:
            db.conn.execute(
                """
                INSERT INTO feeds (url, name, language, enabled, tags, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (url) DO UPDATE SET name = excluded.name,
                    language = excluded.language, enabled = excluded.enabled, tags = excluded.tags
                """,
                [
                    spec.url,
                    spec.name,
                    spec.language,
                    int(spec.enabled),
                    json.dumps(list(spec.tags)),
                    stamp,
                ],
            )
            if spec.enabled:
                wanted.append(_feed_id(db, spec.url))
        for url in adhoc:
            db.conn.execute(
                "INSERT INTO feeds (url, enabled, tags, created_at) VALUES (?, 1, '[]', ?)"
                " ON CONFLICT (url) DO NOTHING",
                [url, stamp],
            )
            feed_id = _feed_id(db, url)
            adhoc_ids.add(feed_id)
            if feed_id not in wanted:
                wanted.append(feed_id)
    return wanted, adhoc_ids


def _feed_id(db: Database, url: str) -> int:
    return int(db.execute("SELECT id FROM feeds WHERE url = ?", [url]).fetchone()[0])


def feed_states(
    db: Database,
    ids: list[int],
    *,
    now: datetime | None = None,
    ignore_backoff: Set[int] = frozenset(),
) -> tuple[list[FeedState], list[tuple[int, str, str]]]:
    """States of the feeds due now, and (id, url, until) of those still backed off."""
    now = now or datetime.now(UTC)
    stamp = _iso(now)
    since = _iso(now - LOOKBACK)
    due: list[FeedState] = []
    waiting: list[tuple[int, str, str]] = []
    for feed_id in ids:
        row = db.execute(
            "SELECT id, url, name, language, etag, last_modified, error_count, next_fetch_after"
            " FROM feeds WHERE id = ?",
            [feed_id],
        ).fetchone()
        if row is None:
            continue
        if row[7] and row[7] > stamp and feed_id not in ignore_backoff:
            waiting.append((row[0], row[1], row[7]))
            continue
        known = {
            key: KnownEntry(digest, full_text, attempts)
            for key, digest, full_text, attempts in db.execute(
                "SELECT entry_key, entry_hash, full_text, full_text_attempts FROM feed_entries"
                " WHERE feed_id = ? AND last_seen_at >= ?",
                [feed_id, since],
            ).fetchall()
        }
        feed_id, url, name, language, etag, last_modified, error_count = row[:7]
        due.append(
            FeedState(
                feed_id, url, name, language, etag, last_modified, error_count, known,
                usual_language=stored_usual_language(db, feed_id, since=since),
            )
        )  # fmt: skip
    return due, waiting


# Stored documents of at least this many words were identified from their own text.
ARTICLE_WORDS = 40


def stored_usual_language(db: Database, feed_id: int, *, since: str) -> str | None:
    """The language most of the feed's articles seen since `since` are in (`usual_language`)."""
    # Through feed_entries, whose (feed_id, last_seen_at) index bounds the rows read.
    rows = db.execute(
        "SELECT d.language, count(*) FROM feed_entries e JOIN documents d ON d.id = e.document_id"
        " WHERE e.feed_id = ? AND e.last_seen_at >= ? AND d.language IS NOT NULL"
        " AND NOT coalesce(d.headline_only, 0) AND d.word_count >= ? GROUP BY d.language",
        [feed_id, since, ARTICLE_WORDS],
    ).fetchall()
    return usual_language(Counter(dict(rows)))


def backoff_until(error_count: int, *, now: datetime, retry_after: float | None = None) -> str:
    """When a feed that failed `error_count` times in a row may be fetched again."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, error_count - 1))
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return _iso(now + delay)


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- one feed's outcome ---------------------------------------------------------------------------


@dataclass
class SavedFeed:
    """What writing one feed's outcome did."""

    status: str  # fetched | not_modified | failed
    items: int = 0  # entries in the feed body
    counts: writer.SaveCounts = field(default_factory=writer.SaveCounts)
    unchanged_entries: int = 0
    rejects: int = 0
    articles: int = 0  # article pages requested
    full_text_ok: int = 0
    full_text_failed: int = 0
    deferred: int = 0
    cut: int = 0  # entries past the per-run cap


def save_outcome(
    db: Database, outcome: FeedOutcome, *, run_id: str, now: datetime | None = None
) -> SavedFeed:
    """Write one feed's outcome: documents, rejects, fetch rows, entry state and feed state."""
    now = now or datetime.now(UTC)
    stamp = _iso(now)
    failure = outcome.failure
    parsed = outcome.parsed
    result = SavedFeed(
        status="failed" if failure else "not_modified" if _not_modified(outcome) else "fetched",
        items=len(parsed.entries) if parsed and parsed.is_feed else 0,
        unchanged_entries=len(outcome.unchanged),
        rejects=len(outcome.rejects),
        articles=len(outcome.articles),
        full_text_ok=sum(1 for r in outcome.records if r.full_text == "ok"),
        full_text_failed=sum(1 for r in outcome.records if r.full_text == "failed"),
        deferred=outcome.deferred,
        cut=parsed.cut if parsed else 0,
    )
    if result.cut:
        log.warning("feed %s: %d entries past the per-run cap cut", outcome.feed_id, result.cut)
    # One transaction per feed: its documents, fetch rows and state commit together or not at all.
    with transaction.write_transaction(db):
        if outcome.items:
            result.counts = writer.save_items(db, outcome.items, run_id=run_id)
            writer.clear_rejects(db, [item.key for item in outcome.items])
        if outcome.rejects:
            writer.save_rejects(db, outcome.rejects, run_id=run_id)
        if outcome.fetch is not None:
            _insert_fetch(
                db,
                outcome.fetch,
                feed_id=outcome.feed_id,
                run_id=run_id,
                kind="feed",
                stamp=stamp,
                items=result.items,
                new_items=result.counts.new,
                error=failure,
                parse_error=parsed.bozo_error if parsed else None,
                entries_cut=result.cut or None,
            )
        elif failure:
            db.table("fetches").insert(
                {
                    "run_id": run_id,
                    "feed_id": outcome.feed_id,
                    "url": "",
                    "kind": "feed",
                    "error": failure,
                    "fetched_at": stamp,
                }
            )
        for article in outcome.articles:
            _insert_fetch(
                db,
                article,
                feed_id=outcome.feed_id,
                run_id=run_id,
                kind="article",
                stamp=stamp,
                error=article.error,
            )
        _save_records(db, outcome, run_id=run_id, stamp=stamp)
        _update_feed(db, outcome, failure=failure, now=now)
    return result


def _not_modified(outcome: FeedOutcome) -> bool:
    return outcome.fetch is not None and outcome.fetch.not_modified


def _insert_fetch(
    db: Database,
    fetch: FetchResult,
    *,
    feed_id: int,
    run_id: str,
    kind: str,
    stamp: str,
    items: int | None = None,
    new_items: int | None = None,
    error: str | None = None,
    parse_error: str | None = None,
    entries_cut: int | None = None,
) -> None:
    db.table("fetches").insert(
        {
            "run_id": run_id,
            "feed_id": feed_id,
            "url": fetch.url,
            "final_url": fetch.final_url,
            "kind": kind,
            "status": fetch.status,
            "bytes": fetch.size,
            "elapsed_ms": fetch.elapsed_ms,
            "attempts": fetch.attempts,
            "etag_sent": fetch.etag_sent,
            "modified_sent": fetch.modified_sent,
            "etag_received": fetch.etag,
            "modified_received": fetch.last_modified,
            "items": items,
            "new_items": new_items,
            "error": error,
            "parse_error": parse_error,
            "entries_cut": entries_cut,
            "redirects": len(fetch.redirects),
            "retry_after": fetch.retry_after,
            "fetched_at": stamp,
        }
    )


def _save_records(db: Database, outcome: FeedOutcome, *, run_id: str, stamp: str) -> None:
    for record in outcome.records:
        row = db.execute("SELECT id FROM documents WHERE key = ?", [record.key]).fetchone()
        db.conn.execute(
            """
            INSERT INTO feed_entries (feed_id, entry_key, document_id, identity, guid, url,
                entry_hash, full_text, full_text_error, full_text_attempts, date_problem,
                first_seen_at, last_seen_at, first_run_id, last_run_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (feed_id, entry_key) DO UPDATE SET
                document_id = coalesce(excluded.document_id, document_id),
                identity = excluded.identity, guid = excluded.guid, url = excluded.url,
                entry_hash = excluded.entry_hash, full_text = excluded.full_text,
                full_text_error = excluded.full_text_error,
                full_text_attempts = excluded.full_text_attempts,
                date_problem = excluded.date_problem,
                last_seen_at = excluded.last_seen_at, last_run_id = excluded.last_run_id
            """,
            [
                outcome.feed_id,
                record.key,
                row[0] if row else None,
                record.identity,
                record.guid,
                record.url,
                record.entry_hash,
                record.full_text,
                record.full_text_error,
                record.full_text_attempts,
                record.date_problem,
                stamp,
                stamp,
                run_id,
                run_id,
            ],
        )
    if outcome.unchanged:
        db.conn.executemany(
            "UPDATE feed_entries SET last_seen_at = ?, last_run_id = ?"
            " WHERE feed_id = ? AND entry_key = ?",
            [(stamp, run_id, outcome.feed_id, key) for key in outcome.unchanged],
        )


def _update_feed(db: Database, outcome: FeedOutcome, *, failure: str | None, now: datetime) -> None:
    fetch, parsed = outcome.fetch, outcome.parsed
    changes: dict[str, object] = {"last_fetched_at": _iso(now)}
    if fetch is not None and fetch.final_url:
        changes["final_url"] = fetch.final_url
        twin = db.execute(
            "SELECT id, url FROM feeds WHERE id != ? AND (final_url = ? OR url = ?) LIMIT 1",
            [outcome.feed_id, fetch.final_url, fetch.final_url],
        ).fetchone()
        if twin and fetch.redirects:
            # Same entries, same keys: no duplicate documents, but the list has a redundant feed.
            log.warning(
                "feed %s redirects to %s, the same feed as feed %s (%s)",
                outcome.feed_id,
                fetch.final_url,
                twin[0],
                twin[1],
            )
    if failure:
        row = db.execute("SELECT error_count FROM feeds WHERE id = ?", [outcome.feed_id]).fetchone()
        error_count = int(row[0]) + 1
        changes |= {
            "error_count": error_count,
            "last_error": failure,
            "next_fetch_after": backoff_until(
                error_count, now=now, retry_after=fetch.retry_after if fetch else None
            ),
        }
        log.warning("feed %s failed (%d in a row): %s", outcome.feed_id, error_count, failure)
    else:
        changes |= {"error_count": 0, "last_error": None, "next_fetch_after": None}
        assert fetch is not None
        if fetch.not_modified:
            # RFC 9111 §4.3.4: a 304 updates the stored validators it carries; absent ones stay.
            if fetch.etag:
                changes["etag"] = fetch.etag
            if fetch.last_modified:
                changes["last_modified"] = fetch.last_modified
        else:
            changes |= {"etag": fetch.etag, "last_modified": fetch.last_modified}
        if parsed is not None and parsed.is_feed:
            changes |= {"title": parsed.title, "format": parsed.format}
    db.table("feeds").update(outcome.feed_id, changes)
