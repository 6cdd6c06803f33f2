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
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsflow.tasks.common.textio import decode_bytes
from newsflow.tasks.feeds.entry_dates import pick_date
from newsflow.tasks.feeds.entry_text import (
    NOT_TEXT,
    PLAIN_TEXT,
    TRUNCATED,
    clean_text,
    clean_title,
    drop_repeated_title,
)
from newsflow.tasks.feeds.fetch import GZIP_MAGIC
from newsflow.tasks.feeds.inflate import gunzip_capped
from newsflow.tasks.feeds.urls import canonical_url

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 10 * 1024 * 1024  # a gzip body sent without Content-Encoding is capped too
# feedparser spends about 300 bytes and 10-30 µs on every tag or unknown entity reference: 9 MB of
# '<p>' took 2 minutes and 1.2 GB, while a real 10 MB full-content feed holds about 430,000 tags.
MAX_FEED_MARKUP = 500_000
# trafilatura's cost grows faster than the tag count (40,000 paragraphs: 6 s; 450,000: minutes).
MAX_PAGE_MARKUP = 60_000
MAX_ENTRIES = 1_000  # entries read from one feed body per run; the rest are counted as cut
MAX_ID_CHARS = 2_048  # a longer guid or link is not an identity (it would become a huge key)
TEASER_WORDS = 120  # fewer words than this and the entry is a teaser: fetch the article page
JSON_FEED_PREFIX = "https://jsonfeed.org/version/1"

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
        return len(self.text.split()) < TEASER_WORDS or bool(TRUNCATED.search(self.text[-40:]))


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
        return NOT_TEXT.sub("\ufffd", value)
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
        title=clean_title(feed_info.get("title"), feed_info.get("title_detail")),
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
        title=clean_title(_str(data.get("title")), PLAIN_TEXT),
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
    title = clean_title(entry.get("title"), entry.get("title_detail"))
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
    title = clean_title(_str(item.get("title")), PLAIN_TEXT)  # plain text, says the spec
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
    published_at, published_raw, problem = pick_date(raw_dates, now=now)
    return FeedEntry(
        key="",
        identity="",
        guid=guid,
        url=link,
        title=title,
        text=drop_repeated_title(text, title),
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


# --- values ---------------------------------------------------------------------------------------


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
