"""OPML: the subscription lists feed readers (Feedly, Inoreader, Miniflux, FreshRSS, NewsBlur)
import and export, read into feed specs and written from the feed list.

Reading takes what real exports hold: nested folder outlines (a folder's `text` or `title`
becomes a tag of every feed inside it), a name in `text` or `title`, attribute names in any case
(`xmlUrl`, `xmlurl`, `XMLURL`), `htmlUrl`, and the `category` attribute. Every outline that cannot
become a feed is reported with its line number; the rest still import. A file that declares
entities (entity expansion, "billion laughs"), refers to external entities or carries a DTD is
refused whole, before any of it is used: defusedxml's expat reader stops at the declaration.

Writing gives OPML 2.0: one `type="rss"` outline per feed with `text`, `title`, `xmlUrl`,
`htmlUrl` when known, the tags in `category` (comma-separated, as OPML 2.0 defines it; a tag with
a comma cannot travel) and, for
readers that only know folders, the feed inside a folder outline named by its first tag. The
list's `language` and `enabled = false` travel as attributes of the same names, so an export read
back gives the same feeds.
"""

from __future__ import annotations

import email.utils
import xml.sax
import xml.sax.handler
import xml.sax.xmlreader
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree

import defusedxml
import defusedxml.sax

from newsflow.tasks.feeds.feed_list import FeedListError, FeedSpec, feed_spec, feed_url_problem

MAX_OPML_BYTES = 20 * 1024 * 1024  # a real export of thousands of feeds is well under 1 MB
# Readers nest folders two or three deep; each feed's tags walk its folders, so a file nested
# thousands deep would cost the square of its size.
MAX_DEPTH = 64


class OpmlError(ValueError):
    """The file is not an OPML document (not XML, or XML of another kind)."""


class OpmlRefused(OpmlError):
    """The file uses XML features that attack parsers (entities, external references, a DTD)."""


@dataclass(frozen=True)
class OpmlFeed:
    """A feed outline and the line it starts on."""

    line: int
    spec: FeedSpec


@dataclass(frozen=True)
class OpmlProblem:
    """An outline that did not become a feed, and why."""

    line: int
    reason: str
    error: bool = True  # False: nothing was lost (an empty folder)


@dataclass
class OpmlDocument:
    """What an OPML file holds: its title, its feed outlines, and the outlines that are not."""

    title: str | None = None
    feeds: list[OpmlFeed] = field(default_factory=list)
    problems: list[OpmlProblem] = field(default_factory=list)


