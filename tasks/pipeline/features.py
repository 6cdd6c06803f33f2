"""What dedup and story grouping compare, computed once per new text, where the file is parsed.

A parse worker tokenises each body once and derives from those tokens the near-duplicate MinHash
signature and short-paragraph hashes (`tasks/dedup/neardup.py`) and story grouping's terms and
signals (`tasks/stories/linking.py`). The writer stores them beside the document, so the dedup and
story passes, which run in the one writer process, only compare. Documents that arrive without them
(feed entries, a changed setting) still get them computed by those passes, with the same functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

from newsflow.tasks.common import shingles
from newsflow.tasks.common.sentences import record
from newsflow.tasks.dedup import signatures
from newsflow.tasks.store import search_index
from newsflow.tasks.store.models import Item
from newsflow.tasks.stories import report_terms


@dataclass(frozen=True)
class Features:
    """One text's comparison features, tied to its content hash."""

    content_hash: str
    minhash: bytes
    lede: bytes | None  # the MinHash of its opening words (`signatures.lede_signature`)
    paragraphs: list[tuple[str, int]]
    terms: dict[str, int]
    signals: list[str]
    sentences: str | None = None  # JSON {language, spans}: the body's split, for story summaries
    search: tuple[str, str, str] | None = None  # the search index's title, body, names


def compute(item: Item, paragraphs: list[list[str]] | None = None) -> Features:
    """The features of an item's title and body (in its language); `paragraphs` are the body's
    `split_paragraphs` in its language (or English), when the caller has them."""
    body_tokens = shingles.tokens(item.body, item.language)
    sentences = None if paragraphs is None else [s for paragraph in paragraphs for s in paragraph]
    terms, signals = report_terms.report_features(
        item.title, item.body, item.language, body_tokens, sentences
    )
    minhash = signatures.signature_of(body_tokens)
    lede = signatures.lede_signature(body_tokens)
    language = item.language or "en"  # the language the body was split in
    return Features(
        content_hash=item.content_hash,
        minhash=signatures.to_blob(minhash),
        lede=None if lede is None else signatures.to_blob(lede),
        paragraphs=signatures.paragraph_hashes(item.body),
        terms=terms,
        signals=signals,
        sentences=None if sentences is None else record(item.body, sentences, language),
        search=search_index.entry(
            item.title, item.body, item.language, body_tokens=body_tokens, signals=signals
        ),
    )


def save(db: Database, saved: list[tuple[int, str]], features: dict[str, Features]) -> int:
    """Store the features of saved documents (id, item key); returns how many were stored."""
    story_rows, signature_rows = [], []
    for document_id, key in saved:
        found = features.get(key)
        if found is None:
            continue
        story_rows.append(
            (document_id, found.content_hash, found.terms, found.signals, found.sentences)
        )
        signature_rows.append(
            (document_id, found.content_hash, signatures.SIGNATURE_SETTINGS, found.minhash,
             json.dumps(found.paragraphs), found.lede)
        )  # fmt: skip
    report_terms.save_features(db, story_rows)
    db.conn.executemany(
        "INSERT OR REPLACE INTO signature_inputs (document_id, content_hash, settings, minhash,"
        " paragraphs, lede) VALUES (?, ?, ?, ?, ?, ?)",
        signature_rows,
    )
    return len(story_rows)
