"""The feeds step: fetch feeds concurrently (bounded, one request at a time per host) and write
each feed's outcome through one writer. A feed that fails is recorded; it never fails the run."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlite_utils import Database

from newsflow.flows.settings import apply_defaults

apply_defaults()

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from newsflow.db import open_db  # noqa: E402
from newsflow.tasks.feeds import feed_list, feed_store, items, parsing  # noqa: E402
from newsflow.tasks.feeds.fetch import (  # noqa: E402
    PAGE_ACCEPT,
    FetchResult,
    FetchSettings,
    HostGate,
    fetch,
    make_client,
)
from newsflow.tasks.ingest import language  # noqa: E402
from newsflow.tasks.ingest.loader import MAX_BODY_CHARS  # noqa: E402
from newsflow.tasks.store.models import Reject  # noqa: E402

log = logging.getLogger(__name__)

# Bodies above this are parsed one at a time: a hostile 10 MB body can cost a few hundred MB
# while it is parsed, and parsing holds the GIL anyway, so running them together gains nothing.
BIG_BODY = 1024 * 1024


@dataclass(frozen=True)
class FeedRunSettings:
    """How the feeds step behaves; every field has an environment override via FetchSettings."""

    fetch: FetchSettings = field(default_factory=FetchSettings.from_env)
    # Article pages: fewer attempts, since the feed's own text is there to fall back on.
    article_fetch: FetchSettings = field(
        default_factory=lambda: FetchSettings.from_env(max_attempts=2, max_bytes=5 * 1024 * 1024)
    )
    workers: int = 4  # feeds fetched at once
    host_interval: float = 0.5  # seconds between two requests to the same host
    articles_per_feed: int = 30  # article pages fetched per feed and run; the rest wait
    entries_per_feed: int = parsing.MAX_ENTRIES  # entries read per feed and run; the rest are cut
    full_text: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> FeedRunSettings:
        """Defaults, then `NEWSFLOW_FEEDS_<FIELD>` variables (WORKERS=8, FULL_TEXT=0, …)."""
        values: dict[str, object] = {}
        for name in (
            "workers",
            "host_interval",
            "articles_per_feed",
            "entries_per_feed",
            "full_text",
        ):
            raw = os.environ.get(f"NEWSFLOW_FEEDS_{name.upper()}")
            if raw is not None:
                kind = type(getattr(cls, name))
                values[name] = (
                    raw.strip().lower() in {"1", "true", "yes"} if kind is bool else kind(raw)
                )
        return cls(**(values | overrides))  # type: ignore[arg-type]


def collect_feed(
    client: httpx.Client,
    state: feed_store.FeedState,
    *,
    settings: FeedRunSettings,
    gate: HostGate,
    now: datetime | None = None,
    parse_lock: threading.Lock | None = None,
) -> feed_store.FeedOutcome:
    """Fetch one feed, parse it, fetch article pages for new or edited teasers; no database.

    `parse_lock`, shared by the workers, makes big bodies parse one at a time.
    """
    outcome = feed_store.FeedOutcome(feed_id=state.id)
    with gate.slot(state.url):
        result = fetch(
            client,
            state.url,
            etag=state.etag,
            last_modified=state.last_modified,
            settings=settings.fetch,
        )
    outcome.fetch = result
    if not result.ok:  # a 304 stops here: no body, nothing to parse
        return outcome
    with _one_at_a_time(parse_lock, result.size):
        parsed = parsing.parse_feed(
            result.body,
            url=result.final_url or state.url,
            headers=result.headers,
            scope=state.url,
            now=now,
            max_entries=settings.entries_per_feed,
        )
    result.body = b""  # parsed; the size stays in result.size
    outcome.parsed = parsed
    if not parsed.is_feed:
        return outcome
    source = state.name or parsed.title
    budget = settings.articles_per_feed
    confident: list[str | None] = []  # the languages the feed's items named with confidence
    for entry in parsed.entries:
        known = state.known.get(entry.key)
        retry = (
            known is not None
            and known.full_text == "failed"
            and known.full_text_attempts < feed_store.FULL_TEXT_ATTEMPTS
        )
        if known is not None and known.entry_hash == entry.entry_hash and not retry:
            outcome.unchanged.append(entry.key)
            continue
        record = feed_store.EntryRecord(
            key=entry.key,
            identity=entry.identity,
            guid=entry.guid,
            url=entry.url,
            entry_hash=entry.entry_hash,
            date_problem=entry.date_problem,
            full_text="not_needed",
        )
        full_text = None
        if settings.full_text and entry.is_teaser:
            if not entry.url:
                record.full_text = "no_link"
            elif budget <= 0:
                outcome.deferred += 1  # not recorded: the next run sees it as new
                continue
            else:
                budget -= 1
                page, full_text = _fetch_full_text(
                    client, entry, settings=settings, gate=gate, parse_lock=parse_lock
                )
                outcome.articles.append(page)
                previous = known.full_text_attempts if retry and known else 0
                if full_text.text:
                    record.full_text = "ok"
                else:
                    record.full_text, record.full_text_error = "failed", full_text.problem
                    record.full_text_attempts = previous + 1
        item, identified = items.identified_item(
            entry,
            feed_id=state.id,
            source=source,
            language_hint=state.language,
            full_text=full_text,
        )
        if identified.confident:
            confident.append(identified.code)
        if len(item.body) < items.MIN_BODY_CHARS and not item.headline_only:
            detail = f"{len(item.body)} characters of text and no headline"
            if record.full_text_error:
                detail += f"; article page: {record.full_text_error}"
            outcome.rejects.append(Reject(entry.key, "no_text", kind="feed_item", detail=detail))
        elif len(item.body) > MAX_BODY_CHARS:
            # As for files: summaries cost the square of the sentence count, so an "article" of
            # megabytes would hold the run for hours.
            detail = f"{len(item.body)} > {MAX_BODY_CHARS} characters of body"
            outcome.rejects.append(Reject(entry.key, "too_long", kind="feed_item", detail=detail))
        else:
            outcome.items.append(item)
        outcome.records.append(record)
    # Headlines and teasers the text could not name take the feed's usual language: that of its
    # items identified with confidence, in this run or stored before.
    usual = language.usual_language(confident) or state.usual_language
    for item in outcome.items:
        item.language = item.language or usual
    return outcome


def _one_at_a_time(
    lock: threading.Lock | None, size: int
) -> contextlib.AbstractContextManager[object]:
    return lock if lock is not None and size > BIG_BODY else contextlib.nullcontext()


def _fetch_full_text(
    client: httpx.Client,
    entry: parsing.FeedEntry,
    *,
    settings: FeedRunSettings,
    gate: HostGate,
    parse_lock: threading.Lock | None = None,
) -> tuple[FetchResult, items.FullText]:
    assert entry.url is not None
    with gate.slot(entry.url):
        page = fetch(client, entry.url, accept=PAGE_ACCEPT, settings=settings.article_fetch)
    if not page.ok:
        return page, items.FullText(None, problem=f"page fetch failed: {page.error}")
    try:
        with _one_at_a_time(parse_lock, page.size):
            found = items.full_text_from_page(
                entry, page.body, url=page.final_url or entry.url, headers=page.headers
            )
    except Exception as error:  # extraction of hostile HTML must not take the feed down
        log.warning("extracting %s failed: %s", entry.url, error)
        found = items.FullText(None, problem=f"extraction failed: {error}")
    page.body = b""  # extracted; the size stays in page.size
    return page, found


def _collect_safely(
    client: httpx.Client,
    state: feed_store.FeedState,
    settings: FeedRunSettings,
    gate: HostGate,
    parse_lock: threading.Lock,
) -> feed_store.FeedOutcome:
    try:
        return collect_feed(client, state, settings=settings, gate=gate, parse_lock=parse_lock)
    except Exception as error:  # one feed's bug or bad data never fails the run
        log.exception("feed %s (%s) failed", state.id, state.url)
        detail = "".join(traceback.format_exception_only(error)).strip()
        message = f"internal error: {detail}"
        # The fetches row names the feed even though its outcome was lost with the exception.
        failed = FetchResult(url=state.url, error=message, error_kind="internal")
        return feed_store.FeedOutcome(feed_id=state.id, fetch=failed, error=message)


def run_feeds(
    db_path: str,
    *,
    feeds_file: str | None,
    adhoc: list[str],
    run_id: str,
    settings: FeedRunSettings | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, int]:
    """Sync the feed list, fetch the due feeds concurrently, write each outcome; return counts."""
    settings = settings or FeedRunSettings.from_env()
    specs = feed_list.load_feed_list(Path(feeds_file)) if feeds_file else []
    counts: dict[str, int] = dict.fromkeys(COUNT_NAMES, 0)
    db = open_db(db_path)
    try:
        ids, adhoc_ids = feed_store.sync_feeds(db, specs, adhoc)
        states, waiting = feed_store.feed_states(db, ids, ignore_backoff=adhoc_ids)
        counts["feeds_backed_off"] = len(waiting)
        for feed_id, url, until in waiting:
            log.info("feed %s (%s) is backed off until %s", feed_id, url, until)
        gate = HostGate(settings.host_interval)
        parse_lock = threading.Lock()
        with (
            make_client(settings.fetch, transport=transport) as client,
            ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="feed") as pool,
        ):
            futures = [
                pool.submit(_collect_safely, client, s, settings, gate, parse_lock) for s in states
            ]
            for future in as_completed(futures):
                _write(db, future.result(), run_id=run_id, counts=counts)
    finally:
        db.close()
    return {name: value for name, value in counts.items() if value}  # the run shows what happened


COUNT_NAMES = (
    "feeds_fetched",
    "feeds_not_modified",
    "feeds_failed",
    "feeds_backed_off",
    "feed_entries",
    "feed_entries_unchanged",
    "feed_entries_deferred",
    "feed_entries_cut",
    "feed_rejects",
    "article_pages",
    "full_text_ok",
    "full_text_failed",
    "documents_new",
    "documents_updated",
    "documents_unchanged",
    "exact_duplicates",
)


def _write(
    db: Database, outcome: feed_store.FeedOutcome, *, run_id: str, counts: dict[str, int]
) -> None:
    try:
        saved = feed_store.save_outcome(db, outcome, run_id=run_id, now=datetime.now(UTC))
    except Exception:
        log.exception("saving feed %s failed", outcome.feed_id)
        counts["feeds_failed"] += 1
        return
    counts[f"feeds_{saved.status}"] += 1
    counts["feed_entries"] += saved.items
    counts["feed_entries_unchanged"] += saved.unchanged_entries
    counts["feed_entries_deferred"] += saved.deferred
    counts["feed_entries_cut"] += saved.cut
    counts["feed_rejects"] += saved.rejects
    counts["article_pages"] += saved.articles
    counts["full_text_ok"] += saved.full_text_ok
    counts["full_text_failed"] += saved.full_text_failed
    counts["documents_new"] += saved.counts.new
    counts["documents_updated"] += saved.counts.updated
    counts["documents_unchanged"] += saved.counts.unchanged
    counts["exact_duplicates"] += saved.counts.duplicates


# No Prefect retries or caching: retries happen per request inside, and a feed run is never reused.
@task(name="ingest-feeds", cache_policy=NO_CACHE)
def ingest_feeds(
    db_path: str, feeds_file: str | None, adhoc: list[str], run_id: str
) -> dict[str, int]:
    """Fetch every due feed (listed and ad hoc) and store its new and edited entries."""
    return run_feeds(db_path, feeds_file=feeds_file, adhoc=adhoc, run_id=run_id)
