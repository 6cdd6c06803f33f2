"""Documents as near-duplicate decisions see them (time, outlet, length, group), and the tally of a
dedup run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from sqlite_utils import Database

from newsflow.tasks.common.outlets import outlet_name, parse_time
from newsflow.tasks.dedup.settings import DEFAULT_THRESHOLD

_DOC_COLUMNS = (
    "d.id, d.title, d.url, d.content_hash, d.language, d.source, d.path, d.duplicate_of, "
    "d.summary_status, d.word_count, d.story_id, d.event_at, d.published_at, d.created_at, "
    "coalesce(d.published_at, d.created_at) AS natural_at, d.file_mtime_ns, "
    "f.name AS feed_name"
)


@dataclass
class Doc:
    """The columns of a document that dedup decisions use (never the body unless needed)."""

    id: int
    title: str | None
    url: str | None
    content_hash: str
    language: str | None
    source: str | None
    path: str | None
    duplicate_of: int | None
    summary_status: str | None
    word_count: int
    story_id: int | None
    event_at: str | None  # as stored
    natural_at: str  # what event_at should be: the publication date, else when we stored it
    published_at: str | None
    created_at: str
    feed_name: str | None
    file_mtime_ns: int | None = None

    @cached_property  # a group is weighed on every link: parsed once
    def first_seen(self) -> str:
        """When this text first existed, as far as we know: its stated date, else the file's
        modification time, else when we stored it (a copy made from a file is newer than it)."""
        if self.published_at:
            return self.published_at
        if self.file_mtime_ns:
            stamp = datetime.fromtimestamp(self.file_mtime_ns / 1e9, tz=UTC)
            return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")
        return self.created_at

    @property
    def when(self) -> datetime:
        return parse_time(self.natural_at)

    def apart(self, other: Doc) -> timedelta:
        """Time between two documents: publication dates, or when both were stored if either
        has no date (an undated copy stored with its dated original is not a year away)."""
        if self.published_at and other.published_at:
            return abs(parse_time(self.published_at) - parse_time(other.published_at))
        return abs(parse_time(self.created_at) - parse_time(other.created_at))

    @property
    def outlet(self) -> str | None:
        return outlet_name(self.source, self.feed_name, self.url)


def load_docs(db: Database, ids: Iterable[int]) -> dict[int, Doc]:
    ids = list(dict.fromkeys(ids))
    found: dict[int, Doc] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        cursor = db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id"
            f" WHERE d.id IN ({marks})",
            chunk,
        )
        names = [column[0] for column in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))  # the columns are Doc's fields
            row["word_count"] = row["word_count"] or 0
            found[row["id"]] = Doc(**row)
    return found


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def microseconds(value: str) -> int:
    """A stored time as whole microseconds since 1970: `Doc.apart`'s differences, exactly."""
    return (parse_time(value) - _EPOCH) // MICROSECOND


@dataclass(frozen=True)
class Facts:
    """What scoring a pair needs of a document: nothing a dedup pass changes."""

    url: str | None
    content_hash: str
    word_count: int  # 0 when unknown, as `Doc`
    published: int | None  # microseconds since 1970, when it states a date
    created: int

    def apart(self, other: Facts) -> int:
        """`Doc.apart`, in microseconds: publication dates when both have one, else stored."""
        if self.published is not None and other.published is not None:
            return abs(self.published - other.published)
        return abs(self.created - other.created)


@dataclass
class DedupResult:
    """What a dedup pass did."""

    checked: int = 0  # documents decided in this pass
    signatures: int = 0  # signatures computed from a body (new or changed text)
    duplicates: int = 0  # documents that became duplicates
    released: int = 0  # documents that stopped being duplicates
    boilerplate: int = 0  # documents flagged as boilerplate-only
    candidates: int = 0  # candidate pairs scored
    rebanded: int = 0  # signatures re-banded after a threshold change
    threshold: float = DEFAULT_THRESHOLD
    touched_stories: set[int] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        """The counts a run records."""
        return {"near_duplicates": self.duplicates, "boilerplate_only": self.boilerplate}
