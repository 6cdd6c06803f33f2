"""Finding the article files under a folder: only regular files and links that stay inside it, in
batches for the workers."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from newsflow.tasks.store.models import Reject

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}


HTML_SUFFIXES = {".html", ".htm", ".xhtml"}


JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}


SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES


# Configuration and documentation that live beside the articles without being articles.
IGNORED_NAMES = {"feeds.toml", "topics.toml", "README.md", "readme.md", ".gitkeep", ".DS_Store"}


# Folders nested deeper than this below the seeds folder are refused, not walked.
MAX_DEPTH = 32


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
    """Every article file under `root` (recursively), and rejects for what must not be read.

    Never raises for what it finds: links that leave the folder, loop or dangle, names that are
    not UTF-8, folders nested past MAX_DEPTH, unreadable folders and special files are rejects.
    Hidden names and IGNORED_NAMES are skipped without a row.
    """
    root = root.resolve()
    entries: list[FileEntry] = []
    rejects: list[Reject] = []
    # An explicit stack, not os.walk: os.walk recurses, and a hostile tree can be deeper than
    # Python's recursion limit.
    # Each folder carries its path below the root as a string: pathlib's relative_to per file
    # was most of a warm run's scan (5,000 files).
    stack: list[tuple[Path, str, int]] = [(root, "", 0)]
    while stack:
        directory, prefix, depth = stack.pop()
        try:
            with os.scandir(directory) as listing:
                children = sorted(listing, key=lambda child: child.name)
        except OSError as error:
            rejects.append(
                Reject(
                    relative_key(root, directory),
                    "unreadable",
                    kind="directory",
                    detail=error.strerror or str(error),
                )
            )
            continue
        subdirectories: list[tuple[Path, str]] = []
        for child in children:
            if _is_skipped(child.name):
                continue
            path = Path(child.path)
            below = prefix + child.name
            if not _is_utf8(below):
                relpath = printable_path(below)
                rejects.append(Reject(relpath, "bad_name", detail="the file name is not UTF-8"))
                continue
            relpath = below
            try:
                if child.is_symlink():
                    found = _follow_link(root, path, relpath)
                    if isinstance(found, Reject):
                        rejects.append(found)
                    else:
                        entries.append(found)
                    continue
                if child.is_dir(follow_symlinks=False):
                    if depth + 1 > MAX_DEPTH:
                        rejects.append(
                            Reject(
                                relpath,
                                "too_deep",
                                kind="directory",
                                detail=f"more than {MAX_DEPTH} folders deep",
                            )
                        )
                    else:
                        subdirectories.append((path, below + "/"))
                    continue
                found = _regular_file(path, relpath, child.stat(follow_symlinks=False))
            except OSError as error:
                found = Reject(relpath, "unreadable", detail=error.strerror or str(error))
            if isinstance(found, Reject):
                rejects.append(found)
            else:
                entries.append(found)
        stack.extend((sub, below, depth + 1) for sub, below in reversed(subdirectories))
    return entries, rejects


def _is_skipped(name: str) -> bool:
    """Hidden names and IGNORED_NAMES: not articles, and not worth a reject row."""
    return name in IGNORED_NAMES or name.startswith(".")


def count_article_files(root: Path, *, stop_at: int) -> int:
    """Article files under `root` by name alone (no stat, no links followed, no reads), counting
    no further than `stop_at`: a guess at a run's size in milliseconds, before the real scan."""
    count = 0
    stack: list[tuple[str, int]] = [(str(root), 0)]
    while stack and count < stop_at:
        directory, depth = stack.pop()
        try:
            with os.scandir(directory) as listing:
                for child in listing:
                    if _is_skipped(child.name):
                        continue
                    if child.is_dir(follow_symlinks=False):
                        if depth < MAX_DEPTH:
                            stack.append((child.path, depth + 1))
                    elif os.path.splitext(child.name)[1].lower() in SUFFIXES:
                        count += 1
        except OSError:
            continue  # the scan proper records it
    return min(count, stop_at)


def relative_key(root: Path, path: Path) -> str:
    """The POSIX path below root, printable and storable even when the name is not UTF-8."""
    return printable_path(path.relative_to(root).as_posix() if path != root else ".")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def _regular_file(path: Path, relpath: str, info: os.stat_result) -> FileEntry | Reject:
    if path.suffix.lower() not in SUFFIXES:
        return Reject(relpath, "unsupported_type", detail=path.suffix or "no suffix")
    if not stat.S_ISREG(info.st_mode):  # FIFOs, sockets, devices: reading could block forever
        return Reject(relpath, "not_a_file", detail=file_type(info.st_mode))
    return FileEntry(path, relpath, info.st_size, info.st_mtime_ns)


def _follow_link(root: Path, link: Path, relpath: str) -> FileEntry | Reject:
    """A link is read as its own file only when it ends at a regular file inside the root."""
    try:
        resolved = Path(os.path.realpath(link, strict=True))
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Reject(relpath, "symlink_loop", detail=f"-> {os.readlink(link)}")
        if error.errno == errno.ENOENT:
            return Reject(relpath, "broken_symlink", detail=f"-> {os.readlink(link)}")
        return Reject(relpath, "unreadable", detail=error.strerror or str(error))
    if not resolved.is_relative_to(root):
        return Reject(relpath, "symlink_outside", detail=printable_path(str(resolved)))
    info = resolved.stat()
    if stat.S_ISDIR(info.st_mode):
        return Reject(
            relpath,
            "symlink_directory",
            kind="directory",
            detail="links to folders are not followed",
        )
    return _regular_file(link, relpath, info)


def printable_path(text: str) -> str:
    """A path that may not be UTF-8, its undecodable bytes written as escapes."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def plan_batches(
    entries: list[FileEntry], *, max_files: int, max_bytes: int
) -> list[list[FileEntry]]:
    """Split files into batches of at most max_files files and max_bytes bytes (one file more
    when it alone is bigger), so a batch's memory is bounded whatever the folder holds."""
    batches: list[list[FileEntry]] = []
    batch: list[FileEntry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) >= max_files or size + entry.size > max_bytes):
            batches.append(batch)
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        batches.append(batch)
    return batches
