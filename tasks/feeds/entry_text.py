"""An entry's text and title made plain: markup and feed furniture out, entities and mojibake
repaired, a repeated title dropped."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from newsflow.tasks.common.textio import normalise_line
from newsflow.tasks.ingest.extract import html_to_text

log = logging.getLogger(__name__)


MAX_TITLE_CHARS = 500  # longer titles are cut (no headline comes near it)


NOT_TEXT = re.compile("[\ufffe\uffff\ud800-\udfff]")  # noncharacters and lone surrogates


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


PLAIN_TEXT = {"type": "text/plain"}


TRUNCATED = re.compile(r"(?:…|\.\.\.|\[…\]|\[\.\.\.\]|\(more…?\))\s*$")


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
    return NOT_TEXT.sub("", "\n\n".join(paragraphs))


def clean_title(value: str | None, detail: dict[str, Any] | None) -> str | None:
    if not value:
        return None
    value = value[: MAX_TITLE_CHARS * 20]  # cleaning a 9 MB "headline" would only waste time
    # feedparser has already decoded a text/plain title; markup only matters in (x)html ones.
    kind = (detail or {}).get("type") or "text/html"
    text = value if kind == "text/plain" else html_to_text(value)
    if _ENTITY.search(text):  # double-escaped titles ("AT&amp;amp;T") are common
        text = html.unescape(text)
    text = NOT_TEXT.sub("", normalise_line(" ".join(fix_mojibake(text).split())))
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


def drop_repeated_title(text: str, title: str | None) -> str:
    if title and text:
        first, _, rest = text.partition("\n\n")
        if first.casefold() == title.casefold() and rest:
            return rest
    return text
