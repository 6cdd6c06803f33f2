"""Local files to items: walk the seeds folder, read each file safely, extract clean text."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tasks.clean import clean_article
from tasks.dates import find_date
from tasks.language import detect_language
from tasks.models import Item, Reject
from tasks.textio import UndecodableError, decode_bytes, looks_binary, normalise_line

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES
# Configuration and documentation that live beside the articles without being articles.
IGNORED_NAMES = {"feeds.toml", "README.md", "readme.md", ".gitkeep", ".DS_Store"}

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MIN_BODY_CHARS = 40

_BODY_KEYS = ("text", "content", "body", "article", "content_text", "description", "summary")
_DATE_KEYS = ("published_at", "published", "date", "pubDate", "date_published", "updated")


@dataclass(frozen=True)
class FileEntry:
    """A candidate file found under the seeds folder."""

    path: Path  # absolute
    relpath: str  # POSIX path relative to the seeds folder: the document's identity
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        return f"file:{self.relpath}"


def scan_folder(root: Path) -> tuple[list[FileEntry], list[Reject]]:
    """Every article file under `root` (recursively), and rejects for what must not be read."""
    root = root.resolve()
    entries: list[FileEntry] = []
    rejects: list[Reject] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        # A symlinked directory is walked only when it stays inside the root.
        for name in list(dirnames):
            target = here / name
            if target.is_symlink():
                dirnames.remove(name)
                rejects.append(_outside_or_loop(root, target))
        for name in sorted(filenames):
            if name in IGNORED_NAMES or name.startswith("."):
                continue
            path = here / name
            relpath = path.relative_to(root).as_posix()
            if path.is_symlink():
                resolved = path.resolve()
                if not resolved.is_relative_to(root):
                    rejects.append(Reject(relpath, "symlink_outside", detail=str(resolved)))
                    continue
            if path.suffix.lower() not in SUFFIXES:
                rejects.append(Reject(relpath, "unsupported_type", detail=path.suffix or "no suffix"))
                continue
            try:
                stat = path.stat()
            except OSError as error:
                rejects.append(Reject(relpath, "unreadable", detail=str(error)))
                continue
            if not path.is_file():
                rejects.append(Reject(relpath, "not_a_file"))
                continue
            entries.append(FileEntry(path, relpath, stat.st_size, stat.st_mtime_ns))
    return entries, rejects


def _outside_or_loop(root: Path, link: Path) -> Reject:
    relpath = link.relative_to(root).as_posix()
    resolved = link.resolve()
    if resolved.is_relative_to(root):
        return Reject(relpath, "symlink_directory", detail="directory links are not followed")
    return Reject(relpath, "symlink_outside", detail=str(resolved))


def content_hash(body: str) -> str:
    """Hash of the body with case and white space folded: equal hashes are exact duplicates."""
    folded = " ".join(body.casefold().split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def load_file(entry: FileEntry, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[Item], list[Reject]]:
    """Read one file into items (one, or one per JSON record), or rejects saying why not."""
    if entry.size == 0:
        return [], [Reject(entry.relpath, "empty", size=0)]
    if entry.size > max_bytes:
        return [], [Reject(entry.relpath, "too_large", detail=f"{entry.size} > {max_bytes} bytes", size=entry.size)]
    try:
        with entry.path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        return [], [Reject(entry.relpath, "unreadable", detail=str(error), size=entry.size)]
    if len(data) > max_bytes:  # grew since we looked
        return [], [Reject(entry.relpath, "too_large", detail=f"> {max_bytes} bytes", size=len(data))]
    try:
        text = decode_bytes(data)
    except UndecodableError as error:
        return [], [Reject(entry.relpath, "binary", detail=str(error), size=entry.size)]
    if looks_binary(text):
        return [], [Reject(entry.relpath, "binary", detail="mostly control characters", size=entry.size)]

    suffix = entry.path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        items, rejects = _json_items(entry, text)
    elif suffix in HTML_SUFFIXES:
        items, rejects = _html_items(entry, text)
    else:
        items, rejects = _text_items(entry, text)
    for item in items:
        item.file_size = entry.size
        item.file_mtime_ns = entry.mtime_ns
    return items, rejects


def finish_item(item: Item) -> Item:
    """Fill what every item needs before storage: language and content hash."""
    item.language = item.language or detect_language(item.body)
    item.content_hash = content_hash(item.body)
    return item


def _text_items(entry: FileEntry, text: str) -> tuple[list[Item], list[Reject]]:
    article = clean_article(text)
    if len(article.body) < MIN_BODY_CHARS:
        return [], [Reject(entry.relpath, "no_text", detail=f"{len(article.body)} characters of body", size=entry.size)]
    item = Item(
        key=entry.key,
        path=entry.relpath,
        title=article.title,
        body=article.body,
        captions="\n".join(article.captions) or None,
        source=article.source,
        published_at=article.published_at,
        published_raw=article.published_raw,
    )
    return [finish_item(item)], []


def _html_items(entry: FileEntry, text: str) -> tuple[list[Item], list[Reject]]:
    from tasks.extract import extract_html  # trafilatura is heavy: import only for HTML

    extracted = extract_html(text)
    if extracted is None or len(extracted.body) < MIN_BODY_CHARS:
        return [], [Reject(entry.relpath, "no_text", detail="no main text found in HTML", size=entry.size)]
    article = clean_article(extracted.body, title=extracted.title)
    if len(article.body) < MIN_BODY_CHARS:
        return [], [Reject(entry.relpath, "no_text", detail="only boilerplate in HTML", size=entry.size)]
    item = Item(
        key=entry.key,
        path=entry.relpath,
        url=extracted.url,
        title=article.title,
        body=article.body,
        captions="\n".join(article.captions) or None,
        source=article.source or extracted.source,
        published_at=article.published_at or extracted.published_at,
        published_raw=article.published_raw or extracted.published_raw,
    )
    return [finish_item(item)], []


def _json_records(text: str) -> Iterator[tuple[int, object]]:
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if data is not None:
            if isinstance(data, dict):
                data = data.get("items") or data.get("articles") or [data]
            if isinstance(data, list):
                yield from enumerate(data)
                return
    for number, line in enumerate(text.splitlines()):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, error


def _json_items(entry: FileEntry, text: str) -> tuple[list[Item], list[Reject]]:
    items: list[Item] = []
    rejects: list[Reject] = []
    for number, record in _json_records(text):
        location = f"{entry.relpath}#{number}"
        if isinstance(record, json.JSONDecodeError):
            rejects.append(Reject(location, "bad_json", kind="record", detail=str(record)))
            continue
        if not isinstance(record, dict):
            rejects.append(Reject(location, "bad_record", kind="record", detail="not an object"))
            continue
        raw_body = next((record[k] for k in _BODY_KEYS if isinstance(record.get(k), str) and record[k].strip()), "")
        if "<" in raw_body and ">" in raw_body:
            from tasks.extract import html_to_text

            raw_body = html_to_text(raw_body)
        raw_title = record.get("title") if isinstance(record.get("title"), str) else None
        article = clean_article(raw_body, title=normalise_line(raw_title) if raw_title else None)
        if len(article.body) < MIN_BODY_CHARS:
            rejects.append(Reject(location, "no_text", kind="record", detail="record has no article text"))
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
            body=article.body,
            captions="\n".join(article.captions) or None,
            source=source if isinstance(source, str) else article.source,
            published_at=(find_date(raw_date) if raw_date else None) or article.published_at,
            published_raw=raw_date or article.published_raw,
            language=record.get("language") if isinstance(record.get("language"), str) else None,
        )
        items.append(finish_item(item))
    if not items and not rejects:
        rejects.append(Reject(entry.relpath, "no_text", detail="no records", size=entry.size))
    return items, rejects
