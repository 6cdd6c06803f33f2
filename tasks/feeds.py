"""Feeds as data: the feed list (TOML), and RSS, Atom, RDF and JSON Feed bytes parsed into entries.

Parsing never trusts the feed: ill-formed XML (feedparser's `bozo`) still yields what it can and
says why; every entry gets a stable identity (guid → canonical link → hash of title and date);
titles and text come out as clean plain text; dates come out in UTC with the original string kept.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import re
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tasks.dates import MONTHS, find_date
from tasks.extract import html_to_text
from tasks.fetch import GZIP_MAGIC, gunzip_capped
from tasks.headline import headline_body
from tasks.language import Identified, identify
from tasks.models import Item
from tasks.textio import decode_bytes, normalise_line
from tasks.urls import canonical_url

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 10 * 1024 * 1024  # a gzip body sent without Content-Encoding is capped too
# feedparser spends about 300 bytes and 10-30 µs on every tag or unknown entity reference: 9 MB of
# '<p>' took 2 minutes and 1.2 GB, while a real 10 MB full-content feed holds about 430,000 tags.
MAX_FEED_MARKUP = 500_000
# trafilatura's cost grows faster than the tag count (40,000 paragraphs: 6 s; 450,000: minutes).
MAX_PAGE_MARKUP = 60_000
MAX_ENTRIES = 1_000  # entries read from one feed body per run; the rest are counted as cut
MAX_TITLE_CHARS = 500  # longer titles are cut (no headline comes near it)
MAX_ID_CHARS = 2_048  # a longer guid or link is not an identity (it would become a huge key)
MAX_DATE_CHARS = 200
TEASER_WORDS = 120  # fewer words than this and the entry is a teaser: fetch the article page
FUTURE_TOLERANCE = timedelta(days=1)  # time zones and clock skew, not "next week"
JSON_FEED_PREFIX = "https://jsonfeed.org/version/1"

# --- the feed list --------------------------------------------------------------------------------


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


# --- parsed feeds ---------------------------------------------------------------------------------


@dataclass
class FeedEntry:
    """One entry of a feed, as clean text with a stable identity."""

    key: str  # documents.key: canonical URL, 'guid:…' or 'hash:…'
    identity: str  # guid | link | hash: which rule produced the key
    guid: str | None
    url: str | None  # canonical link to the article
    title: str | None
    text: str  # plain text, paragraphs separated by a blank line
    published_at: str | None  # ISO 8601 UTC
    published_raw: str | None  # the date as the feed wrote it
    date_problem: str | None = None  # future | unparsed
    author: str | None = None
    language: str | None = None  # the feed's or entry's declared language
    entry_hash: str = ""  # what the feed says about the entry; changes when the entry is edited

    @property
    def is_teaser(self) -> bool:
        """Too little text to be the article: the page should be fetched for the full text."""
        return len(self.text.split()) < TEASER_WORDS or bool(_TRUNCATED.search(self.text[-40:]))


@dataclass
class ParsedFeed:
    """What a feed body holds, or why it is not a feed."""

    url: str
    is_feed: bool
    format: str | None = None  # rss20, atom10, rss10, json11, ...
    title: str | None = None
    link: str | None = None
    language: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    bozo: bool = False
    bozo_error: str | None = None
    encoding: str | None = None
    problem: str | None = None  # why the body is not a feed
    repeated: int = 0  # entries dropped because the same entry appeared twice
    cut: int = 0  # entries past the per-run cap (`max_entries`), not read


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: dict[str, str] | None = None,
    scope: str | None = None,
    now: datetime | None = None,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """Parse a feed body (RSS 0.9x/1.0/2.0, Atom, JSON Feed 1.0/1.1) fetched from `url`.

    `url` is the final URL (relative links resolve against it); `scope` is the feed's own URL,
    which keys entries whose guid is only unique within the feed (defaults to `url`). Only the
    first `max_entries` entries are read; `cut` counts the rest.
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    now = now or datetime.now(UTC)
    if body.startswith(GZIP_MAGIC):  # gzipped file served without Content-Encoding
        try:
            body = gunzip_capped(body, MAX_FEED_BYTES)
        except (ValueError, EOFError) as error:
            return ParsedFeed(url=url, is_feed=False, problem=f"gzip body: {error}")
    if _looks_like_json(body, headers.get("content-type", "")):
        return parse_json_feed(body, url=url, scope=scope, now=now, max_entries=max_entries)
    markup = markup_count(body)
    if markup > MAX_FEED_MARKUP:
        return ParsedFeed(
            url=url,
            is_feed=False,
            problem=f"refused: {markup} tags and entity references (over {MAX_FEED_MARKUP}),"
            " too costly to parse",
        )
    body, dropped = drop_entity_declarations(body)
    body = _BAD_CHAR_REF.sub(_char_ref, body)
    parsed = _parse_xml_feed(
        body, url=url, headers=headers, scope=scope or url, now=now, max_entries=max_entries
    )
    if dropped:
        # Declared entities are how "billion laughs" and external-entity (XXE) attacks start; no
        # real feed needs them, so they are removed unread and their references stay literal.
        note = "DOCTYPE entity declarations removed"
        parsed.bozo = True
        parsed.bozo_error = f"{note}; {parsed.bozo_error}" if parsed.bozo_error else note
    return parsed


