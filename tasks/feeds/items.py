"""Feed entries as items: the article page's full text when an entry is a teaser, the checks an
entry must pass, and the item it becomes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsflow.tasks.common.headline import headline_body
from newsflow.tasks.common.textio import decode_bytes
from newsflow.tasks.feeds.entry_text import fix_mojibake
from newsflow.tasks.feeds.parsing import MAX_PAGE_MARKUP, FeedEntry
from newsflow.tasks.feeds.urls import canonical_url
from newsflow.tasks.ingest.language import Identified, identify
from newsflow.tasks.store.models import Item

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
    from newsflow.tasks.ingest.clean import clean_article
    from newsflow.tasks.ingest.extract import extract_html

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
    headline and too little text, a headline-only document (tasks/common/headline.py)."""
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
    from newsflow.tasks.ingest.loader import content_hash

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
