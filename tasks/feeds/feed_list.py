"""Editing the feed list in place: add and remove feeds, keeping the comments and layout.

The list stays the one file a user reads and edits (TOML `[[feeds]]` tables, or one URL a line);
nothing about it lives only in the database. TOML is read with tomlkit, which keeps every comment
and blank line, and edited as text blocks, one per `[[feeds]]` table: a comment right above a
table's header belongs to that table and goes with it when it is removed. Every edit is checked
by the loader (`feed_list.load_feed_list`) before it replaces the file, atomically.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT

from newsflow.tasks.feeds.urls import canonical_url

log = logging.getLogger(__name__)


class FeedListError(ValueError):
    """The feed list file is not valid; the message names the file and the entry."""


@dataclass(frozen=True)
class FeedSpec:
    """One feed as the feed list describes it."""

    url: str
    name: str | None = None
    language: str | None = None  # ISO 639-1 hint; detection on the body still decides
    enabled: bool = True
    tags: tuple[str, ...] = ()
    site: str | None = None  # the outlet's web page (OPML `htmlUrl`)


FEED_KEYS = ("url", "name", "language", "enabled", "tags", "site")


_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?")


def feed_url_problem(url: object) -> str | None:
    """Why `url` cannot be a feed's URL (not an http(s) URL with a host), or None."""
    if not isinstance(url, str) or not url.strip().lower().startswith(("http://", "https://")):
        return "must be an http(s) URL"
    if canonical_url(url.strip()) is None:
        return "must be an http(s) URL with a host"
    return None


def load_feed_list(path: Path) -> list[FeedSpec]:
    """The feeds in a feed list: TOML `[[feeds]]` tables, or (any other suffix) one URL per line
    with `#` comments. An absent file is an empty list."""
    if not path.is_file():
        return []
    if path.suffix.lower() != ".toml":
        return _url_lines(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FeedListError(f"{path}: not valid TOML: {error}") from None
    tables = data.get("feeds", [])
    if not isinstance(tables, list):
        raise FeedListError(f"{path}: 'feeds' must be an array of tables ([[feeds]])")
    specs: list[FeedSpec] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, start=1):
        where = f"{path}: feed #{number}"
        spec = feed_spec(table, where=where)
        if spec.url in seen:
            log.warning("%s: %s is listed twice; the first entry is used", where, spec.url)
            continue
        seen.add(spec.url)
        specs.append(spec)
    return specs


def feed_spec(table: object, *, where: str) -> FeedSpec:
    """One `[[feeds]]` table checked and read; FeedListError names `where` and the problem."""
    if not isinstance(table, dict):
        raise FeedListError(f"{where}: must be a table")
    unknown = set(table) - set(FEED_KEYS)
    if unknown:
        raise FeedListError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    url = table.get("url")
    problem = feed_url_problem(url)
    if problem or not isinstance(url, str):
        raise FeedListError(f"{where}: 'url' {problem}, got {url!r}")
    url = url.strip()
    name = table.get("name")
    language = table.get("language")
    enabled = table.get("enabled", True)
    tags = table.get("tags", [])
    site = table.get("site")
    if name is not None and not isinstance(name, str):
        raise FeedListError(f"{where} ({url}): 'name' must be a string")
    if language is not None and not (
        isinstance(language, str) and _LANGUAGE_CODE.fullmatch(language)
    ):
        raise FeedListError(f"{where} ({url}): 'language' must be a code like 'en' or 'de'")
    if not isinstance(enabled, bool):
        raise FeedListError(f"{where} ({url}): 'enabled' must be true or false")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise FeedListError(f"{where} ({url}): 'tags' must be a list of strings")
    if site is not None and feed_url_problem(site):
        raise FeedListError(f"{where} ({url}): 'site' must be an http(s) URL, got {site!r}")
    return FeedSpec(
        url=url,
        name=name,
        language=language.split("-")[0].split("_")[0].lower() if language else None,
        enabled=enabled,
        tags=tuple(tags),
        site=site.strip() if site else None,
    )


def _url_lines(path: Path) -> list[FeedSpec]:
    specs: list[FeedSpec] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        url = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not url:
            continue
        if feed_url_problem(url):
            raise FeedListError(f"{path}:{number}: {url!r} is not an http(s) URL")
        if url not in {spec.url for spec in specs}:
            specs.append(FeedSpec(url=url))
    return specs


