"""The records that pass between ingest, dedup, summarisation and storage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Item:
    """One input item (a file, a record of a JSON file, a feed entry) as clean text."""

    key: str  # identity: 'file:<relative path>' or the canonical url
    body: str
    title: str | None = None
    path: str | None = None
    url: str | None = None
    captions: str | None = None
    language: str | None = None
    content_hash: str = ""
    source: str | None = None
    published_at: str | None = None
    published_raw: str | None = None
    feed_id: int | None = None
    file_size: int | None = None
    file_mtime_ns: int | None = None
    # A headline and too little text to be an article (tasks/common/headline.py): kept, not
    # summarised.
    headline_only: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class Reject:
    """An input that could not become a document, and why."""

    location: str
    reason: str
    kind: str = "file"
    detail: str | None = None
    size: int | None = None
