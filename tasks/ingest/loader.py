"""Local files to items: walk the seeds folder, read each file safely, extract clean text."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from newsflow.tasks.common.dates import find_date
from newsflow.tasks.common.headline import headline_body
from newsflow.tasks.common.textio import (
    UndecodableError,
    decode_bytes,
    looks_binary,
    normalise_line,
)
from newsflow.tasks.ingest.clean import clean_article
from newsflow.tasks.ingest.language import Identified, identify, usual_language
from newsflow.tasks.ingest.scan import (
    HTML_SUFFIXES,
    JSON_SUFFIXES,
    FileEntry,
    file_type,
    printable_path,
    relative_key,
)
from newsflow.tasks.store.models import Item, Reject

log = logging.getLogger(__name__)


DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # files larger than this are refused from their size, unread
MIN_BODY_CHARS = 40
# About 15,000 words, longer than any news article. LexRank's cost grows with the square of the
# sentence count (100,000 characters: ~4 s; 200,000: ~18 s; 2 MB: hours), so longer bodies are
# refused rather than allowed to stall a run.
MAX_BODY_CHARS = 100_000

_SURROGATE = re.compile("[\ud800-\udfff]")
_BODY_KEYS = ("text", "content", "body", "article", "content_text", "description", "summary")
_DATE_KEYS = ("published_at", "published", "date", "pubDate", "date_published", "updated")


def content_hash(body: str) -> str:
    """Hash of the body with case and white space folded: equal hashes are exact duplicates."""
    folded = " ".join(body.casefold().split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def load_file(
    entry: FileEntry, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Item], list[Reject]]:
    """Read one file into items (one, or one per JSON record), or rejects saying why not.

    Never raises: one bad file must not stop a run, so an unexpected error refuses the file.
    """
    try:
        return _load_file(entry, max_bytes)
    except Exception as error:  # the last line of defence; the fuzz test keeps it unused
        log.exception("refusing %s after an unexpected error", entry.relpath)
        detail = f"{type(error).__name__}: {error}"[:500]
        return [], [Reject(entry.relpath, "internal_error", detail=detail, size=entry.size)]


def load_path(
    root: Path, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Item], list[Reject]]:
    """load_file for a path found by an earlier scan_folder; it may have changed or gone since."""
    root = root.resolve()
    relpath = relative_key(root, path)
    try:
        info = path.stat()
    except OSError as error:
        return [], [Reject(relpath, "unreadable", detail=error.strerror or str(error))]
    return load_file(FileEntry(path, relpath, info.st_size, info.st_mtime_ns), max_bytes=max_bytes)


def _load_file(entry: FileEntry, max_bytes: int) -> tuple[list[Item], list[Reject]]:
    # Decide from the size first, so an oversized file is never read at all.
    if entry.size == 0:
        return [], [Reject(entry.relpath, "empty", size=0)]
    if entry.size > max_bytes:
        return [], [_too_large(entry.relpath, entry.size, max_bytes)]
    read = _read(entry, max_bytes)
    if isinstance(read, Reject):
        return [], [read]
    data, info = read
    size = info.st_size
    try:
        text = decode_bytes(data)
    except UndecodableError as error:
        return [], [Reject(entry.relpath, "binary", detail=str(error), size=size)]
    del data  # the decoded text is all we keep: one copy of a large file, not two
    if looks_binary(text):
        return [], [Reject(entry.relpath, "binary", detail="mostly control characters", size=size)]

    suffix = entry.path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        items, rejects = _json_items(entry, text)
    elif suffix in HTML_SUFFIXES:
        items, rejects = _html_items(entry, text)
    else:
        items, rejects = _text_items(entry, text)
    kept: list[Item] = []
    for item in items:
        if len(item.body) > MAX_BODY_CHARS:
            # Summaries cost the square of the sentence count: an "article" this long would
            # hold up the run for hours. No real news article comes near it.
            location = item.path or entry.relpath
            rejects.append(
                Reject(
                    location,
                    "too_long",
                    kind="file" if location == entry.relpath else "record",
                    detail=f"{len(item.body)} > {MAX_BODY_CHARS} characters of body",
                    size=size,
                )
            )
            continue
        item.file_size = size
        item.file_mtime_ns = info.st_mtime_ns
        kept.append(item)
    return kept, rejects


def _too_large(relpath: str, size: int, max_bytes: int) -> Reject:
    return Reject(relpath, "too_large", detail=f"{size} > {max_bytes} bytes", size=size)


def _read(entry: FileEntry, max_bytes: int) -> tuple[bytes, os.stat_result] | Reject:
    """At most max_bytes + 1 bytes of a regular file inside the root, with its stat."""
    if entry.path.is_symlink():
        # Checked when scanned; check again, the link may have been changed since.
        root = entry.path.parents[len(PurePosixPath(entry.relpath).parts) - 1]
        resolved = Path(os.path.realpath(entry.path))
        if not resolved.is_relative_to(root.resolve()):
            return Reject(entry.relpath, "symlink_outside", detail=printable_path(str(resolved)))
    # O_NONBLOCK: a FIFO swapped in after the scan opens at once instead of waiting for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(entry.path, flags)
    except OSError as error:
        return Reject(
            entry.relpath, "unreadable", detail=error.strerror or str(error), size=entry.size
        )
    with open(descriptor, "rb", closefd=True) as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return Reject(entry.relpath, "not_a_file", detail=file_type(info.st_mode))
        if info.st_size == 0:
            return Reject(entry.relpath, "empty", size=0)
        if info.st_size > max_bytes:  # grew since the scan
            return _too_large(entry.relpath, info.st_size, max_bytes)
        try:
            # The size it has and a byte more, to see it grow (reading max_bytes + 1 at once
            # allocated a 5 MB buffer per file); if it grew, on as far as the limit.
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += handle.read(max_bytes + 1 - len(data))
        except OSError as error:
            return Reject(
                entry.relpath, "unreadable", detail=error.strerror or str(error), size=info.st_size
            )
    if len(data) > max_bytes:  # still growing while we read
        return _too_large(entry.relpath, len(data), max_bytes)
    return data, info


def finish_item(item: Item) -> Item:
    """Fill what every item needs before storage: language and content hash; a language the item
    already has is the declared one, which the body overrides only when it is long enough."""
    return _finish(item)[0]


def _finish(item: Item) -> tuple[Item, Identified]:
    """finish_item, and how the language was found (to learn an outlet's usual language)."""
    # JSON escapes can carry lone surrogates ("\ud800"), which SQLite and hashing cannot encode.
    for name in ("key", "title", "body", "path", "url", "captions", "language", "source",
                 "published_raw"):  # fmt: skip
        value = getattr(item, name)
        if isinstance(value, str):
            setattr(item, name, _scrub(value))
    identified = identify(item.body, hint=item.language)
    item.language = identified.code
    item.content_hash = content_hash(item.body)
    return item, identified


def _scrub(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _text_items(entry: FileEntry, text: str) -> tuple[list[Item], list[Reject]]:
    article = clean_article(text)
    body = _body_or_headline(article.title, article.body)
    if body is None:
        return [], [
            Reject(
                entry.relpath,
                "no_text",
                detail=f"{len(article.body)} characters of body and no headline",
                size=entry.size,
            )
        ]
    item = Item(
        key=entry.key,
        path=entry.relpath,
        title=article.title,
        body=body,
        headline_only=len(article.body) < MIN_BODY_CHARS,
        captions="\n".join(article.captions) or None,
        source=article.source,
        published_at=article.published_at,
        published_raw=article.published_raw,
    )
    return [finish_item(item)], []


def _html_items(entry: FileEntry, text: str) -> tuple[list[Item], list[Reject]]:
    from newsflow.tasks.ingest.extract import (
        extract_html,  # trafilatura is heavy: import only for HTML
    )

    extracted = extract_html(text)
    if extracted is None or (len(extracted.body) < MIN_BODY_CHARS and not extracted.title):
        return [], [
            Reject(entry.relpath, "no_text", detail="no main text found in HTML", size=entry.size)
        ]
    article = clean_article(extracted.body, title=extracted.title)
    # A page with some main text, too little of it, and a headline: a headline-only document.
    # A page where trafilatura finds no main text at all (above) is not an article page.
    body = _body_or_headline(article.title, article.body)
    if body is None:
        return [], [
            Reject(entry.relpath, "no_text", detail="only boilerplate in HTML", size=entry.size)
        ]
    item = Item(
        key=entry.key,
        path=entry.relpath,
        url=extracted.url,
        title=article.title,
        body=body,
        headline_only=len(article.body) < MIN_BODY_CHARS,
        captions="\n".join(article.captions) or None,
        source=article.source or extracted.source,
        published_at=article.published_at or extracted.published_at,
        published_raw=article.published_raw or extracted.published_raw,
    )
    return [finish_item(item)], []


@dataclass(frozen=True)
class _BadJson:
    error: str


def _parse_json(text: str) -> object:
    """The parsed value, or _BadJson: deep nesting and oversized numbers are errors too."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        return _BadJson(f"{type(error).__name__}: {error}"[:300])


def _json_records(text: str) -> list[tuple[int, object]] | _BadJson:
    """(number, record) pairs from a JSON document or JSON Lines; _BadJson if nothing parses."""
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        data = _parse_json(text)
        if isinstance(data, dict):
            for name in ("items", "articles"):
                if isinstance(data.get(name), list):
                    data = data[name]
                    break
            else:
                data = [data]
        if isinstance(data, list):
            return list(enumerate(data))
    # JSON Lines. Split on newlines only: str.splitlines would also break at U+2028 and other
    # separators that JSON allows unescaped inside strings.
    records = [
        (number, _parse_json(line)) for number, line in enumerate(text.split("\n")) if line.strip()
    ]
    if records and all(isinstance(record, _BadJson) for _, record in records):
        return records[0][1]  # type: ignore[return-value]
    return records


def _json_items(entry: FileEntry, text: str) -> tuple[list[Item], list[Reject]]:
    found: list[tuple[Item, Identified]] = []
    rejects: list[Reject] = []
    records = _json_records(text)
    if isinstance(records, _BadJson):
        return [], [Reject(entry.relpath, "bad_json", detail=records.error, size=len(text))]
    for number, record in records:
        location = f"{entry.relpath}#{number}"
        if isinstance(record, _BadJson):
            rejects.append(Reject(location, "bad_json", kind="record", detail=record.error))
            continue
        if not isinstance(record, dict):
            rejects.append(Reject(location, "bad_record", kind="record", detail="not an object"))
            continue
        raw_body = next(
            (record[k] for k in _BODY_KEYS if isinstance(record.get(k), str) and record[k].strip()),
            "",
        )
        if "<" in raw_body and ">" in raw_body:
            from newsflow.tasks.ingest.extract import html_to_text

            raw_body = html_to_text(raw_body)
        raw_title = record.get("title") if isinstance(record.get("title"), str) else None
        article = clean_article(raw_body, title=normalise_line(raw_title) if raw_title else None)
        body = _body_or_headline(article.title, article.body)
        if body is None:
            rejects.append(
                Reject(
                    location,
                    "no_text",
                    kind="record",
                    detail="record has no article text and no headline",
                )
            )
            continue
        url = record.get("url") or record.get("link")
        url = url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
        raw_date = next((str(record[k]) for k in _DATE_KEYS if record.get(k)), None)
        source = record.get("source")
        if isinstance(source, dict):
            source = source.get("name") or source.get("title")
        item = Item(
            key=url or f"file:{location}",
            path=location,
            url=url,
            title=article.title,
            body=body,
            headline_only=len(article.body) < MIN_BODY_CHARS,
            captions="\n".join(article.captions) or None,
            source=source if isinstance(source, str) else article.source,
            published_at=(find_date(raw_date) if raw_date else None) or article.published_at,
            published_raw=raw_date or article.published_raw,
            language=record.get("language") if isinstance(record.get("language"), str) else None,
        )
        found.append(_finish(item))
    if not found and not rejects:
        rejects.append(Reject(entry.relpath, "no_text", detail="no records", size=entry.size))
    return fill_usual_languages(found), rejects


def fill_usual_languages(found: list[tuple[Item, Identified]]) -> list[Item]:
    """Items the text could not name a language for take their outlet's usual one (the language
    of its confidently identified items here), else the usual one of all of them (the file's)."""
    confident = [(item.source, known.code) for item, known in found if known.confident]
    by_source: dict[str | None, list[str | None]] = {}
    for source, code in confident:
        by_source.setdefault(source, []).append(code)
    usual = {source: usual_language(codes) for source, codes in by_source.items()}
    overall = usual_language(code for _, code in confident)
    for item, _identified in found:
        if item.language is None:
            item.language = usual.get(item.source) or overall
    return [item for item, _ in found]


def _body_or_headline(title: str | None, body: str) -> str | None:
    """The body itself when it is long enough to be an article; else the headline-only body
    (tasks/common/headline.py), or None when there is no headline either."""
    if len(body) >= MIN_BODY_CHARS:
        return body
    return headline_body(title, body)