_PREDEFINED_REFS = (b"&amp;", b"&lt;", b"&gt;", b"&quot;", b"&apos;", b"&#")


def markup_count(body: bytes) -> int:
    """Tags plus references to entities XML does not predefine: what a parser spends its time on."""
    return body.count(b"<") + body.count(b"&") - sum(body.count(r) for r in _PREDEFINED_REFS)


_INTERNAL_SUBSET_END = re.compile(rb"\]\s*>")
_BAD_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")
_NOT_TEXT = re.compile("[\ufffe\uffff\ud800-\udfff]")  # noncharacters and lone surrogates


def _char_ref(match: re.Match[bytes]) -> bytes:
    # feedparser turns '&#xD800;' into a lone surrogate (which no database or encoder accepts)
    # and '&#x110000;' into a crash: references to what is not a character become U+FFFD.
    hexa, decimal = match.groups()
    code = int(hexa, 16) if hexa else int(decimal)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
        return b"&#xFFFD;"
    return match.group(0)


def _text_only(value: Any) -> Any:
    """A parsed JSON value with lone surrogates ('\\ud800' escapes) replaced by U+FFFD."""
    if isinstance(value, str):
        return _NOT_TEXT.sub("\ufffd", value)
    if isinstance(value, list):
        return [_text_only(v) for v in value]
    if isinstance(value, dict):
        return {_text_only(k): _text_only(v) for k, v in value.items()}
    return value


def drop_entity_declarations(body: bytes) -> tuple[bytes, bool]:
    """The body minus a DOCTYPE whose internal subset declares entities; whether one was there."""
    start = body.find(b"<!DOCTYPE")
    if start < 0:
        return body, False
    bracket, close = body.find(b"[", start), body.find(b">", start)
    if bracket < 0 or 0 <= close < bracket:  # no internal subset: <!DOCTYPE rss PUBLIC "…" "…">
        return body, False
    end = _INTERNAL_SUBSET_END.search(body, bracket)
    stop = end.end() if end else len(body)
    if b"<!ENTITY" not in body[bracket:stop]:
        return body, False
    return body[:start] + body[stop:], True


def _looks_like_json(body: bytes, content_type: str) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start == b"{" or ("json" in content_type.lower() and start in (b"{", b"["))


def read_with_feedparser(body: bytes, *, url: str, headers: dict[str, str]) -> Any:
    """feedparser's reading of a body, given as bytes with the response headers (the final URL as
    Content-Location), with one repair attempt when an ill-formed body yields no entries."""
    import feedparser  # heavy import, only where feeds are parsed

    # Bytes plus headers: feedparser then weighs the HTTP charset against the XML declaration and
    # resolves relative links against the final URL, as if it had fetched the feed itself.
    response_headers = dict(headers) | {"content-location": url}
    response_headers.setdefault("content-type", "application/xml")
    parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    if parsed.get("bozo") and not parsed.get("entries"):
        repaired = _repair_xml(body)
        if repaired is not None:
            second = feedparser.parse(io.BytesIO(repaired), response_headers=response_headers)
            if second.get("entries"):
                log.info(
                    "%s: ill-formed feed read after repair (%s)", url, parsed.get("bozo_exception")
                )
                second["bozo"], second["bozo_exception"] = 1, parsed.get("bozo_exception")
                parsed = second
    return parsed


