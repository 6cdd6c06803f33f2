"""Headline-only documents: an item with a headline and too little text to be an article.

A feed of headlines, a teaser whose page could not be fetched, a JSON record with only a `title`:
each is kept as a document whose body is the headline (and the short text after it, as a second
paragraph), so exact and near-duplicate detection, search and stories see its words. It is marked
(`Item.headline_only`, `documents.headline_only`) and never summarised: its summary status is
`headline_only`. Without a headline, too little text stays a `no_text` reject.
"""

from __future__ import annotations

from newsflow.tasks.common.textio import normalise_line

STATUS = "headline_only"
# A headline has words: at least this many letters ("0" or "—" as a title is not one).
MIN_LETTERS = 2


def headline_body(title: str | None, text: str = "") -> str | None:
    """The body of a headline-only document: the headline, then `text` (if any and not just the
    headline again) as a second paragraph; None when there is no headline to keep."""
    headline = normalise_line(title) if title else ""
    if sum(ch.isalpha() for ch in headline[: MIN_LETTERS * 8]) < MIN_LETTERS:
        return None  # nothing, punctuation or a number ("0", "2024"): not a headline
    text = text.strip()
    if not text or " ".join(text.split()).casefold() == headline.casefold():
        return headline
    return f"{headline}\n\n{text}"
