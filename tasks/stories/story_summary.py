"""Story summaries: extractive, over a story's reports, redundancy removed, every line credited.

Sentences come from the canonical reports of the story's main language. Each sentence scores by
how close it is to the story's centre (every report weighs the same, however long) with a bonus
for the lead, where news puts what matters; Maximal Marginal Relevance then picks sentences one at
a time, penalising similarity to those already picked, so three outlets' versions of the same lede
yield one line, not three. Lines are stored in `stories.summary` (one per line, in report and
sentence order) and the document behind each line in `stories.summary_sources`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlite_utils import Database

from newsflow.tasks.common.gazetteer import fold
from newsflow.tasks.common.sentences import replay, split_sentences, words
from newsflow.tasks.store.transaction import write_transaction
from newsflow.tasks.store.writer import now
from newsflow.tasks.stories import entities
from newsflow.tasks.stories.report_terms import (
    normalise_rows,
    primary_language,
    terms,
    tfidf_matrix,
)

log = logging.getLogger(__name__)

SETTINGS = "mmr-v1"
SENTENCES = 4
LAMBDA = 0.6  # relevance against redundancy
LEAD_BONUS = 0.2
REDUNDANT = 0.5  # a sentence this close to a chosen one is never added
MIN_WORDS, MAX_WORDS = 6, 60
MAX_CANDIDATES = 240  # sentences compared per story (their similarity matrix is quadratic)


@dataclass(frozen=True)
class Line:
    """One summary sentence and where it came from."""

    text: str
    document_id: int
    position: int  # index among the report's sentences


def summarise(reports: list[dict[str, object]], *, sentences: int = SENTENCES) -> list[Line]:
    """Pick `sentences` lines from the reports (dicts with id, body, language, title, and maybe
    sentences: where the parse found them, `features.compute`'s JSON)."""
    language = primary_language(Counter(str(r["language"]) for r in reports if r.get("language")))
    chosen_reports = [r for r in reports if r.get("language") == language] or reports
    # A headline is no summary sentence while a report with text is there to quote from.
    chosen_reports = [r for r in chosen_reports if not r.get("headline_only")] or chosen_reports
    candidates: list[Line] = []
    seen: set[str] = set()
    for report in chosen_reports:
        lang = str(report.get("language") or "en")
        for position, sentence in enumerate(_sentences(report, lang)):
            # A sentence several outlets carry word for word is credited to the first report.
            key = " ".join(fold(sentence).split())
            if key in seen or not MIN_WORDS <= len(words(sentence)) <= MAX_WORDS:
                continue
            seen.add(key)
            candidates.append(Line(sentence, int(report["id"]), position))  # type: ignore[call-overload]
    if not candidates:
        return []
    if len(candidates) > MAX_CANDIDATES:
        # A story carried by dozens of outlets: keep every report's leading sentences (where news
        # puts what matters, and what the lead bonus favours), so the cost stays bounded.
        kept = sorted(range(len(candidates)), key=lambda i: (candidates[i].position, i))
        candidates = [candidates[i] for i in sorted(kept[:MAX_CANDIDATES])]
    lang = language or "en"
    # Words and the signals (names, figures, dates): two ledes that say "24 March" and "Sony"
    # in different words are still the same line.
    features = [
        dict(terms(None, c.text, lang))
        | dict.fromkeys(entities.signals(c.text, lang, sentence=True), 2.0)
        for c in candidates
    ]
    # Dense from here: a story's few hundred sentences are cheaper as arrays than as sparse ones.
    vectors = normalise_rows(tfidf_matrix(features, sublinear=True, n=len(candidates))).toarray()
    # The centre: the mean of each report's own mean sentence vector, so reports count equally.
    by_report: dict[int, list[int]] = {}
    for index, line in enumerate(candidates):
        by_report.setdefault(line.document_id, []).append(index)
    centre = np.zeros(vectors.shape[1])
    for indexes in by_report.values():
        centre += vectors[indexes].mean(axis=0)
    centre /= max(np.linalg.norm(centre), 1e-12)
    relevance = vectors @ centre
    lead = np.array([1.0 / (1 + line.position) for line in candidates])
    score = (1 - LEAD_BONUS) * relevance + LEAD_BONUS * lead
    similarity = vectors @ vectors.T
    picked: list[int] = []
    while len(picked) < min(sentences, len(candidates)):
        redundancy = similarity[:, picked].max(axis=1) if picked else np.zeros(len(candidates))
        marginal = LAMBDA * score - (1 - LAMBDA) * redundancy
        marginal[picked] = -np.inf
        marginal[redundancy >= REDUNDANT] = -np.inf
        best = int(np.argmax(marginal))
        if not np.isfinite(marginal[best]):
            break
        picked.append(best)
    order = {report_id: i for i, report_id in enumerate(by_report)}
    return sorted(
        (candidates[i] for i in picked), key=lambda line: (order[line.document_id], line.position)
    )


def _sentences(report: dict[str, object], language: str) -> list[str]:
    """`split_sentences` of the report's body, sliced where the parse found them if it did."""
    body = str(report["body"])
    if report.get("headline_only"):
        # A headline is one line, whatever full stops it holds ("… to buy Jos. A. Bank").
        headline, _, rest = body.partition("\n\n")
        return [headline, *split_sentences(rest, language)] if rest else [headline]
    found = replay(body, report.get("sentences"), language)
    return split_sentences(body, language) if found is None else found


def _input_key(rows: list[tuple[int, str]]) -> str:
    digest = hashlib.sha256(f"{SETTINGS}:{SENTENCES}:{sorted(rows)}".encode()).hexdigest()
    return digest[:32]


# Stories summarised per batch when a pool of workers does it.
STORY_BATCH = 50

Mapper = Callable[[Callable[..., list[list[Line]]], Iterable[tuple[Any, ...]]], Iterable[Any]]


def summarise_stories(stories: list[list[dict[str, object]]]) -> list[list[Line]]:
    """`summarise` of each story's reports: a batch that can run in any process."""
    return [summarise(reports) for reports in stories]


@dataclass(frozen=True)
class Job:
    """A story to summarise: its input key and its canonical reports, in order."""

    story_id: int
    key: str
    reports: list[dict[str, object]]


def update_summaries(
    db: Database, story_ids: Iterable[int] | None = None, *, mapper: Mapper | None = None
) -> int:
    """Summarise stories whose reports changed (or that never had one); returns how many.

    `mapper(function, argument tuples)` runs the batches elsewhere (the flow's worker processes),
    results in order; by default they run here."""
    jobs = plan(db, story_ids)
    return write(db, jobs, (mapper or _here)(summarise_stories, calls(jobs)))


def plan(db: Database, story_ids: Iterable[int] | None = None) -> list[Job]:
    """The stories (these, and any never summarised) whose reports changed since their summary.

    A story of one report is settled here: its report's own summary stands in for it."""
    wanted = set(story_ids or ())
    wanted |= {row[0] for row in db.execute("SELECT id FROM stories WHERE summary_input IS NULL")}
    stamp = now()
    jobs: list[Job] = []
    with write_transaction(db):
        for story_id, key, report_ids in _changed(db, sorted(wanted)):
            if len(report_ids) < 2:
                _save(db, story_id, key, None, stamp)  # the digest falls back to the report's
                continue
            # With where the parse found the body's sentences, when they are of this body.
            cursor = db.execute(
                "SELECT d.id, d.body, d.language, d.title, d.content_hash, d.headline_only,"
                " f.sentences"
                " FROM documents d LEFT JOIN story_features f ON f.document_id = d.id"
                " AND f.content_hash = d.content_hash"
                f" WHERE d.id IN ({','.join('?' * len(report_ids))})",
                report_ids,
            )
            names = [c[0] for c in cursor.description]
            found = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
            jobs.append(Job(story_id, key, [found[i] for i in report_ids]))
    return jobs


def calls(jobs: list[Job]) -> list[tuple[list[list[dict[str, object]]]]]:
    """`summarise_stories` argument tuples for the jobs, STORY_BATCH stories each."""
    return [
        ([job.reports for job in jobs[i : i + STORY_BATCH]],)
        for i in range(0, len(jobs), STORY_BATCH)
    ]


def write(db: Database, jobs: list[Job], results: Iterable[list[list[Line]]]) -> int:
    """Store the summaries computed for the jobs (`summarise_stories` results, batch by batch).

    A story whose reports changed since it was planned (another run, meanwhile) keeps what it
    has: its summary would describe reports it no longer has, and its next run redoes it."""
    lines = [story for batch in results for story in batch]
    stamp = now()
    with write_transaction(db):
        current = {story_id: key for story_id, key, _ in _changed(db, [j.story_id for j in jobs])}
        written = 0
        for job, story in zip(jobs, lines, strict=True):
            if current.get(job.story_id) == job.key:
                _save(db, job.story_id, job.key, story, stamp)
                written += 1
    log.info("story summaries: %d written", written)
    return written


def _changed(db: Database, story_ids: list[int]) -> Iterator[tuple[int, str, list[int]]]:
    """(story, input key, its canonical reports in order) of the stories whose reports changed
    since their summary; read without the bodies, which only multi-report stories need."""
    for start in range(0, len(story_ids), 500):
        chunk = story_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        stored = dict(
            db.execute(f"SELECT id, summary_input FROM stories WHERE id IN ({marks})", chunk)
        )
        reports: dict[int, list[tuple[int, str]]] = {story_id: [] for story_id in stored}
        for story_id, document_id, digest in db.execute(
            f"SELECT story_id, id, content_hash FROM documents WHERE story_id IN ({marks})"
            " AND duplicate_of IS NULL ORDER BY coalesce(event_at, published_at, created_at), id",
            chunk,
        ):
            reports[story_id].append((document_id, digest))
        for story_id in chunk:
            if story_id not in stored:
                continue
            key = _input_key(reports[story_id])
            if stored[story_id] != key:
                yield story_id, key, [document_id for document_id, _ in reports[story_id]]


def _here(
    function: Callable[..., list[list[Line]]], calls: Iterable[tuple[Any, ...]]
) -> Iterator[list[list[Line]]]:
    return (function(*args) for args in calls)


def _save(db: Database, story_id: int, key: str, lines: list[Line] | None, stamp: str) -> None:
    summary = ("\n".join(line.text for line in lines) or None) if lines else None
    sources = json.dumps([line.document_id for line in lines]) if lines else None
    db.conn.execute(
        "UPDATE stories SET summary = ?, summary_sources = ?, summary_input = ?,"
        " updated_at = ? WHERE id = ?",
        [summary, sources, key, stamp, story_id],
    )