def _parse_xml_feed(
    body: bytes,
    *,
    url: str,
    headers: dict[str, str],
    scope: str,
    now: datetime,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    parsed = read_with_feedparser(body, url=url, headers=headers)
    bozo_error = str(parsed.get("bozo_exception") or "") or None if parsed.get("bozo") else None
    feed_info = parsed.get("feed", {})
    result = ParsedFeed(
        url=url,
        is_feed=bool(parsed.get("version")) or bool(parsed.get("entries")),
        format=parsed.get("version") or None,
        title=_clean_title(feed_info.get("title"), feed_info.get("title_detail")),
        link=canonical_url(feed_info.get("link"), base=url),
        language=_language_code(feed_info.get("language")),
        bozo=bool(parsed.get("bozo")),
        bozo_error=bozo_error,
        encoding=parsed.get("encoding"),
    )
    if not result.is_feed:
        kind = headers.get("content-type", "").split(";")[0].strip() or "unknown type"
        result.problem = f"not a feed ({kind}): {bozo_error or 'no RSS, Atom or RDF root'}"
        return result
    found = parsed.get("entries", [])
    result.cut = max(0, len(found) - max_entries)
    raw_entries = [_xml_entry(entry, base=url, now=now) for entry in found[:max_entries]]
    result.entries, result.repeated = assign_identities(raw_entries, feed_url=scope)
    for entry in result.entries:
        entry.language = entry.language or result.language
    return result


_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF|RDF)[\s>]")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']?([A-Za-z0-9_.:-]+)""")


def _repair_xml(body: bytes) -> bytes | None:
    """A second chance for feeds that feedparser reads as empty: junk before the root element
    (doubled XML declarations) dropped, undeclared `rss:` prefixes removed."""
    root = _ROOT.search(body)
    if root is None:
        return None
    declared = _DECLARED_ENCODING.search(body[: root.start()])
    encoding = declared.group(1) if declared else b"utf-8"
    repaired = body[root.start() :]
    if b"xmlns:rss" not in repaired:
        repaired = re.sub(rb"<(/?)rss:", rb"<\1", repaired)
        repaired = re.sub(rb"\srss:(\w+=)", rb" \1", repaired)
    return b'<?xml version="1.0" encoding="' + encoding + b'"?>\n' + repaired


