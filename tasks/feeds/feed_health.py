"""Each listed feed's health, from what the fetcher records: the `feeds` row (errors, backoff) and
its latest `fetches` row (time, HTTP status, items), as the `v_feed_health` view joins them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from newsflow.tasks.feeds.feed_list import FeedSpec, url_key


@dataclass(frozen=True)
class FeedHealth:
    """One listed feed and its state in the database (all None before its first fetch)."""

    spec: FeedSpec
    title: str | None = None  # the feed's own title, as last fetched
    last_fetched_at: str | None = None
    last_status: int | None = None  # HTTP status of the last feed request (None: no answer)
    last_items: int | None = None  # entries in the last body (0 for a 304)
    last_error: str | None = None
    error_count: int = 0  # consecutive failed runs
    backed_off_until: str | None = None  # only while it is in the future
    fetches: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready row."""
        spec = self.spec
        return {
            "url": spec.url,
            "name": spec.name,
            "language": spec.language,
            "enabled": spec.enabled,
            "tags": list(spec.tags),
            "title": self.title,
            "last_fetched_at": self.last_fetched_at,
            "last_status": self.last_status,
            "last_items": self.last_items,
            "last_error": self.last_error,
            "error_count": self.error_count,
            "backed_off_until": self.backed_off_until,
            "fetches": self.fetches,
        }


def feed_health(
    db: Database | None, specs: Sequence[FeedSpec], *, now: datetime | None = None
) -> list[FeedHealth]:
    """The listed feeds with their recorded state, matched by URL (normalised); no database, or
    a feed never fetched, gives the spec alone."""
    if db is None:
        return [FeedHealth(spec) for spec in specs]
    stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    stamp = stamp.replace("+00:00", "Z")
    cursor = db.execute(
        "SELECT h.url, f.title, h.last_fetched_at, h.last_status, h.last_items,"
        " h.last_fetch_error, h.last_error, h.error_count, h.next_fetch_after, h.fetches"
        " FROM v_feed_health h JOIN feeds f ON f.id = h.feed_id"
    )
    rows = {url_key(row[0]): row for row in cursor.fetchall()}
    health = []
    for spec in specs:
        row = rows.get(url_key(spec.url))
        if row is None:
            health.append(FeedHealth(spec))
            continue
        _, title, fetched_at, status, items, fetch_error, feed_error, errors, until, count = row
        health.append(
            FeedHealth(
                spec,
                title=title,
                last_fetched_at=fetched_at,
                last_status=status,
                last_items=items,
                last_error=fetch_error or feed_error,
                error_count=int(errors or 0),
                backed_off_until=until if until and until > stamp else None,
                fetches=int(count or 0),
            )
        )
    return health


def unlisted_feeds(db: Database, specs: Sequence[FeedSpec]) -> int:
    """How many feeds the database knows that the list does not (fetched ad hoc with --feed)."""
    listed = {url_key(spec.url) for spec in specs}
    urls = [row[0] for row in db.execute("SELECT url FROM feeds").fetchall()]
    return sum(1 for url in urls if url_key(url) not in listed)
