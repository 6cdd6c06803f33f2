"""Stories: reports of the same event grouped within a time window, across outlets and languages.

Near-duplicates (`tasks/neardup.py`) are copies of one text; a story is looser: different reports
of one event. Two canonical reports link when

* they are in the same language and their TF-IDF cosine over stemmed content words (Snowball
  stemmers, no data download) is high, backed by the language-independent signals unless it is
  very high; or
* they are in different languages and those signals agree strongly — the same names, figures,
  dates, and the same countries and organisations once the bilingual gazetteer has mapped
  "Cambodia" and "Kambodscha" to one id (`tasks/entities.py`, `tasks/gazetteer.py`).

A report joins the story it links to best, and only when it links to at least half of that
story's reports in the window: a story cannot grow by chaining one follow-up to the next.
Duplicates share their canonical's story. Every assignment is a `dedup_decisions` row with
method `story`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlite_utils import Database

from tasks import entities, feature_rows, shingles
from tasks.gazetteer import fold
from tasks.neardup import outlet_name, parse_time
from tasks.sentences import PUNKT_LANGUAGES, split_sentences
from tasks.store import now, write_transaction

if TYPE_CHECKING:  # SciPy loads when a matrix is first built, not with the module (0.15 s)
    from scipy import sparse

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 7
# Same language: cosine at least TEXT_MIN and signals at least SIGNALS_SUPPORT, or cosine alone
# at least TEXT_STRONG. Different languages: signals at least SIGNALS_CROSS with MIN_SHARED
# specific signals (names, figures, dates) in common. Calibrated with `python -m benchmarks.dedup`.
TEXT_MIN = 0.6
TEXT_STRONG = 0.8
SIGNALS_SUPPORT = 0.5
SIGNALS_CROSS = 0.45
MIN_SHARED = 3
SPECIFIC_KINDS = ("name", "num", "date", "md")
FEATURES_SETTINGS = "stories-v1"
CHUNK = 500  # pending reports per window (the window is rebuilt per chunk)
# Pending reports per matrix product: their similarities to the whole window are dense arrays
# (five of rows × window), so 100 rows at a time hold a fifth of what the chunk's 500 would.
COMPARE_ROWS = 100


# --- features -------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def stop_stems(language: str | None) -> frozenset[str]:
    """Stop words of the language (and English), folded and stemmed like the terms they filter."""
    from sumy.utils import get_stop_words

    words: set[str] = set()
    for name in {PUNKT_LANGUAGES.get(language or "", "english"), "english"}:
        try:
            words |= {fold(word) for word in get_stop_words(name)}
        except LookupError:
            continue
    return frozenset(shingles.tokens(" ".join(sorted(words)), language)) | frozenset(words)


def terms(title: str | None, body: str, language: str | None) -> Counter[str]:
    """Stemmed content words, keyed by language; the headline counts twice."""
    head = shingles.tokens(title, language) if title else []
    return terms_of(head, shingles.tokens(body, language), language)


def terms_of(title_tokens: list[str], body_tokens: list[str], language: str | None) -> Counter[str]:
    """`terms` of already tokenised text (tokens never span the lines `terms` joins)."""
    stop = stop_stems(language)
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
    row: feature_rows.Row | None = None  # terms and signals as matrix columns

    def encoded(self) -> feature_rows.Row:
        """The report's matrix row in the current vocabulary (encoded once, then reused)."""
        if self.row is None or self.row.vocabulary is not feature_rows.current():
            self.row = feature_rows.encode(self.terms, self.signals)
        return self.row

    def apart(self, other: Report) -> timedelta:
        """Publication dates apart, or storage times when either report has no date."""
        if self.published and other.published:
            return abs(self.published - other.published)
        if self.created and other.created:
            return abs(self.created - other.created)
        return abs(self.when - other.when)


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
    return dict(terms_of(head, body_tokens, language)), signals


# Features this process stored or read, by document id: (content hash, terms, signals). Every story
# pass of a run reads the whole window's features; this spares it re-reading and re-decoding them.
# Entries are checked against the stored content hash, like the table's, before use.
_recent: dict[int, tuple[str, dict[str, int], list[str], feature_rows.Row | None]] = {}
RECENT_MAX = 20_000  # ~20 KB each with their matrix rows: about 400 MB at most