def parse_json_feed(
    body: bytes,
    *,
    url: str,
    scope: str | None = None,
    now: datetime | None = None,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """Parse JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    now = now or datetime.now(UTC)
    try:
        data = _text_only(json.loads(decode_bytes(body)))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        return ParsedFeed(
            url=url,
            is_feed=False,
            bozo=True,
            bozo_error=str(error),
            problem=f"not a feed: invalid JSON: {error}",
        )
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version.startswith(JSON_FEED_PREFIX):
        return ParsedFeed(
            url=url, is_feed=False, problem="not a feed: JSON without a jsonfeed.org version"
        )
    home = data.get("home_page_url") if isinstance(data.get("home_page_url"), str) else None
    base = data.get("feed_url") if isinstance(data.get("feed_url"), str) else url
    result = ParsedFeed(
        url=url,
        is_feed=True,
        format="json" + version.rsplit("/", 1)[-1].replace(".", ""),
        title=_clean_title(_str(data.get("title")), _PLAIN),
        link=canonical_url(home, base=url),
        language=_language_code(data.get("language")),
    )
    items = data.get("items")
    if not isinstance(items, list):
        result.bozo, result.bozo_error = True, "'items' is missing or not a list"
        items = []
    entries = []
    result.cut = max(0, len(items) - max_entries)
    for item in items[:max_entries]:
        if isinstance(item, dict):
            entries.append(_json_entry(item, base=canonical_url(base, base=url) or url, now=now))
        else:
            result.bozo, result.bozo_error = True, "an item is not an object"
    result.entries, result.repeated = assign_identities(entries, feed_url=scope or url)
    for entry in result.entries:
        entry.language = entry.language or result.language
    return result


# --- entries --------------------------------------------------------------------------------------


def _xml_entry(entry: Any, *, base: str, now: datetime) -> FeedEntry:
    guid = _identity_or_none(_text_or_none(entry.get("id")))
    link = _identity_or_none(canonical_url(_str(entry.get("link")), base=base))
    if link is None:
        alternate = next(
            (x.get("href") for x in entry.get("links", []) if x.get("rel") == "alternate"), None
        )
        link = _identity_or_none(canonical_url(_str(alternate), base=base))
    title = _clean_title(entry.get("title"), entry.get("title_detail"))
    candidates = [c.get("value", "") for c in entry.get("content", []) if isinstance(c, dict)]
    candidates.append(entry.get("summary", "") or "")
    texts = [clean_text(c) for c in candidates if c]
    text = max(texts, key=len) if texts else ""
    raw_dates = [
        (entry.get(name), entry.get(f"{name}_parsed"))
        for name in ("published", "updated", "created")
        if entry.get(name)
    ]
    author = _text_or_none(entry.get("author"))
    return _entry(
        guid=guid,
        link=link,
        title=title,
        text=text,
        raw_dates=raw_dates,
        author=html.unescape(author) if author else None,
        language=_text_or_none(entry.get("language")),
        now=now,
    )


def _json_entry(item: dict[str, Any], *, base: str, now: datetime) -> FeedEntry:
    guid = item.get("id")
    guid = str(guid).strip() if isinstance(guid, str | int) and str(guid).strip() else None
    guid = _identity_or_none(guid)
    link = _identity_or_none(canonical_url(_str(item.get("url")), base=base)) or _identity_or_none(
        canonical_url(_str(item.get("external_url")), base=base)
    )
    title = _clean_title(_str(item.get("title")), _PLAIN)  # plain text, says the spec
    candidates = [
        clean_text(_str(item.get("content_html")) or ""),
        clean_text(_str(item.get("content_text")) or "", is_html=False),
        clean_text(_str(item.get("summary")) or "", is_html=False),
    ]
    text = max(candidates, key=len)
    raw_dates = [(item.get(n), None) for n in ("date_published", "date_modified") if item.get(n)]
    authors = item.get("authors") or (
        [item["author"]] if isinstance(item.get("author"), dict) else []
    )
    author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")), None)
    return _entry(
        guid=guid,
        link=link,
        title=title,
        text=text,
        raw_dates=raw_dates,
        author=author,
        language=_str(item.get("language")),
        now=now,
    )


def _entry(
    *,
    guid: str | None,
    link: str | None,
    title: str | None,
    text: str,
    raw_dates: list[tuple[Any, Any]],
    author: str | None,
    language: str | None,
    now: datetime,
) -> FeedEntry:
    """A FeedEntry from what any feed format says of an entry (identity is assigned later)."""
    published_at, published_raw, problem = _pick_date(raw_dates, now=now)
    return FeedEntry(
        key="",
        identity="",
        guid=guid,
        url=link,
        title=title,
        text=_drop_repeated_title(text, title),
        published_at=published_at,
        published_raw=published_raw,
        date_problem=problem,
        author=author,
        language=_language_code(language),
    )


def assign_identities(entries: list[FeedEntry], *, feed_url: str) -> tuple[list[FeedEntry], int]:
    """Give each entry its key (guid → canonical link → hash of title and date); drop repeats.

    A guid shared by entries with different links or titles is not an identity (a feed bug seen
    in the wild); those entries fall back to their link. The same entry listed twice is kept once.
    """
    feed = canonical_url(feed_url) or feed_url
    shared = Counter(e.guid for e in entries if e.guid)
    shapes: dict[str, set[tuple[str | None, str | None]]] = {}
    for entry in entries:
        if entry.guid:
            shapes.setdefault(entry.guid, set()).add((entry.url, entry.title))
    kept: list[FeedEntry] = []
    keys: set[str] = set()
    repeated = 0
    for entry in entries:
        guid_usable = entry.guid and (shared[entry.guid] == 1 or len(shapes[entry.guid]) == 1)
        if guid_usable and entry.guid:
            entry.key, entry.identity = _guid_key(entry.guid, feed), "guid"
        elif entry.url:
            entry.key, entry.identity = entry.url, "link"
        else:
            seed = f"{entry.title or ''}\n{entry.published_raw or ''}\n{entry.text[:200]}"
            digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]
            entry.key, entry.identity = f"hash:{feed}#{digest}", "hash"
        if entry.key in keys:
            repeated += 1
            continue
        keys.add(entry.key)
        entry.entry_hash = _entry_hash(entry)
        kept.append(entry)
    return kept, repeated


def _guid_key(guid: str, feed: str) -> str:
    # A guid that is a URL, a tag: or a urn: URI is globally unique by design; a bare string such
    # as '12345' is only unique within its feed.
    as_url = canonical_url(guid)
    if as_url:
        return as_url
    if re.match(r"^(?:tag|urn):", guid, re.IGNORECASE):
        return guid
    return f"guid:{feed}#{guid}"


def _entry_hash(entry: FeedEntry) -> str:
    parts = [entry.key, entry.url or "", entry.title or "", entry.text, entry.published_raw or ""]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


# --- text -----------------------------------------------------------------------------------------

# Feed furniture appended to entries: "The post … appeared first on …", "Continue reading →", …
_FURNITURE = re.compile(
    r"""^(?:
        the\ post\ .{1,300}\ appeared\ first\ on\ .{1,120}
      | (?:continue\ reading|read\ (?:the\ )?(?:full|more|rest)|weiterlesen|mehr\ lesen).{0,80}
      | \(?more…?\)?
      | \[(?:…|\.\.\.)\]
      | (?:article|comments)\ url:.*
      | (?:points|\#\ comments):\ \d+
      | \d+\ comments?
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_PLAIN = {"type": "text/plain"}
_TRUNCATED = re.compile(r"(?:…|\.\.\.|\[…\]|\[\.\.\.\]|\(more…?\))\s*$")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_MOJIBAKE = re.compile(
    r"[ÃÂâÅÐÑ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)  # noqa: E501


def clean_text(fragment: str, *, is_html: bool = True) -> str:
    """Plain text of a feed's HTML or text: no tags or entities, mojibake repaired, tidy lines."""
    if not fragment:
        return ""
    text = html_to_text(fragment) if is_html else fragment
    text = fix_mojibake(text)
    paragraphs = []
    for line in text.splitlines():
        line = normalise_line(line)
        if line and not _FURNITURE.match(line):
            paragraphs.append(line)
    return _NOT_TEXT.sub("", "\n\n".join(paragraphs))


def _clean_title(value: str | None, detail: dict[str, Any] | None) -> str | None:
    if not value:
        return None
    value = value[: MAX_TITLE_CHARS * 20]  # cleaning a 9 MB "headline" would only waste time
    # feedparser has already decoded a text/plain title; markup only matters in (x)html ones.
    kind = (detail or {}).get("type") or "text/html"
    text = value if kind == "text/plain" else html_to_text(value)
    if _ENTITY.search(text):  # double-escaped titles ("AT&amp;amp;T") are common
        text = html.unescape(text)
    text = _NOT_TEXT.sub("", normalise_line(" ".join(fix_mojibake(text).split())))
    if len(text) > MAX_TITLE_CHARS:
        log.info("cut a title of %d characters to %d", len(text), MAX_TITLE_CHARS)
        text = text[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return text or None


def fix_mojibake(text: str) -> str:
    """Repair UTF-8 decoded as Windows-1252/Latin-1 ('FÃ¼r' → 'Für'), when it clearly is that."""
    if not _MOJIBAKE.search(text):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            repaired = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        if len(_MOJIBAKE.findall(repaired)) < len(_MOJIBAKE.findall(text)):
            return repaired
    return text


def _drop_repeated_title(text: str, title: str | None) -> str:
    if title and text:
        first, _, rest = text.partition("\n\n")
        if first.casefold() == title.casefold() and rest:
            return rest
    return text


def _identity_or_none(value: str | None) -> str | None:
    return value if value is None or len(value) <= MAX_ID_CHARS else None


def _text_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _language_code(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    code = re.split(r"[-_]", value.strip())[0].lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


# --- dates ----------------------------------------------------------------------------------------

_WEEKDAY_PREFIX = re.compile(r"^\s*[^\W\d_]{2,12}\.?,\s*")
_WORD = re.compile(r"[^\W\d_]+\.?")
_DAY_DOT = re.compile(r"^(\d{1,2})\.\s")  # German ordinal day: "3. Mai 2023"
_TWELVE_HOUR = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])\b")
_ZONES = {
    "CET": "+0100",
    "MEZ": "+0100",
    "CEST": "+0200",
    "MESZ": "+0200",
    "BST": "+0100",
    "EET": "+0200",
    "EEST": "+0300",
    "WET": "+0000",
    "WEST": "+0100",
    "UTC": "+0000",
}
_ENGLISH_MONTHS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]
_EXTRA_MONTHS = {
    "mrz": 3,
    "janv": 1,
    "févr": 2,
    "fevr": 2,
    "mars": 3,
    "avr": 4,
    "juin": 6,
    "juil": 7,
    "août": 8,
    "aout": 8,
    "déc": 12,
    "janvier": 1,
    "février": 2,
    "avril": 4,
    "juillet": 7,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
}


def parse_date(raw: str) -> datetime | None:
    """An aware UTC datetime from a feed date: RFC 822, RFC 3339, localised names (`Mo, 25 Jun
    2018`, `Di, 26 Mär 2019 08:00 MESZ`, `27. Dezember 2025`); None when it cannot be read."""
    import email.utils

    text = " ".join(raw.split())
    if not text:
        return None
    text = _TWELVE_HOUR.sub(_to_24_hours, text)
    iso = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", text) else text
    try:
        return _to_utc(datetime.fromisoformat(iso))
    except ValueError:
        pass
    english = _WORD.sub(_english_word, _DAY_DOT.sub(r"\1 ", _WEEKDAY_PREFIX.sub("", text)))
    try:
        return _to_utc(email.utils.parsedate_to_datetime(english))
    except (TypeError, ValueError, IndexError):
        pass
    found = find_date(text)
    return datetime.fromisoformat(found) if found else None


def _to_24_hours(match: re.Match[str]) -> str:
    hour = int(match.group(1)) % 12 + (12 if match.group(4).lower() == "pm" else 0)
    return f"{hour:02d}:{match.group(2)}:{match.group(3) or '00'}"


def _english_word(match: re.Match[str]) -> str:
    word = match.group(0)
    bare = word.rstrip(".")
    if bare.upper() in _ZONES:
        return _ZONES[bare.upper()]
    number = MONTHS.get(bare.lower()) or _EXTRA_MONTHS.get(bare.lower())
    return _ENGLISH_MONTHS[number - 1] if number else word


def _to_utc(stamp: datetime) -> datetime:
    # A date with no zone is taken as UTC: the least surprising guess for a feed.
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _pick_date(
    candidates: Sequence[tuple[object, object]], *, now: datetime
) -> tuple[str | None, str | None, str | None]:
    """(published_at, published_raw, problem) from the first readable candidate date."""
    first_raw: str | None = None
    for raw, parsed in candidates:
        if not isinstance(raw, str) or not raw.strip():
            continue
        raw = raw.strip()[:MAX_DATE_CHARS]
        first_raw = first_raw or raw
        stamp = parse_date(raw)
        if stamp is None and isinstance(parsed, time.struct_time):
            stamp = datetime(*parsed[:6], tzinfo=UTC)  # feedparser's reading, already UTC
        if stamp is None:
            continue
        if stamp > now + FUTURE_TOLERANCE:
            log.info("rejected the future date %r", raw)
            return None, raw, "future"
        return stamp.isoformat(timespec="seconds").replace("+00:00", "Z"), raw, None
    return None, first_raw, "unparsed" if first_raw else None


# --- full text and items --------------------------------------------------------------------------

MIN_BODY_CHARS = 40  # as for files: less than this is not an article
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass
class FullText:
    """The article page's main text for a teaser entry, or why there is none."""

    text: str | None
    url: str | None = None  # the page's canonical URL, when it names one
    problem: str | None = None


def full_text_from_page(
    entry: FeedEntry, page: bytes, *, url: str, headers: dict[str, str]
) -> FullText:
    """Main text of an article page (trafilatura), kept only when longer than the feed's."""
    from tasks.clean import clean_article
    from tasks.extract import extract_html

    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and "html" not in content_type:
        return FullText(None, problem=f"the page is {content_type}, not HTML")
    tags = page.count(b"<")
    if tags > MAX_PAGE_MARKUP:
        return FullText(None, problem=f"the page has {tags} tags (over {MAX_PAGE_MARKUP})")
    extracted = extract_html(decode_page(page, headers), url=url)
    if extracted is None:
        return FullText(None, problem="no main text found in the page")
    article = clean_article(fix_mojibake(extracted.body), title=entry.title)
    if len(article.body.split()) <= len(entry.text.split()):
        return FullText(None, problem="the page's text is no longer than the feed's")
    return FullText(article.body, url=canonical_url(extracted.url, base=url))


def decode_page(page: bytes, headers: dict[str, str]) -> str:
    """HTML bytes as text: the HTTP charset, else the page's meta charset, else detection."""
    declared = re.search(r"charset=([\w.:-]+)", headers.get("content-type", ""), re.IGNORECASE)
    meta = _META_CHARSET.search(page[:4096])
    for name in (declared.group(1) if declared else None, meta.group(1).decode() if meta else None):
        if name:
            try:
                return page.decode(name)
            except (LookupError, UnicodeDecodeError):
                continue
    return decode_bytes(page)


def entry_problem(entry: FeedEntry) -> str | None:
    """Why an entry cannot become a document ('no_text': too little text and no headline), or
    None; an entry with a headline and too little text becomes a headline-only document."""
    if len(entry.text) < MIN_BODY_CHARS and headline_body(entry.title, entry.text) is None:
        return "no_text"
    return None


def to_item(
    entry: FeedEntry,
    *,
    feed_id: int | None,
    source: str | None,
    language_hint: str | None = None,
    full_text: FullText | None = None,
) -> Item:
    """The document an entry becomes: the article's text when fetched, else the feed's; with a
    headline and too little text, a headline-only document (tasks/headline.py)."""
    return identified_item(
        entry, feed_id=feed_id, source=source, language_hint=language_hint, full_text=full_text
    )[0]


def identified_item(
    entry: FeedEntry,
    *,
    feed_id: int | None,
    source: str | None,
    language_hint: str | None = None,
    full_text: FullText | None = None,
) -> tuple[Item, Identified]:
    """to_item, and how its language was found (to learn the feed's usual language)."""
    from tasks.ingest import content_hash

    body = full_text.text if full_text and full_text.text else entry.text
    headline_only = False
    if len(body) < MIN_BODY_CHARS:
        short = headline_body(entry.title, body)
        if short is not None:
            body, headline_only = short, True
    # The body decides when it is long; a headline or teaser takes the declared language.
    identified = identify(body, hint=entry.language or language_hint)
    item = Item(
        key=entry.key,
        body=body,
        title=entry.title,
        url=(full_text.url if full_text and full_text.url else None) or entry.url,
        language=identified.code,
        content_hash=content_hash(body),
        source=source,
        published_at=entry.published_at,
        published_raw=entry.published_raw,
        feed_id=feed_id,
        headline_only=headline_only,
    )
    return item, identified
