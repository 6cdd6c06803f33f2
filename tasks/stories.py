"""Stories: reports of the same event grouped within a time window, across outlets and languages.

Near-duplicates (`tasks/neardup.py`) are copies of one text; a story is looser: different reports
of one event, in any wording or language. Each canonical report, in time order, joins the story it
is most similar to or opens a new one (`tasks/story_clusters.py` holds the stories, their index
and the scoring). This module computes what is compared (terms of the headline and lede, of the
whole text, and the signals that survive translation), reads and writes the database, and builds
the digest's entries. Duplicates share their canonical's story. Every assignment is a
`dedup_decisions` row with method `story`, its score, threshold and reason.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlite_utils import Database

from tasks import entities, shingles, story_clusters, story_state
from tasks.gazetteer import fold
from tasks.neardup import outlet_name, parse_time
from tasks.sentences import PUNKT_LANGUAGES, split_sentences
from tasks.store import now, write_transaction

if TYPE_CHECKING:  # SciPy loads when a matrix is first built, not with the module (0.15 s)
    from scipy import sparse

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 7
# Part of every stored feature row: change it whenever report_features changes.
FEATURES_SETTINGS = "stories-v2"
LEDE_TOKENS = 30  # the lede, as words: about the first sentence of a news text
CHUNK = 500  # pending reports read (and their window's stories loaded) at a time


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
    stop = stop_stems(language)
    prefix = f"{language or 'xx'}{story_clusters.HEAD_MARK}"
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


# --- TF-IDF (story summaries weigh sentences with it) --------------------------------------------


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
    """Give every canonical report without a story one; refresh the stories that changed.

    The clusterer's stories, index and frequencies are stored (`tasks/story_state.py`): each
    chunk of new reports reads only the stories and index entries its reports look up, and
    writes back what changed in its own transaction, where another writer's stories are seen."""
    result = StoryResult(touched=set(dirty))
    with write_transaction(db):
        if not story_state.is_built(db):  # a database from before the state: build it once
            _build_state(db, window_days)
        if result.touched:  # near-duplicates moved reports of these stories: weigh them again
            stored = _stored(db, window_days, _spans(db, result.touched))
            stored.rebuild(result.touched)
            stored.save()
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
                try:
                    _assign_chunk(db, pending, window_days, run_id, result)
                except BaseException:  # rolled back: what the kept clusterer holds was not saved
                    _kept.pop(_database_file(db), None)
                    raise
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


# The stored clusterer of this process's last pass over each database file, with the stories,
# index entries and frequencies it read or made. A run decides after every ingest batch; the next
# pass uses it while the stored state is as it left it (no other writer saved since), instead of
# reading them again. The flow lets go of it after a run's last pass (`release_kept`).
_kept: dict[str, story_state.StoredClusterer] = {}


def release_kept() -> None:
    """Let go of the kept clusterers (a run's last pass is over: its memory is the summaries')."""
    _kept.clear()


def _database_file(db: Database) -> str:
    row = db.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return str(row[0]) if row and row[0] else f"memory:{id(db.conn)}"


def _stored(
    db: Database, window_days: int, span: tuple[float, float]
) -> story_state.StoredClusterer:
    """The kept clusterer of this database when the stored state is as it left it, else a new
    one; its frequencies those of the window around `span`."""
    name = _database_file(db)
    kept = _kept.get(name)
    if (
        kept is not None
        and kept.clusterer.window == window_days * story_clusters.DAY
        and kept.generation == story_state.generation(db)
    ):
        kept.db = db
        kept.read = lambda ids: _features(db, ids)
        kept.move_to(span)
        return kept
    fresh = story_state.StoredClusterer(
        db, window_days=window_days, span=span, read=lambda ids: _features(db, ids),
        profile=_profile,
    )  # fmt: skip
    _kept[name] = fresh
    return fresh


