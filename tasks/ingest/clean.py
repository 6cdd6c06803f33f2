"""Clean article text: headline, boilerplate, captions and attribution taken out of the body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from newsflow.tasks.common.dates import find_date
from newsflow.tasks.common.textio import normalise_line

# Whole lines that are page furniture, not article text (English and German).
BOILERPLATE = re.compile(
    r"""^(?:
        comments?\ (?:are\ )?closed\.?
      | related\ (?:news|articles?|stories|posts|content)
      | (?:read|see)\ (?:more|also)\b.*
      | more\ on\ this\ (?:story|topic)
      | link\ zum\ artikel
      | mehr\ zum\ thema\b.*
      | weiterlesen\b.*
      | lesen\ sie\ auch\b.*
      | (?:share|teilen)(?:\ (?:this|on|via|auf)\b.*)?
      | (?:share|teilen)\ (?:on\ )?(?:facebook|twitter|x|whatsapp|linkedin|e-?mail).*
      | (?:advertisement|anzeige|werbung|sponsored)
      | (?:follow|subscribe|sign\ up|abonnieren)\b.{0,80}
      | click\ here\b.*
      | all\ rights\ reserved\.?.*
      | copyright\b.{0,80}
      | ©.{0,80}
      | print(?:\ this)?(?:\ article)?
      | tags?:.{0,200}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Attribution lines: "SOURCE: NEWS AGENCIES", "Quelle: Khmer Times, …, 27. Dezember 2025."
ATTRIBUTION = re.compile(r"^(?:source|sources|quelle|quellen)\s*:\s*(?P<rest>.+)$", re.IGNORECASE)

# Photo captions end with a short credit ("… on Monday. MPS", "Photo: AFP", "(Foto: dpa)").
CAPTION_CREDIT = re.compile(
    r"""(?:
        [.!]\s+[A-Z][A-Z/&\-]{1,12}$                           # ". MPS", ". AFP/Getty"
      | \b(?:photo|picture|image|foto|bild)\s*(?:credit)?\s*:\s*\S.{0,60}$
      | \((?:photo|foto|bild|picture)\s*:?[^)]{0,60}\)$
      | \b(?:getty\ images|reuters|afp|ap\ photo|dpa|epa)\)?$
    )""",
    re.IGNORECASE | re.VERBOSE,
)

_TERMINAL = (".", "!", "?", "…", ":", ";", '"', "”", "“", "»", "«", "'", "’")


@dataclass
class Article:
    """An article's parts after cleaning."""

    title: str | None
    body: str  # paragraphs separated by a blank line
    captions: list[str] = field(default_factory=list)
    source: str | None = None
    published_at: str | None = None
    published_raw: str | None = None
    dropped: list[str] = field(
        default_factory=list
    )  # boilerplate lines removed, for tests and audit


def is_ticker(line: str) -> bool:
    """A row of other stories' headlines joined by ' | '."""
    parts = [p.strip() for p in line.split("|") if p.strip()]
    return line.count(" | ") + line.rstrip().endswith("|") >= 2 and len(parts) >= 2


def is_headline(line: str) -> bool:
    """A short line without sentence-final punctuation."""
    words = line.split()
    return 2 <= len(words) <= 30 and len(line) <= 250 and not line.endswith(_TERMINAL)


def is_caption(line: str) -> bool:
    """A short line that ends in a photo credit."""
    return len(line.split()) <= 60 and bool(CAPTION_CREDIT.search(line))


def clean_article(text: str, *, title: str | None = None) -> Article:
    """Split raw article text into headline, body, captions and attribution."""
    lines = [normalise_line(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    article = Article(title=title, body="")

    # Leading furniture: tickers of other headlines.
    while lines and is_ticker(lines[0]):
        article.dropped.append(lines.pop(0))

    # Headline: the first line when it reads as one and more text follows; a repeat is collapsed.
    if article.title is None and len(lines) >= 2 and is_headline(lines[0]):
        article.title = lines.pop(0)
    if article.title:
        while lines and lines[0].casefold() == article.title.casefold():
            lines.pop(0)
        # A caption sits right under the headline, before the body starts.
        if lines and len(lines) >= 2 and is_caption(lines[0]):
            article.captions.append(lines.pop(0))

    paragraphs: list[str] = []
    for line in lines:
        attribution = ATTRIBUTION.match(line)
        if attribution:
            _read_attribution(article, attribution.group("rest"))
            article.dropped.append(line)
        elif BOILERPLATE.match(line) or is_ticker(line):
            article.dropped.append(line)
        else:
            paragraphs.append(line)

    article.body = "\n\n".join(paragraphs)
    return article


def _read_attribution(article: Article, rest: str) -> None:
    rest = rest.strip().rstrip(".")
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    if parts and article.source is None:
        article.source = parts[0]
    stamp = find_date(rest)
    if stamp and article.published_at is None:
        article.published_at = stamp
        article.published_raw = parts[-1] if parts else rest
