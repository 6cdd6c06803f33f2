"""A digest as data: its entries, sentences with their sources, duplicates and rejects, ready for
any format."""

from __future__ import annotations

from dataclasses import dataclass, field

# What happened to an entry, strongest first: a story shows its strongest document's mark.
MARKS = ("new", "updated", "summarised")


class BadWindow(ValueError):
    """A --date or --since value that is not an ISO date or time."""


@dataclass
class Sentence:
    """One summary sentence and the document and outlet it was taken from."""

    text: str
    outlet: str
    document_id: int


@dataclass
class Source:
    """A document behind an entry: its outlet and where to read it."""

    document_id: int
    outlet: str
    title: str | None
    link: str | None  # an http(s) URL, or None for local files
    location: str  # the URL or the seeds-relative path
    language: str | None
    published_at: str | None
    copies: list[str] = field(default_factory=list)  # outlets that carried an exact copy


@dataclass
class Entry:
    """A story (several documents) or a single document, with its summary."""

    kind: str  # story | document
    id: int
    title: str
    languages: list[str]
    published_at: str | None
    mark: str | None  # new | updated | None (seen in an earlier digest)
    sentences: list[Sentence]
    sources: list[Source]
    summary_method: str | None = None
    status: str | None = None  # the document's summary_status when it has no summary

    @property
    def outlets(self) -> list[str]:
        names = [source.outlet for source in self.sources]
        names += [copy for source in self.sources for copy in source.copies]
        return list(dict.fromkeys(names))


@dataclass
class Duplicate:
    """A document set aside as a copy of another, and why."""

    document_id: int
    outlet: str
    title: str
    canonical_id: int | None
    canonical_title: str | None
    method: str
    score: float | None
    reason: str | None


@dataclass
class Rejected:
    """An input that did not become a document, and why."""

    location: str
    kind: str
    reason: str
    detail: str | None


@dataclass
class Digest:
    """Everything a digest shows, ready to render as Markdown, HTML or JSON."""

    title: str
    generated_at: str
    window_start: str | None
    window_end: str | None
    previous_digest_at: str | None
    entries: list[Entry]
    by_language: dict[str, int]
    by_source: dict[str, int]
    by_day: dict[str, int]
    duplicates: list[Duplicate]
    rejects: list[Rejected]
    counts: dict[str, int] = field(default_factory=dict)
    more: int = 0  # documents in the window left out of `entries` by a limit
    notes: list[str] = field(default_factory=list)

    @property
    def new_entries(self) -> int:
        return sum(1 for entry in self.entries if entry.mark)
