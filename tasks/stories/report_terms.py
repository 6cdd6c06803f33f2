"""What a report brings to story linking, computed once per text and stored: headline-and-lede and
text terms, signals; and the TF-IDF helpers that weigh them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
from sqlite_utils import Database

from newsflow.tasks.common import shingles
from newsflow.tasks.common.outlets import parse_time
from newsflow.tasks.common.sentences import split_sentences
from newsflow.tasks.stories import clusters, entities

if TYPE_CHECKING:  # SciPy loads when a matrix is first built, not with the module (0.15 s)
    from scipy import sparse

# Part of every stored feature row: change it whenever report_features changes.
FEATURES_SETTINGS = "stories-v2"


LEDE_TOKENS = 30  # the lede, as words: about the first sentence of a news text


def terms(title: str | None, body: str, language: str | None) -> Counter[str]:
    """Stemmed content words, keyed by language; the headline counts twice."""
    head = shingles.tokens(title, language) if title else []
    return terms_of(head, shingles.tokens(body, language), language)


def terms_of(title_tokens: list[str], body_tokens: list[str], language: str | None) -> Counter[str]:
    """`terms` of already tokenised text (tokens never span the lines `terms` joins)."""
    stop = shingles.stop_words(language)
    prefix = f"{language or 'xx'}:"
    return Counter(
        prefix + word
        for word in chain(title_tokens, title_tokens, body_tokens)
        if len(word) >= 3 and not word.isdigit() and word not in stop
    )


@dataclass
class Report:
    """A canonical document as story grouping sees it."""

    id: int
    language: str | None
    when: datetime
    story_id: int | None
    title: str | None
    terms: Mapping[str, float]
    signals: list[str]
    published: datetime | None = None  # earliest stated date of the report or its copies
    created: datetime | None = None  # when the report (or its first copy) was stored

    def seconds(self) -> float:
        """When it happened as the story window sees it: the stated date, else when stored."""
        return (self.published or self.created or self.when).timestamp()


def report_features(
    title: str | None,
    body: str,
    language: str | None,
    body_tokens: list[str],
    body_sentences: list[str] | None = None,
) -> tuple[dict[str, int], list[str]]:
    """What grouping compares of a report: its terms and its signals (`body_tokens` are the
    body's `shingles.tokens`, shared with near-duplicate detection; `body_sentences`, when given,
    its `split_sentences` in the language or English, shared with the summariser)."""
    head = shingles.tokens(title, language) if title else []
    text = f"{title or ''}\n{body}"
    sentences = None
    if body_sentences is not None:  # the split of title and body, line by line, as names' own
        sentences = [*split_sentences(title or "", language or "en"), *body_sentences]
    signals = sorted(entities.signals(text, language, sentences=sentences))
    found = dict(terms_of(head, body_tokens, language))
    found.update(head_terms(head, body_tokens, language))
    return found, signals


def head_terms(
    title_tokens: list[str], body_tokens: list[str], language: str | None
) -> Counter[str]:
    """Content words of the headline and the lede (the body's first LEDE_TOKENS words), marked
    apart from the text's terms: what a headline-only item or a teaser is compared by."""
    stop = shingles.stop_words(language)
    prefix = f"{language or 'xx'}{clusters.HEAD_MARK}"
    return Counter(
        prefix + word
        for word in chain(title_tokens, body_tokens[:LEDE_TOKENS])
        if len(word) >= 3 and not word.isdigit() and word not in stop
    )


# Features this process stored or read, by document id: (content hash, terms, signals). Every story
# pass of a run reads the whole window's features; this spares it re-reading and re-decoding them.
# Entries are checked against the stored content hash, like the table's, before use.
_recent: dict[int, tuple[str, dict[str, int], list[str]]] = {}


RECENT_MAX = 5_000  # ~15 KB each: about 75 MB at most (a run keeps its stories: few re-reads)


def _remember(doc_id: int, digest: str, found_terms: dict[str, int], signals: list[str]) -> None:
    if len(_recent) >= RECENT_MAX:
        _recent.clear()  # a bound on memory, not a policy: the table still has them all
    _recent[doc_id] = (digest, found_terms, signals)


def save_features(
    db: Database, rows: list[tuple[int, str, dict[str, int], list[str], str | None]]
) -> None:
    """Store (document id, content hash, terms, signals, sentences) rows in the features cache
    (sentences: the body's split as `features.compute` records it, or None)."""
    for doc_id, digest, found_terms, found_signals, _ in rows:
        _remember(doc_id, digest, found_terms, found_signals)
    db.conn.executemany(
        "INSERT INTO story_features (document_id, content_hash, settings, terms, signals,"
        " sentences) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
        " content_hash = excluded.content_hash, settings = excluded.settings,"
        " terms = excluded.terms, signals = excluded.signals, sentences = excluded.sentences",
        [(doc_id, digest, FEATURES_SETTINGS, json.dumps(found_terms), json.dumps(found_signals),
          sentences)
         for doc_id, digest, found_terms, found_signals, sentences in rows],
    )  # fmt: skip


def stored_features(db: Database, ids: list[int]) -> dict[int, Report]:
    """Reports for the ids, from the features cache or computed once from title and body."""
    reports: dict[int, Report] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"""
            SELECT d.id, d.language, coalesce(d.event_at, d.published_at, d.created_at),
                   d.story_id, d.title, d.content_hash, f.content_hash, f.settings,
                   (SELECT min(m.published_at) FROM documents m
                    WHERE m.id = d.id OR m.duplicate_of = d.id) AS published,
                   (SELECT min(m.created_at) FROM documents m
                    WHERE m.id = d.id OR m.duplicate_of = d.id) AS created
            FROM documents d LEFT JOIN story_features f ON f.document_id = d.id
            WHERE d.id IN ({marks})
            """,
            chunk,
        ).fetchall()
        # Ids whose stored features are current; those this process has not seen are read once.
        current = [row for row in rows if row[6] == row[5] and row[7] == FEATURES_SETTINGS]
        stored = {row[0]: row[5] for row in current}
        missing = [i for i, digest in stored.items() if _recent.get(i, ("",))[0] != digest]
        for doc_id, digest, cached_terms, cached_signals in db.execute(
            "SELECT document_id, content_hash, terms, signals FROM story_features"
            f" WHERE document_id IN ({','.join('?' * len(missing))})",
            missing,
        ).fetchall():
            _remember(doc_id, digest, json.loads(cached_terms), json.loads(cached_signals))
        for row in rows:
            (doc_id, language, when, story_id, title, digest, _, _, published, created) = row
            recent = _recent.get(doc_id)
            if doc_id in stored and recent is not None and recent[0] == digest:
                _, found_terms, found_signals = recent
            else:
                body = db.execute("SELECT body FROM documents WHERE id = ?", [doc_id]).fetchone()[0]
                found_terms, found_signals = report_features(
                    title, body, language, shingles.tokens(body, language)
                )
                save_features(db, [(doc_id, digest, found_terms, found_signals, None)])
            reports[doc_id] = Report(
                doc_id, language, parse_time(when), story_id, title, found_terms, found_signals,
                parse_time(published) if published else None, parse_time(created),
            )  # fmt: skip
    return reports


