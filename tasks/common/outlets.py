"""Who published a document and when: the outlet's name and stored times as aware datetimes.

Near-duplicates choose a canonical copy by outlet and time, stories decay similarity with time
and count outlets; both read the same stored columns the same way here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit


def parse_time(value: str | None) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when no offset is given)."""
    if not value:
        return datetime.min.replace(tzinfo=UTC)
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def outlet_name(source: str | None, feed_name: str | None, url: str | None) -> str | None:
    """Who published a document: its stated source, else its feed, else its web site."""
    if source and source.strip():
        return source.strip()
    if feed_name and feed_name.strip():
        return feed_name.strip()
    host = urlsplit(url).hostname if url else None
    return host.removeprefix("www.") if host else None