def _spans(db: Database, story_ids: Iterable[int]) -> tuple[float, float]:
    """The time span of these stories' reports as the story window sees it."""
    row = db.execute(
        "SELECT min(coalesce(event_at, published_at, created_at)),"
        " max(coalesce(event_at, published_at, created_at)) FROM documents"
        " WHERE story_id IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(story_ids))],
    ).fetchone()
    if not row or row[0] is None:
        stamp = parse_time(now()).timestamp()
        return stamp, stamp
    return parse_time(row[0]).timestamp(), parse_time(row[1]).timestamp()


def _build_state(db: Database, window_days: int) -> None:
    """Build the stored state of every story, oldest first (once, for a database from before it)."""
    story_ids = [
        row[0]
        for row in db.execute(
            "SELECT story_id FROM documents WHERE story_id IS NOT NULL AND duplicate_of IS NULL"
            " GROUP BY story_id ORDER BY max(coalesce(event_at, published_at, created_at)),"
            " story_id"
        ).fetchall()
    ]
    for start in range(0, len(story_ids), CHUNK):
        chunk = story_ids[start : start + CHUNK]
        stored = _stored(db, window_days, _spans(db, chunk))
        stored.rebuild(chunk)
        stored.save()
    story_state.mark_built(db)


def forget_stories(db: Database) -> int:
    """Undo every story assignment, for `assign_stories` to decide them all again from the stored
    features (`newsflow dedup --stories`); how many stories there were. Story ids are not reused."""
    with write_transaction(db):
        count = int(db.execute("SELECT count(*) FROM stories").fetchone()[0])
        db.conn.execute("UPDATE documents SET story_id = NULL WHERE story_id IS NOT NULL")
        db.conn.execute("DELETE FROM stories")
        story_state.forget(db)
        story_state.mark_built(db)
        story_state.advance(db)
    _kept.pop(_database_file(db), None)
    return count


def _assign_chunk(
    db: Database,
    pending: list[int],
    window_days: int,
    run_id: str | None,
    result: StoryResult,
) -> None:
    reports = _features(db, pending)
    times = [r.seconds() for r in reports.values()]
    stored = _stored(db, window_days, (min(times), max(times)))
    clusterer = stored.clusterer
    clusterer.forget_before(min(times))  # stories held in memory that the window left
    # The chunk's reports count in the frequencies before they are weighed, as those of a
    # clusterer that read the window and then the chunk.
    stored.count(reports.values())
    ordered = sorted(reports.values(), key=lambda r: (r.seconds(), r.id))
    profiles = stored.profiles(ordered)
    stamp = now()
    for report in ordered:
        profile = profiles[report.id]
        joining, closest = clusterer.best(profile)
        if joining:
            chosen = joining[0]
            story_id = chosen.story
            partner: int | None = clusterer.stories[story_id].lead
            score: float | None = chosen.score
            threshold: float | None = chosen.threshold
            decision = "same_story"
            reason = f"joins story #{story_id}: {chosen.explain()}"
            result.joined += 1
        else:
            cursor = db.conn.execute(
                "INSERT INTO stories (created_at, updated_at, document_count) VALUES (?, ?, 1)",
                [stamp, stamp],
            )
            story_id = int(cursor.lastrowid or 0)
            result.created += 1
            decision = "distinct"
            if closest is None:
                partner = score = threshold = None
                reason = f"opens story #{story_id}: no story in the window shares its words or"
                reason += " signals"
            else:
                partner = clusterer.stories[closest.story].lead
                score, threshold = closest.score, closest.threshold
                reason = f"opens story #{story_id}: closest story #{closest.story} does not"
                reason += f" join ({closest.explain()})"
        stored.add(profile, story_id)
        report.story_id = story_id
        result.assigned += 1
        result.touched.add(story_id)
        db.conn.execute("UPDATE documents SET story_id = ? WHERE id = ?", [story_id, report.id])
        _log(db, report.id, partner, score, threshold, decision, reason, run_id, stamp)
    stored.save()


def _profile(clusterer: story_clusters.Clusterer, report: Report) -> story_clusters.Profile:
    return clusterer.profile(
        report.id, report.language, report.seconds(), report.terms, report.signals,
        dated=report.published is not None,
    )  # fmt: skip


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


__all__ = ["DEFAULT_WINDOW_DAYS", "StoryResult", "assign_stories", "digest_entries"]