def matrix_with_vocabulary(
    rows: Sequence[Mapping[str, float]],
) -> tuple[sparse.csr_matrix, list[str]]:
    """A sparse matrix of feature dicts (one row each) and the feature behind each column."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    indices = [vocabulary.setdefault(key, len(vocabulary)) for row in rows for key in row]
    values = [value for row in rows for value in row.values()]
    indptr = np.cumsum([0, *map(len, rows)])
    shape = (len(rows), max(1, len(vocabulary)))
    matrix = sparse.csr_matrix((values, indices, indptr), shape=shape, dtype=np.float64)
    return matrix, list(vocabulary)


def tfidf_matrix(
    rows: Sequence[Mapping[str, float]], *, sublinear: bool, n: int
) -> sparse.csr_matrix:
    """TF-IDF weights of feature counts; IDF from these `n` rows (smoothed, as scikit-learn's)."""
    return tfidf_weights(matrix_with_vocabulary(rows)[0], sublinear=sublinear, n=n)


def tfidf_weights(counts: sparse.csr_matrix, *, sublinear: bool, n: int) -> sparse.csr_matrix:
    """`tfidf_matrix` of a matrix of counts (changed in place)."""
    from scipy import sparse

    if sublinear:
        counts.data = 1 + np.log(counts.data)
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    return sparse.csr_matrix(counts.multiply(np.log((1 + n) / (1 + df)) + 1))


def normalise_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Rows scaled to unit length, so a dot product is a cosine."""
    from scipy import sparse

    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1 / np.maximum(norms, 1e-12)) @ matrix)


def primary_language(languages: Counter[str | None]) -> str | None:
    """The story's main language: the most reports, English on a tie, then alphabetical."""
    counted = [(count, lang == "en", lang) for lang, count in languages.items() if lang]
    if not counted:
        return None
    return max(counted, key=lambda c: (c[0], c[1], [-ord(ch) for ch in c[2]]))[2]