_HEADER = re.compile(r"""^[ \t]*\[\[[ \t]*(?:feeds|"feeds"|'feeds')[ \t]*\]\][^\n]*\n?""", re.M)
NEW_LIST_HEADER = (
    "# The feed list: news feeds `newsflow run` fetches. One [[feeds]] table per feed, with\n"
    "# url (required), name, language, enabled, tags and site; see seeds/feeds.toml.\n"
)


def url_key(url: str) -> str:
    """The spelling two URLs of the same feed share (the project's URL normalisation)."""
    return canonical_url(url) or url.strip()


def find_feed(specs: Sequence[FeedSpec], which: str) -> FeedSpec:
    """The one feed whose URL (normalised) or name (case-insensitive) is `which`."""
    by_url = [spec for spec in specs if url_key(spec.url) == url_key(which)]
    if by_url:
        return by_url[0]
    wanted = which.strip().casefold()
    by_name = [spec for spec in specs if spec.name and spec.name.strip().casefold() == wanted]
    if len(by_name) > 1:
        urls = ", ".join(spec.url for spec in by_name)
        raise FeedListError(f"{which!r} names {len(by_name)} feeds ({urls}); give the URL")
    if not by_name:
        raise FeedListError(f"no feed with the URL or name {which!r}")
    return by_name[0]


def add_feeds(path: Path, specs: Sequence[FeedSpec]) -> None:
    """Append feeds to the list at `path` (created when absent); the rest of the file is kept."""
    if not specs:
        return
    text = _read(path)
    if not _is_toml(path):
        for spec in specs:
            if spec.name or spec.language or spec.tags or spec.site or not spec.enabled:
                raise FeedListError(
                    f"{path}: a list of plain URLs cannot hold a name, language, tags, site or"
                    " enabled = false; use a .toml feed list"
                )
        lines = "".join(f"{spec.url}\n" for spec in specs)
        _replace(path, _with_newline(text) + lines)
        return
    if not text.strip():
        text = NEW_LIST_HEADER
    layout = _TomlLayout.parse(path, text)
    blocks = "\n".join(feed_block(spec) for spec in specs)
    _replace(path, layout.appended(blocks))


def remove_feed(path: Path, which: str) -> FeedSpec:
    """Remove the feed whose URL or name is `which` from the list at `path`; return it."""
    spec = find_feed(load_feed_list(path), which)
    text = _read(path)
    if not _is_toml(path):
        kept = [line for line in text.splitlines(keepends=True) if not _is_url_line(line, spec.url)]
        _replace(path, "".join(kept))
        return spec
    layout = _TomlLayout.parse(path, text)
    # Every table with that URL goes: the loader uses the first and ignores later repeats.
    urls = [_table_url(block) for block in layout.blocks]
    doomed = [i for i, url in enumerate(urls) if url is not None and url.strip() == spec.url]
    _replace(path, layout.without(doomed))
    return spec


def feed_block(spec: FeedSpec) -> str:
    """A `[[feeds]]` table for `spec`, in the seed list's key order, values TOML-escaped."""
    lines = ["[[feeds]]"]
    if spec.name:
        lines.append(f"name = {tomlkit.string(spec.name).as_string()}")
    lines.append(f"url = {tomlkit.string(spec.url).as_string()}")
    if spec.language:
        lines.append(f"language = {tomlkit.string(spec.language).as_string()}")
    if not spec.enabled:
        lines.append("enabled = false")
    if spec.tags:
        tags = ", ".join(tomlkit.string(tag).as_string() for tag in spec.tags)
        lines.append(f"tags = [{tags}]")
    if spec.site:
        lines.append(f"site = {tomlkit.string(spec.site).as_string()}")
    return "\n".join(lines) + "\n"