def _remember(
    doc_id: int,
    digest: str,
    found_terms: dict[str, int],
    signals: list[str],
    row: feature_rows.Row | None = None,
) -> None:
    if len(_recent) >= RECENT_MAX:
        # A bound on memory, not a policy: the table still has them all.
        _recent.clear()
        feature_rows.reset()
    _recent[doc_id] = (digest, found_terms, signals, row)


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


def _features(db: Database, ids: list[int]) -> dict[int, Report]:
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
            encoded = None
            if doc_id in stored and recent is not None and recent[0] == digest:
                _, found_terms, found_signals, encoded = recent
            else:
                body = db.execute("SELECT body FROM documents WHERE id = ?", [doc_id]).fetchone()[0]
                found_terms, found_signals = report_features(
                    title, body, language, shingles.tokens(body, language)
                )
                save_features(db, [(doc_id, digest, found_terms, found_signals, None)])
            report = reports[doc_id] = Report(
                doc_id, language, parse_time(when), story_id, title, found_terms, found_signals,
                parse_time(published) if published else None, parse_time(created), encoded,
            )  # fmt: skip
            if report.encoded() is not encoded:
                _remember(doc_id, digest, found_terms, found_signals, report.row)
    return reports


# --- similarity -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """How two reports compare, and whether that makes them one story."""

    linked: bool
    score: float
    text: float
    signals: float
    shared: tuple[str, ...]
    same_language: bool

    @property
    def threshold(self) -> float:
        return TEXT_MIN if self.same_language else SIGNALS_CROSS

    def explain(self) -> str:
        """A one-line reason a person can check."""
        shared = ", ".join(self.shared[:8]) or "none"
        if self.same_language:
            return (
                f"text cosine {self.text:.2f} (link at ≥ {TEXT_MIN} with signals ≥"
                f" {SIGNALS_SUPPORT}, or ≥ {TEXT_STRONG} alone); signals {self.signals:.2f};"
                f" shared: {shared}"
            )
        return (
            f"other language: signals {self.signals:.2f} (link at ≥ {SIGNALS_CROSS} with ≥"
            f" {MIN_SHARED} names, figures or dates in common); shared: {shared}"
        )


