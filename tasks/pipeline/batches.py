"""The CPU-heavy halves of ingest and summarisation, as batches that can run in any process.

Plain data in, plain data out, no database: the flow runs these in a worker process (or on a Dask
worker) and writes what they return in the main process, the one writer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsflow.tasks.common.sentences import split_paragraphs
from newsflow.tasks.ingest import loader
from newsflow.tasks.pipeline import features
from newsflow.tasks.pipeline.features import Features
from newsflow.tasks.store.models import Item, Reject
from newsflow.tasks.store.writer import SummaryRow
from newsflow.tasks.summarise import summarize

log = logging.getLogger(__name__)


@dataclass
class ParsedFiles:
    """A batch of files read and cleaned: the items to store and the files refused."""

    items: list[Item] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    features: dict[str, Features] = field(default_factory=dict)  # by item key
    # Summaries of the items when asked for, numbered by their position in `items`.
    summaries: Summaries | None = None
    # CPU seconds of each stage (read, split, features, summaries): where a run's time goes.
    cpu: dict[str, float] = field(default_factory=dict)


@dataclass
class Summaries:
    """A batch of summaries to store, and the summary status of every document in the batch."""

    rows: list[SummaryRow] = field(default_factory=list)
    statuses: dict[int, str] = field(default_factory=dict)

    def renumbered(self, ids: dict[int, int]) -> Summaries:
        """The batch with its documents numbered anew (old → new); the others are left out."""
        return Summaries(
            [replace(row, document_id=ids[row.document_id]) for row in self.rows
             if row.document_id in ids],
            {ids[i]: status for i, status in self.statuses.items() if i in ids},
        )  # fmt: skip

    def only(self, document_ids: set[int]) -> Summaries:
        """The part of the batch about these documents (the others became copies meanwhile)."""
        return Summaries(
            [row for row in self.rows if row.document_id in document_ids],
            {i: status for i, status in self.statuses.items() if i in document_ids},
        )


def parse_files(
    seeds_dir: str, paths: list[str], summarise_as: tuple[str, str] | None = None
) -> ParsedFiles:
    """Read, decode, clean, language-tag and hash a batch of files found by a scan; compute what
    dedup and stories compare, and the summaries (method, length) when `summarise_as` says."""
    root = Path(seeds_dir).resolve()
    parsed = ParsedFiles()
    lap = _stages(parsed.cpu)
    for path in paths:
        # A file may have changed or gone since the scan: load_path refuses it, never raises.
        found, refused = loader.load_path(root, Path(path))
        parsed.items.extend(found)
        parsed.rejects.extend(refused)
    lap("read")  # with decoding, cleaning, language and hashing
    # Sentences once per body: story signals (names) and the summariser both use them.
    split = [split_paragraphs(item.body, item.language or "en") for item in parsed.items]
    lap("split")
    # Here, in parallel, rather than in the one writer process that decides dedup and stories.
    parsed.features = {
        item.key: features.compute(item, paragraphs)
        for item, paragraphs in zip(parsed.items, split, strict=True)
    }
    lap("features")
    if summarise_as is not None:
        # Here too, while the text is at hand: the writer keeps the summaries of the documents
        # that are still canonical once dedup has decided, rather than reading them back later.
        documents: list[dict[str, object]] = [
            {"id": i, "body": item.body, "language": item.language,
             "content_hash": item.content_hash, "paragraphs": paragraphs,
             "headline_only": item.headline_only}
            for i, (item, paragraphs) in enumerate(zip(parsed.items, split, strict=True))
        ]  # fmt: skip
        parsed.summaries = summarise(documents, *summarise_as)
        lap("summaries")
    return parsed


def _stages(seconds: dict[str, float]) -> Callable[[str], None]:
    """`lap(name)` adds the CPU seconds since the previous lap (or this call) to seconds[name]."""
    last = time.process_time()

    def lap(name: str) -> None:
        nonlocal last
        now = time.process_time()
        seconds[name] = seconds.get(name, 0.0) + now - last
        last = now

    return lap


def summarise(documents: list[dict[str, object]], method: str, length: str) -> Summaries:
    """Summaries of stored documents (id, body, language, content_hash, headline_only) for one
    method/length."""
    results, statuses = summarize.summarise_documents(
        documents, method=method, length=summarize.parse_length(length)
    )
    rows = [
        SummaryRow(
            document_id,
            method,
            length,
            summarize.SETTINGS_VERSION,
            digest,
            summary.text,
            summary.indexes,
        )  # fmt: skip
        for document_id, digest, summary in results
    ]
    return Summaries(rows, statuses)


def warm_up() -> int:
    """Load what a worker needs before its first batch (language model, stemmers, gazetteer);
    its pid. The pool's fork server runs it once (flows/worker_start.py); in a worker forked from
    it, it finds everything loaded."""
    import os

    from newsflow.tasks.ingest.language import detect_language

    sample = "A sentence long enough for the language identifier to load its model, in Japan."
    detect_language(sample)
    features.compute(Item(key="warm-up", body=sample, title="Warm up", language="en"))
    return os.getpid()
