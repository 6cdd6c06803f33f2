"""How near-duplicate work grows with the stored window: the cost of one run's new documents.

For each size N, `benchmarks.corpus` writes N distinct documents recombined from real sentences
(2 % of them labelled near-duplicates) plus 100 held back. The N are stored and decided; then the
100 arrive as a new run. If candidates come from indexed LSH look-ups, the new run's time per
document and candidates per document stay flat as N grows; a full scan would grow with N.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks import corpus
from newsflow.db import open_db
from newsflow.tasks.dedup import neardup
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.store import writer

NEW = 100


def _store_folder(db: Any, folder: Path, run_id: str) -> int:
    entries, _ = scan.scan_folder(folder)
    items = [item for entry in entries for item in loader.load_file(entry)[0]]
    writer.save_items(db, items, run_id=run_id)
    return len(items)


def measure(sizes: list[int], workdir: Path) -> list[dict[str, Any]]:
    """One row per size: the initial decision of N documents, then a run of 100 new ones."""
    sources = corpus.load_sources()
    rows = []
    for size in sizes:
        folder = workdir / f"corpus-{size}"
        manifest = corpus.generate(folder, n=size, extra=NEW, near_duplicates=0.02, sources=sources)
        db = open_db(workdir / f"scale-{size}.db")
        stored = _store_folder(db, folder / "docs", "initial")
        started = time.perf_counter()
        initial = neardup.deduplicate(db, run_id="initial")
        initial_seconds = time.perf_counter() - started
        _store_folder(db, folder / "extra", "new")
        started = time.perf_counter()
        new = neardup.deduplicate(db, run_id="new")
        new_seconds = time.perf_counter() - started
        labelled = {
            f"file:{d['path']}": f"file:{d['near_duplicate_of']}"
            for d in manifest["documents"]  # type: ignore[attr-defined]
            if d.get("near_duplicate_of")
        }
        found = 0
        for key, original in labelled.items():
            pair = db.execute(
                "SELECT coalesce(a.duplicate_of, a.id), coalesce(b.duplicate_of, b.id)"
                " FROM documents a, documents b WHERE a.key = ? AND b.key = ?",
                [key, original],
            ).fetchone()
            found += bool(pair) and pair[0] == pair[1]
        rows.append(
            {
                "stored": stored,
                "initial_seconds": round(initial_seconds, 2),
                "initial_ms_per_document": round(1000 * initial_seconds / max(1, stored), 2),
                "new_documents": new.checked,
                "new_run_seconds": round(new_seconds, 3),
                "new_ms_per_document": round(1000 * new_seconds / max(1, new.checked), 2),
                "candidates_per_new_document": round(new.candidates / max(1, new.checked), 2),
                "duplicates_found": initial.duplicates,
                "labelled_near_duplicates_found": f"{found}/{len(labelled)}",
            }
        )
        db.conn.close()
    return rows