class Comparer:
    """TF-IDF and signal similarity of some reports against a set of reports, as matrices."""

    def __init__(self, reports: list[Report]) -> None:
        self.reports = reports
        self.index = {report.id: i for i, report in enumerate(reports)}
        n = len(reports)
        rows = [report.encoded() for report in reports]  # all in the current vocabulary
        vocabulary = feature_rows.current()
        counts = feature_rows.matrix(
            [r.term_ids for r in rows], [r.term_counts for r in rows], len(vocabulary.terms)
        )
        self.terms = normalise_rows(tfidf_weights(counts, sublinear=True, n=n))
        binary = feature_rows.matrix([r.signal_ids for r in rows], None, len(vocabulary.signals))
        df = np.asarray(binary.sum(axis=0)).ravel()
        # With no signal at all the matrix still has one (empty) column: give it a kind too.
        kinds = vocabulary.signal_kinds() + [""] * (binary.shape[1] - len(vocabulary.signals))
        weights = np.array([entities.KIND_WEIGHTS.get(k, 0.5) for k in kinds]) * (
            np.log((1 + n) / (1 + df)) + 1
        )
        self.signals = binary
        self.weights = weights
        self.totals = binary @ weights
        self.specific = binary[:, np.array([k in SPECIFIC_KINDS for k in kinds], dtype=bool)]

    def compare(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text cosine, signal overlap, shared specific signals) of `ids` against all reports."""
        rows = [self.index[i] for i in ids]
        text = (self.terms[rows] @ self.terms.T).toarray()
        shared = (self.signals[rows].multiply(self.weights) @ self.signals.T).toarray()
        smaller = np.minimum(self.totals[rows][:, None], self.totals[None, :])
        signals = np.divide(shared, smaller, out=np.zeros_like(shared), where=smaller > 0)
        specific = (self.specific[rows] @ self.specific.T).toarray()
        return text, signals, specific

    def link(self, a: int, b: int, text: float, signals: float, specific: float) -> Link:
        """Apply the linking rule to one pair."""
        first, second = self.reports[self.index[a]], self.reports[self.index[b]]
        same = first.language is not None and first.language == second.language
        if same:
            linked = text >= TEXT_STRONG or (text >= TEXT_MIN and signals >= SIGNALS_SUPPORT)
            score = text
        else:
            linked = signals >= SIGNALS_CROSS and specific >= MIN_SHARED
            score = signals
        return Link(linked, float(score), float(text), float(signals),
                    self.shared(first, second), same)  # fmt: skip

    def shared(self, a: Report, b: Report) -> tuple[str, ...]:
        """The most telling signals two reports share (for the decision's reason)."""
        common = set(a.signals) & set(b.signals)
        order = {kind: i for i, kind in enumerate(("date", "md", "name", "num", "org", "country"))}
        return tuple(sorted(common, key=lambda k: (order.get(entities.kind(k), 9), k)))


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


# --- assignment -----------------------------------------------------------------------------------


@dataclass
class StoryResult:
    """What a story pass did."""

    assigned: int = 0  # canonical reports given a story
    joined: int = 0  # of which joined an existing story
    created: int = 0  # stories opened
    removed: int = 0  # stories left empty and deleted
    merged: int = 0  # stories merged into another by a report linking both
    touched: set[int] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        """The counts a run records."""
        return {"stories_new": self.created, "stories_joined": self.joined}


def assign_stories(
    db: Database,
    *,
    run_id: str | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    dirty: Iterable[int] = (),
) -> StoryResult:
    """Give every canonical report without a story one; refresh the stories that changed."""
    result = StoryResult(touched=set(dirty))
    window = timedelta(days=window_days)
    cache: dict[int, Report] = {}  # reports already read in this call (a big backlog re-reads less)
    while True:
        # Pick the reports under the write lock: a concurrent run that assigned them while this
        # one waited must not have them assigned (and stories created) a second time.
        with write_transaction(db):
            pending = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM documents WHERE story_id IS NULL AND duplicate_of IS NULL"
                    " AND coalesce(summary_status, '') != 'boilerplate'"
                    " ORDER BY coalesce(event_at, published_at, created_at), id LIMIT ?",
                    [CHUNK],
                ).fetchall()
            ]
            if pending:
                _assign_chunk(db, pending, window, run_id, result, cache)
        if not pending:
            break
    with write_transaction(db):
        _propagate_to_copies(db, result)
        refresh_stories(db, result.touched, result)
    log.info(
        "stories: %d reports assigned (%d joined, %d new stories)",
        result.assigned, result.joined, result.created,
    )  # fmt: skip
    return result