def read_opml(data: bytes) -> OpmlDocument:
    """The feeds of an OPML document; OpmlRefused or OpmlError when it cannot be read at all."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"{len(data)} bytes is over the {MAX_OPML_BYTES} bytes an OPML file may be")
    handler = _Outlines()
    try:
        defusedxml.sax.parseString(
            data, handler, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise OpmlRefused(_why_dtd(data)) from None
    except defusedxml.DefusedXmlException as error:
        raise OpmlRefused(_refusal(error)) from None
    except xml.sax.SAXParseException as error:
        raise OpmlError(f"not XML: line {error.getLineNumber()}: {error.getMessage()}") from None
    if handler.root is None:
        raise OpmlError("not XML: no root element")
    if handler.root != "opml":
        raise OpmlError(f"not OPML: the root element is <{handler.root}>, not <opml>")
    if not handler.saw_body:
        raise OpmlError("not OPML: no <body> element")
    return handler.document


def _why_dtd(data: bytes) -> str:
    # Every DTD is refused; a second reading that allows only the DTD itself (entities and
    # external references are still forbidden, so nothing expands or is fetched) says which
    # danger it carried.
    try:
        defusedxml.sax.parseString(
            data,
            xml.sax.handler.ContentHandler(),
            forbid_dtd=False,
            forbid_entities=True,
            forbid_external=True,
        )
    except defusedxml.DefusedXmlException as error:
        return _refusal(error)
    except xml.sax.SAXParseException:
        pass
    return "refused: the file has a DTD (<!DOCTYPE …>), which OPML does not use"


def _refusal(error: Exception) -> str:
    if isinstance(error, defusedxml.EntitiesForbidden):
        if error.sysid or error.pubid:
            return (
                f"refused: the file declares the external entity {error.name!r}"
                f" ({error.sysid or error.pubid}), which would read a local file or a URL"
            )
        return (
            f"refused: the file declares the entity {error.name!r}; entity expansion"
            " ('billion laughs') can take all memory"
        )
    if isinstance(error, defusedxml.ExternalReferenceForbidden):
        return f"refused: the file refers to the external resource {error.sysid!r}"
    return f"refused: {error}"


class _Outlines(xml.sax.handler.ContentHandler):
    """Collects feed outlines with their folders and line numbers as the parser streams."""

    def __init__(self) -> None:
        super().__init__()
        self.document = OpmlDocument()
        self.root: str | None = None
        self.saw_body = False
        self._locator: xml.sax.xmlreader.Locator | None = None
        self._path: list[str] = []  # elements open now
        self._outlines: list[_Open] = []  # outlines open now
        self._title: list[str] | None = None

    def setDocumentLocator(self, locator: xml.sax.xmlreader.Locator) -> None:  # noqa: N802
        self._locator = locator

    def startElement(self, name: str, attrs: xml.sax.xmlreader.AttributesImpl) -> None:  # noqa: N802
        name = name.lower()
        if self.root is None:
            self.root = name
        self._path.append(name)
        if self.root != "opml":
            return
        if self._path == ["opml", "body"]:
            self.saw_body = True
        elif self._path == ["opml", "head", "title"]:
            self._title = []
        elif name == "outline" and len(self._path) > 2 and self._path[1] == "body":
            if self._outlines:
                self._outlines[-1].children += 1
            if len(self._outlines) >= MAX_DEPTH:
                raise OpmlError(f"line {self._line()}: outlines nested over {MAX_DEPTH} deep")
            found = {key.lower(): value.strip() for key, value in attrs.items()}
            self._outlines.append(_Open(line=self._line(), attrs=found))

    def characters(self, content: str) -> None:
        if self._title is not None:
            self._title.append(content)

    def endElement(self, name: str) -> None:  # noqa: N802
        self._path.pop()
        if self._title is not None and name.lower() == "title":
            self.document.title = " ".join("".join(self._title).split()) or None
            self._title = None
        if name.lower() == "outline" and self._outlines:
            self._close(self._outlines.pop())

    def _problem(self, line: int, reason: str, *, error: bool = True) -> None:
        # Leaf outlines close in the file's order, so problems are listed in line order.
        self.document.problems.append(OpmlProblem(line, reason, error))

    def _line(self) -> int:
        return (self._locator.getLineNumber() or 0) if self._locator else 0

    def _folders(self) -> list[str]:
        return [o.label for o in self._outlines if o.label and "xmlurl" not in o.attrs]

    def _close(self, outline: _Open) -> None:
        attrs, line = outline.attrs, outline.line
        url = attrs.get("xmlurl")
        if not url:
            if outline.children:
                return  # a folder: its feeds carry its name as a tag
            if attrs.get("type", "").lower() in {"rss", "atom", "feed"} or "htmlurl" in attrs:
                label = f" {outline.label!r}" if outline.label else ""
                self._problem(line, f"outline{label} has no xmlUrl")
            else:
                self._problem(line, f"empty folder {outline.label or '(no name)'!r}", error=False)
            return
        problem = feed_url_problem(url)
        if problem:
            self._problem(line, f"xmlUrl {url!r} {problem}")
            return
        tags = _unique([*self._folders(), *_categories(attrs.get("category", ""))])
        name = outline.label if outline.label and outline.label != url else None
        table: dict[str, object] = {"url": url, "tags": tags}
        if name:
            table["name"] = name
        if attrs.get("language"):
            table["language"] = attrs["language"]
        if attrs.get("enabled", "").lower() == "false":
            table["enabled"] = False
        site = attrs.get("htmlurl")
        if site and not feed_url_problem(site):
            table["site"] = site
        try:
            spec = feed_spec(table, where=f"outline {outline.label or url!r}")
        except FeedListError as error:
            self._problem(line, str(error))
            return
        self.document.feeds.append(OpmlFeed(line, spec))


@dataclass
class _Open:
    line: int
    attrs: dict[str, str]
    children: int = 0

    @property
    def label(self) -> str:
        """The outline's name: `text`, else `title` (exports fill one or both)."""
        return " ".join((self.attrs.get("text") or self.attrs.get("title") or "").split())


def _categories(value: str) -> list[str]:
    # OPML 2.0: comma-separated, each a slash-delimited path ("/Boston/Weather"): one tag per
    # path ("Boston/Weather"), so a tag with a slash in it reads back as written.
    return [item.strip().strip("/").strip() for item in value.split(",") if item.strip("/ ")]


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


# --- writing --------------------------------------------------------------------------------------


def write_opml(
    specs: Sequence[FeedSpec],
    *,
    title: str,
    titles: dict[str, str] | None = None,
    now: datetime | None = None,
) -> str:
    """OPML 2.0 for the feeds; `titles` names feeds the list leaves unnamed (URL → feed title)."""
    titles = titles or {}
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    stamp = email.utils.format_datetime(now or datetime.now(UTC), usegmt=True)
    ElementTree.SubElement(head, "dateCreated").text = stamp
    body = ElementTree.SubElement(root, "body")
    folders: dict[str, ElementTree.Element] = {}
    for spec in specs:
        parent = body
        if spec.tags:
            first = spec.tags[0]
            if first not in folders:
                folders[first] = ElementTree.SubElement(body, "outline", text=first, title=first)
            parent = folders[first]
        name = spec.name or titles.get(spec.url) or spec.url
        outline = ElementTree.SubElement(
            parent, "outline", type="rss", text=name, title=name, xmlUrl=spec.url
        )
        if spec.site:
            outline.set("htmlUrl", spec.site)
        if spec.tags:
            outline.set("category", ",".join(spec.tags))
        if spec.language:
            outline.set("language", spec.language)
        if not spec.enabled:
            outline.set("enabled", "false")
    ElementTree.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(root, encoding="unicode")
        + "\n"
    )