@dataclass
class _TomlLayout:
    """A TOML feed list cut into: what comes before the feeds, one text block per `[[feeds]]`
    table (as tomlkit renders it, so byte for byte the file), and what comes after."""

    prefix: str
    blocks: list[str]
    suffix: str

    @classmethod
    def parse(cls, path: Path, text: str) -> _TomlLayout:
        try:
            document = tomlkit.parse(text)
        except tomlkit.exceptions.TOMLKitError as error:
            raise FeedListError(f"{path}: not valid TOML: {error}") from None
        if "feeds" not in document:
            return cls(text, [], "")
        tables = document["feeds"]
        if not isinstance(tables, AoT):
            raise FeedListError(
                f"{path}: 'feeds' is not written as [[feeds]] tables; edit this file by hand"
            )
        # tomlkit renders a table of an array without its `[[feeds]]` line: find each header
        # line in the text, followed by exactly what tomlkit renders as the table.
        blocks: list[str] = []
        start = end = -1
        for table in tables.body:
            body = table.as_string()
            for header in _HEADER.finditer(text, max(end, 0)):
                if text.startswith(body, header.end()):
                    break
            else:
                raise FeedListError(f"{path}: cannot find the [[feeds]] tables; edit it by hand")
            start = header.start() if start < 0 else start
            end = header.end() + len(body)
            blocks.append(text[header.start() : end])
        return cls(text[:start], blocks, text[end:])

    def appended(self, blocks: str) -> str:
        """The file with `blocks` after the last feed, one blank line before them."""
        body = self.prefix + "".join(self.blocks)
        if not body.strip() or body.endswith("\n\n"):
            separator = ""
        else:
            separator = "\n" if body.endswith("\n") else "\n\n"
        return body + separator + blocks + self.suffix

    def without(self, doomed: Sequence[int]) -> str:
        """The file without the tables at the `doomed` indexes and the comments right above them."""
        # Each table's trailing comment lines (no blank line after them) sit right above the next
        # header: they are that next table's, so move with it.
        heads = [_split_tail(self.prefix)] + [_split_tail(block) for block in self.blocks]
        out = [heads[0][0]]
        for index in range(len(self.blocks)):
            above, body = heads[index][1], heads[index + 1][0]
            if index not in doomed:
                out += [above, body]
        out.append(heads[-1][1])  # comments after the last table belong to no table
        return "".join(out) + self.suffix


def _split_tail(text: str) -> tuple[str, str]:
    """`text` split before its last run of comment lines, when nothing (not even a blank line)
    comes after them."""
    lines = text.splitlines(keepends=True)
    cut = len(lines)
    while cut > 0 and lines[cut - 1].lstrip().startswith("#"):
        cut -= 1
    return "".join(lines[:cut]), "".join(lines[cut:])


def _table_url(block: str) -> str | None:
    try:
        tables = tomlkit.parse(block).get("feeds")
    except tomlkit.exceptions.TOMLKitError:
        return None
    url = tables[0].get("url") if tables else None
    return str(url) if url is not None else None


def _is_url_line(line: str, url: str) -> bool:
    bare = line.strip()
    return bool(bare) and not bare.startswith("#") and bare == url


def _is_toml(path: Path) -> bool:
    return path.suffix.lower() == ".toml"


def _read(path: Path) -> str:
    if not path.exists():
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise FeedListError(f"{path}: not UTF-8 text: {error}") from None
    except OSError as error:
        raise FeedListError(f"{path}: cannot read: {error.strerror}") from None


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, after the loader has accepted it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        load_feed_list(Path(temporary))  # an edit that breaks the list never lands
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Skipped:
    """A feed not added to the list, and why (it is already there, or repeated in the input)."""

    line: int
    url: str
    reason: str


def new_feeds(
    existing: Sequence[FeedSpec], candidates: Sequence[tuple[int, FeedSpec]]
) -> tuple[list[FeedSpec], list[Skipped]]:
    """The candidates (line, spec) not yet in the list, URLs compared normalised; the rest as
    skipped. A feed repeated in the input (one feed in two folders) is added once with the tags
    of every occurrence."""
    listed = {url_key(spec.url): spec for spec in existing}
    added: dict[str, tuple[int, FeedSpec]] = {}
    skipped: list[Skipped] = []
    for line, spec in candidates:
        key = url_key(spec.url)
        if key in listed:
            same = listed[key].url == spec.url
            as_listed = "" if same else f" as {listed[key].url}"
            skipped.append(Skipped(line, spec.url, f"is already in the list{as_listed}"))
        elif key in added:
            first_line, first = added[key]
            tags = tuple(dict.fromkeys((*first.tags, *spec.tags)))
            added[key] = (first_line, replace(first, tags=tags))
            skipped.append(Skipped(line, spec.url, f"repeats line {first_line}"))
        else:
            added[key] = (line, spec)
    return [spec for _, spec in added.values()], skipped
