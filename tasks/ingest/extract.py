"""Main text and metadata from article HTML, with trafilatura."""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from types import ModuleType

from newsflow.tasks.common.dates import find_date


@dataclass
class Extracted:
    """What trafilatura found in a page."""

    body: str
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published_at: str | None = None
    published_raw: str | None = None


_first_import = threading.Lock()


def _trafilatura() -> ModuleType:
    """trafilatura with dateparser already imported, whichever thread asks first.

    htmldate imports dateparser lazily, on the first page whose date needs it. When two feed
    threads reached that import at once, Python 3.11's import locks reported a deadlock in
    dateparser's circular modules and the page's extraction failed (seen in CI, 2 of 350 pages).
    One thread imports the whole stack while the others wait; later calls find it in sys.modules.
    """
    with _first_import:
        import dateparser.languages.loader  # noqa: F401  (imported for its side effect)
        import trafilatura
    return trafilatura


def extract_html(page: str, *, url: str | None = None) -> Extracted | None:
    """The page's main text (boilerplate removed) and metadata, or None when it has none."""
    trafilatura = _trafilatura()
    document = trafilatura.bare_extraction(
        page,
        url=url,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        with_metadata=True,
        # trafilatura's deduplicate keeps one process-wide cache of paragraphs and drops any seen
        # more than twice: the fourth outlet carrying the same wire story got no text at all.
        # Boilerplate is removed without it; copies are for neardup and stories to find.
        deduplicate=False,
    )
    # bare_extraction returns a Document unless asked for a dict (as_dict=True).
    if document is None or isinstance(document, dict) or not (document.text or "").strip():
        return None
    raw_date = document.date
    return Extracted(
        body=str(document.text),
        title=html.unescape(document.title) if document.title else None,
        url=document.url,
        source=document.sitename,
        published_at=find_date(raw_date) if raw_date else None,
        published_raw=raw_date,
    )


_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(
    r"</?(?:p|div|br|li|h[1-6]|blockquote|section|article|tr)\b[^>]*>", re.IGNORECASE
)
_SCRIPT = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


_RAW_TEXT_OPEN = re.compile(r"<(script|style|noscript)\b", re.IGNORECASE)
_RAW_TEXT_CLOSE = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "noscript")
}
_STRAY_LT = re.compile(r"<(?=[^<>]*(?:<|\Z))")  # a '<' with no '>' before the next '<'


def markup_safe(fragment: str) -> str:
    """`fragment` with script and style elements blanked and stray '<' escaped, in linear time.

    `html_to_text`'s patterns rescan to the end of the text for every '<' they cannot close, so
    a feed of 'a < b' or '<script x' repeated took minutes; after this they stay linear.
    """
    if "<" not in fragment:
        return fragment
    pieces: list[str] = []
    position = 0
    while (opening := _RAW_TEXT_OPEN.search(fragment, position)) is not None:
        pieces.append(fragment[position : opening.start()])
        closing = _RAW_TEXT_CLOSE[opening.group(1).lower()].search(fragment, opening.end())
        position = closing.end() if closing else len(fragment)  # unclosed: script to the end
        pieces.append(" ")  # a space, so the pieces around it cannot join into a new tag
    pieces.append(fragment[position:])
    return _STRAY_LT.sub("&lt;", "".join(pieces))


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed's description): tags dropped, entities decoded."""
    fragment = _SCRIPT.sub(" ", markup_safe(fragment))
    fragment = _BLOCK.sub("\n", fragment)
    return html.unescape(_TAG.sub("", fragment))