def _assign_chunk(
    db: Database,
    pending: list[int],
    window: timedelta,
    run_id: str | None,
    result: StoryResult,
    cache: dict[int, Report],
) -> None:
    reports = _features(db, pending)
    dated = [r.when for r in reports.values()]
    stored = [r.created or r.when for r in reports.values()]
    # Indexed ranges: reports dated near these, or stored near them (for undated reports).
    neighbours = {
        row[0]: row[1]
        for row in db.execute(
            # The unary + keeps SQLite on the two date indexes (not on "duplicate_of IS NULL",
            # which matches most of the table).
            "SELECT id, story_id FROM documents"
            " WHERE (event_at BETWEEN ? AND ? OR created_at BETWEEN ? AND ?)"
            " AND +story_id IS NOT NULL AND +duplicate_of IS NULL"
            " AND coalesce(summary_status, '') != 'boilerplate'",
            [_iso(min(dated) - window), _iso(max(dated) + window),
             _iso(min(stored) - window), _iso(max(stored) + window)],
        ).fetchall()
    }  # fmt: skip
    for doc_id, story_id in neighbours.items():
        if doc_id in cache and doc_id not in reports:
            cache[doc_id].story_id = story_id
            reports[doc_id] = cache[doc_id]
    reports |= _features(db, [i for i in neighbours if i not in reports])
    cache.update(reports)
    comparer = Comparer(list(reports.values()))
    columns = [r.id for r in comparer.reports]
    # Per-column facts as arrays, so each pending report is compared with the window at once.
    column_of = {doc_id: c for c, doc_id in enumerate(columns)}
    stories = np.array([r.story_id or -1 for r in comparer.reports], dtype=np.int64)
    published = np.array([_seconds(r.published) for r in comparer.reports])
    created = np.array([_seconds(r.created or r.when) for r in comparer.reports])
    # Languages as small integers (-1: none): a row of them compares ten times faster than strings.
    codes: dict[str, int] = {}
    languages = np.array(
        [codes.setdefault(r.language, len(codes)) if r.language else -1 for r in comparer.reports],
        dtype=np.int64,
    )
    seconds = window.total_seconds()
    stamp = now()
    for doc_id, text, signals, specific in _compared(comparer, pending):
        report = reports[doc_id]
        me = column_of[doc_id]
        both_dated = ~np.isnan(published) & ~np.isnan(published[me])
        apart = np.where(
            both_dated, np.abs(published - published[me]), np.abs(created - created[me])
        )
        candidate = (stories >= 0) & (apart <= seconds)
        candidate[me] = False
        same = (languages == languages[me]) & (languages[me] >= 0)
        linked = (
            np.where(
                same,
                (text >= TEXT_STRONG) | ((text >= TEXT_MIN) & (signals >= SIGNALS_SUPPORT)),
                (signals >= SIGNALS_CROSS) & (specific >= MIN_SHARED),
            )
            & candidate
        )
        scores = np.where(same, text, signals)
        closest: tuple[float, int, Link] | None = None
        if candidate.any():
            c = int(np.argmax(np.where(candidate, scores, -np.inf)))
            link = comparer.link(doc_id, columns[c], text[c], signals[c], specific[c])
            closest = (link.score, columns[c], link)
        eligible: list[tuple[float, float, int, int, Link]] = []
        for story_id in np.unique(stories[linked]):
            in_story = candidate & (stories == story_id)
            hits = linked & in_story
            # Majority link: most of the story's reports must agree, not one follow-up.
            if hits.sum() * 2 < in_story.sum():
                continue
            c = int(np.argmax(np.where(hits, scores, -np.inf)))
            strongest = comparer.link(doc_id, columns[c], text[c], signals[c], specific[c])
            ratio = float(hits.sum() / in_story.sum())
            eligible.append((ratio, strongest.score, int(story_id), columns[c], strongest))
        eligible.sort(key=lambda e: (-e[0], -e[1], e[2]))
        if eligible:
            _, _, story_id, partner, link = eligible[0]
            decision, canonical, reason = "same_story", partner, f"joins story #{story_id}: "
            reason += link.explain()
            score, threshold = link.score, link.threshold
            result.joined += 1
            # A report that links to several stories shows they are one: an English report
            # filed before its original, a translation filed before either.
            for _, _, other_story, other_partner, other_link in eligible[1:]:
                _merge(db, reports, other_story, story_id, result)
                stories[stories == other_story] = story_id
                _log(db, doc_id, other_partner, other_link.score, other_link.threshold,
                     "same_story", f"merges story #{other_story} into #{story_id}:"
                     f" {other_link.explain()}", run_id, stamp)  # fmt: skip
        else:
            cursor = db.conn.execute(
                "INSERT INTO stories (created_at, updated_at, document_count) VALUES (?, ?, 1)",
                [stamp, stamp],
            )
            story_id = int(cursor.lastrowid or 0)
            result.created += 1
            if closest is None:
                decision, canonical, score, threshold = "distinct", None, None, None
                reason = f"opens story #{story_id}: no other report in the window"
            else:
                score, canonical, link = closest
                decision, threshold = "distinct", link.threshold
                reason = f"opens story #{story_id}: closest report #{canonical} does not link"
                reason += f" ({link.explain()})"
        report.story_id = story_id
        stories[me] = story_id
        result.assigned += 1
        result.touched.add(story_id)
        db.conn.execute("UPDATE documents SET story_id = ? WHERE id = ?", [story_id, doc_id])
        _log(db, doc_id, canonical, score, threshold, decision, reason, run_id, stamp)


def _compared(
    comparer: Comparer, ids: list[int]
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(id, text cosine, signal overlap, shared specific signals against every report) of each
    id in turn, computed COMPARE_ROWS ids at a time (each row is what it would be alone)."""
    for start in range(0, len(ids), COMPARE_ROWS):
        block = ids[start : start + COMPARE_ROWS]
        text, signals, specific = comparer.compare(block)
        for row, doc_id in enumerate(block):
            yield doc_id, text[row], signals[row], specific[row]


def _log(
    db: Database,
    document_id: int,
    other_id: int | None,
    score: float | None,
    threshold: float | None,
    decision: str,
    reason: str,
    run_id: str | None,
    stamp: str,
) -> None:
    db.conn.execute(
        "INSERT INTO dedup_decisions (document_id, canonical_id, method, score, threshold,"
        " decision, reason, run_id, decided_at) VALUES (?, ?, 'story', ?, ?, ?, ?, ?, ?)",
        [document_id, other_id, None if score is None else round(score, 4), threshold, decision,
         reason, run_id, stamp],
    )  # fmt: skip


def _merge(
    db: Database, reports: dict[int, Report], source: int, target: int, result: StoryResult
) -> None:
    """Move every report (and copy) of story `source` into story `target`."""
    db.conn.execute("UPDATE documents SET story_id = ? WHERE story_id = ?", [target, source])
    for report in reports.values():
        if report.story_id == source:
            report.story_id = target
    result.touched |= {source, target}
    result.merged += 1


def _seconds(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("nan")


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _propagate_to_copies(db: Database, result: StoryResult) -> None:
    """Copies share their canonical's story (only copies whose story differs are touched)."""
    rows = db.execute(
        "SELECT d.id, d.story_id, c.story_id FROM documents d JOIN documents c"
        " ON c.id = d.duplicate_of WHERE d.story_id IS NOT c.story_id"
        " AND d.duplicate_of IN (SELECT id FROM documents WHERE story_id IN"
        f" ({','.join('?' * len(result.touched))}))"
        if result.touched
        else "SELECT NULL, NULL, NULL WHERE 0",
        list(result.touched),
    ).fetchall()
    rows += db.execute(
        "SELECT d.id, d.story_id, c.story_id FROM documents d JOIN documents c"
        " ON c.id = d.duplicate_of WHERE d.story_id IS NULL AND c.story_id IS NOT NULL"
    ).fetchall()
    for doc_id, old, new in rows:
        if old is not None:
            result.touched.add(old)
        if new is not None:
            result.touched.add(new)
        db.conn.execute("UPDATE documents SET story_id = ? WHERE id = ?", [new, doc_id])


def refresh_stories(
    db: Database, story_ids: Iterable[int], result: StoryResult | None = None
) -> None:
    """Recompute each story's title, dates, languages, outlets and count; drop empty stories."""
    stamp = now()
    for story_id in sorted(set(story_ids)):
        cursor = db.execute(
            "SELECT d.id, d.title, d.language, d.word_count, d.duplicate_of, d.source, d.url,"
            " f.name, coalesce(d.event_at, d.published_at, d.created_at) AS at, d.body"
            " FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id WHERE d.story_id = ?"
            " ORDER BY at, d.id",
            [story_id],
        )
        members = cursor.fetchall()
        if not members:
            db.conn.execute("DELETE FROM stories WHERE id = ?", [story_id])
            if result is not None:
                result.removed += 1
            continue
        canonical = [m for m in members if m[4] is None] or members
        languages = Counter(m[2] for m in canonical if m[2])
        primary = primary_language(languages)
        lead = min(
            (m for m in canonical if m[2] == primary or primary is None),
            key=lambda m: (-(m[3] or 0), m[8], m[0]),
            default=canonical[0],
        )
        title = lead[1] or _first_sentence(lead[9])
        outlets = list(dict.fromkeys(o for m in members if (o := outlet_name(m[5], m[7], m[6]))))
        db.conn.execute(
            "UPDATE stories SET title = ?, first_published_at = ?, last_published_at = ?,"
            " document_count = ?, languages = ?, sources = ?, updated_at = ? WHERE id = ?",
            [title, members[0][8], members[-1][8], len(members), json.dumps(sorted(languages)),
             json.dumps(outlets), stamp, story_id],
        )  # fmt: skip


def primary_language(languages: Counter[str | None]) -> str | None:
    """The story's main language: the most reports, English on a tie, then alphabetical."""
    counted = [(count, lang == "en", lang) for lang, count in languages.items() if lang]
    if not counted:
        return None
    return max(counted, key=lambda c: (c[0], c[1], [-ord(ch) for ch in c[2]]))[2]


def _first_sentence(body: str) -> str:
    first = body.strip().split("\n", 1)[0]
    cut = first.find(". ")
    first = first[: cut + 1] if 0 < cut < 120 else first
    return first if len(first) <= 120 else first[:119].rstrip() + "…"


# --- reading -------------------------------------------------------------------------------------


def _rows(db: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def digest_entries(
    db: Database,
    *,
    since: str | None = None,
    limit: int | None = None,
    only: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """The digest: one entry per story (with its reports and outlets), then documents without one.

    Each entry has `kind` (story | document), `title`, `summary` lines as (text, document id,
    outlet), `sources` (document id, title, outlet, location, and its copies) and dates. `since`
    keeps entries with a report created or changed since then; `only` those with one of these
    documents (a topic's). Boilerplate-only documents are left
    out (they are flagged, not news). `limit` keeps at least that many entries, the first ones.
    """
    where = "d.duplicate_of IS NULL AND coalesce(d.summary_status, '') != 'boilerplate'"
    params: list[Any] = []
    if since:
        where += " AND (d.created_at >= ? OR d.updated_at >= ?)"
        params += [since, since]
    if only is not None:
        where += " AND d.id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(only)))
    documents = _rows(
        db,
        f"""
        SELECT d.id, d.story_id, d.title, d.language, d.source, d.url, d.path, d.published_at,
               d.created_at, d.summary_status, d.outlets, f.name AS feed_name,
               substr(d.body, 1, 200) AS lede,
               (SELECT s.text FROM summaries s WHERE s.document_id = d.id
                ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS summary
        FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id
        WHERE {where}
        ORDER BY coalesce(d.published_at, d.created_at) DESC, d.id
        """,
        params,
    )
    if limit is not None:
        documents = _first_entries(documents, limit)
    story_ids = sorted({d["story_id"] for d in documents if d["story_id"] is not None})
    stories = {
        s["id"]: s
        for s in _rows(
            db, f"SELECT * FROM stories WHERE id IN ({','.join('?' * len(story_ids))})", story_ids
        )
    } if story_ids else {}  # fmt: skip
    members: dict[int, list[dict[str, Any]]] = {}
    if story_ids:
        for row in _rows(
            db,
            f"""
            SELECT d.id, d.story_id, d.title, d.language, d.source, d.url, d.path,
                   d.published_at, d.created_at, d.summary_status, d.outlets,
                   f.name AS feed_name, substr(d.body, 1, 200) AS lede,
                   (SELECT s.text FROM summaries s WHERE s.document_id = d.id
                    ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS summary
            FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id
            WHERE d.story_id IN ({",".join("?" * len(story_ids))}) AND d.duplicate_of IS NULL
            ORDER BY coalesce(d.event_at, d.published_at, d.created_at), d.id
            """,
            story_ids,
        ):
            members.setdefault(row["story_id"], []).append(row)
    copies = _copies(
        db, [d["id"] for d in documents] + [m["id"] for r in members.values() for m in r]
    )
    for row in documents + [m for rows in members.values() for m in rows]:
        row["copy_rows"] = copies.get(row["id"], [])
    entries: list[dict[str, Any]] = []
    seen_stories: set[int] = set()
    for document in documents:
        story_id = document["story_id"]
        if story_id is not None and story_id in stories:
            if story_id in seen_stories:
                continue
            seen_stories.add(story_id)
            entries.append(_story_entry(stories[story_id], members.get(story_id, [document])))
        else:
            entries.append(_document_entry(document))
    return entries


def _copies(db: Database, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The duplicates of each canonical document: id, outlet and where to find it."""
    found: dict[int, list[dict[str, Any]]] = {}
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in _rows(
            db,
            "SELECT d.id, d.duplicate_of, d.source, d.url, d.path, f.name AS feed_name"
            " FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id"
            f" WHERE d.duplicate_of IN ({','.join('?' * len(chunk))}) ORDER BY d.id",
            chunk,
        ):
            outlet = outlet_name(row["source"], row["feed_name"], row["url"])
            found.setdefault(row["duplicate_of"], []).append(
                {"document_id": row["id"], "outlet": outlet, "location": row["url"] or row["path"]}
            )
    return found


def _source(row: dict[str, Any]) -> dict[str, Any]:
    named = outlet_name(row.get("source"), row.get("feed_name"), row.get("url"))
    return {
        "document_id": row["id"],
        "title": row.get("title") or _first_sentence(row.get("lede") or ""),
        "outlet": named or ("local file" if row.get("path") else "unknown"),
        "named_outlet": named,
        "location": row.get("url") or row.get("path"),
        "language": row.get("language"),
        "published_at": row.get("published_at"),
        "copies": row.get("copy_rows", []),  # duplicates: document_id, outlet, location
    }


def _document_entry(row: dict[str, Any]) -> dict[str, Any]:
    source = _source(row)
    lines = [
        (line, row["id"], source["outlet"]) for line in (row.get("summary") or "").splitlines()
    ]
    return {
        "kind": "document",
        "id": row["id"],
        "title": source["title"],
        "languages": [row["language"]] if row.get("language") else [],
        "published_at": row.get("published_at"),
        "summary": [line for line in lines if line[0].strip()],
        "status": None if row.get("summary") else row.get("summary_status"),
        "sources": [source],
    }


def _first_entries(documents: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The documents (in digest order) that make the first `limit` entries: one per story, one
    per document without a story. Building every entry of a large database only to show ten
    would cost more than the rest of a run with nothing new."""
    keys: set[tuple[str, int]] = set()
    kept = []
    for document in documents:
        story_id = document["story_id"]
        key = ("story", story_id) if story_id is not None else ("document", document["id"])
        if key not in keys:
            if len(keys) == limit:
                break
            keys.add(key)
        kept.append(document)
    return kept


def _story_entry(story: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    sources = [_source(row) for row in rows]
    outlet_of = {s["document_id"]: s["outlet"] for s in sources}
    lines: list[tuple[str, int, str | None]] = []
    if story.get("summary"):
        behind = json.loads(story.get("summary_sources") or "[]")
        for index, line in enumerate(story["summary"].splitlines()):
            document_id = int(behind[index]) if index < len(behind) else rows[0]["id"]
            lines.append((line, document_id, outlet_of.get(document_id)))
    else:
        # One report (or no story summary yet): its own summary stands in.
        lead = next((row for row in rows if row.get("summary")), rows[0])
        lines = [(line, lead["id"], outlet_of.get(lead["id"]))
                 for line in (lead.get("summary") or "").splitlines() if line.strip()]  # fmt: skip
    return {
        "kind": "story",
        "id": story["id"],
        "title": story.get("title") or sources[0]["title"],
        "languages": json.loads(story.get("languages") or "[]"),
        "published_at": story.get("first_published_at"),
        "last_published_at": story.get("last_published_at"),
        "outlets": json.loads(story.get("sources") or "[]"),
        "document_count": story.get("document_count"),
        "summary": lines,
        "status": None,
        "sources": sources,
    }


__all__ = ["DEFAULT_WINDOW_DAYS", "Comparer", "StoryResult", "assign_stories", "digest_entries"]
