"""What language-aware search costs: query latency over a database, and the extra store cost.

    python -m benchmarks.search latency DB [--query "two words" ...] [--repeat 20]
    python -m benchmarks.search store CORPUS_DIR [--n 5000]

`latency` times `newsflow.tasks.search.engine.search` (a two-word query by default, grouped by
story) and `matching_ids` over 100 ids, in one process after a first, cold query. `store` parses
the files as the parse workers do, then stores them on a fresh database and reports how much of the
store's time went into the search index (its entries made by the workers, its rows written by the
store), and what making the entries added to the workers' feature time."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from newsflow.db import open_db
from newsflow.tasks.common import shingles
from newsflow.tasks.pipeline import batches, features
from newsflow.tasks.search import engine
from newsflow.tasks.store import run_log, search_index, transaction, writer

DEFAULT_QUERIES = ("Cambodia cooperation", "prime minister", "bank interest", "Japan meetings")


def latency(db_path: Path, queries: list[str], repeat: int) -> None:
    """Print the median and worst search time of each query, and of matching_ids over 100 ids."""
    db = open_db(db_path)
    count = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    started = time.perf_counter()
    engine.search(db, queries[0], limit=20)
    first = 1000 * (time.perf_counter() - started)
    print(f"{count} documents; first query (loads stemmers, gazetteer) {first:.1f} ms")
    for query in queries:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            results = engine.search(db, query, limit=20)
            times.append(1000 * (time.perf_counter() - started))
        matched = len(engine.matching_ids(db, query))
        print(
            f"{query!r}: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms;"
            f" {matched} documents match, {len(results)} stories shown"
        )
    newest = [row[0] for row in db.execute("SELECT id FROM documents ORDER BY id DESC LIMIT 100")]
    spread = [row[0] for row in db.execute("SELECT id FROM documents WHERE id % 50 = 0")]
    for name, ids in (("the 100 newest ids", newest), (f"{len(spread)} ids spread out", spread)):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            engine.matching_ids(db, queries[0], ids)
            times.append(1000 * (time.perf_counter() - started))
        print(f"matching_ids({queries[0]!r}, {name}): median {statistics.median(times):.1f} ms")


def store_cost(corpus: Path, n: int) -> None:
    """Print the store's time with the search index's share, and the workers' added time."""
    root = corpus.resolve()
    paths = sorted(str(p) for p in root.rglob("*.txt"))[:n]
    parsed = batches.parse_files(str(root), paths)
    items = parsed.items
    entry_seconds = 0.0
    for item in items:  # what features.compute now does beyond what it did before
        tokens = shingles.tokens(item.body, item.language)  # the parse has these already
        signals = parsed.features[item.key].signals
        started = time.process_time()
        search_index.entry(
            item.title, item.body, item.language, body_tokens=tokens, signals=signals
        )
        entry_seconds += time.process_time() - started
    write_seconds = 0.0
    original = search_index.write

    def timed(db: object, rows: object) -> None:
        nonlocal write_seconds
        started = time.process_time()
        original(db, rows)  # type: ignore[arg-type]
        write_seconds += time.process_time() - started

    search_index.write = timed  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(Path(folder) / "store.db")
        run_id = run_log.start_run(db, parameters={}, trigger="test")
        entries = {key: found.search for key, found in parsed.features.items()}
        started = time.process_time()
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            with transaction.write_transaction(db):
                counts = writer.save_items(db, chunk, run_id=run_id, search_entries=entries)
                features.save(db, counts.saved, parsed.features)
        total = time.process_time() - started
    search_index.write = original  # type: ignore[assignment]
    print(
        f"{len(items)} documents stored in {total:.2f} s CPU, of which the search index rows"
        f" {write_seconds:.2f} s ({100 * write_seconds / total:.0f} %);"
        f" workers' features {parsed.cpu.get('features', 0.0):.2f} s CPU, of which search entries"
        f" about {entry_seconds:.2f} s (joining tokens the parse made, the title stemmed)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    timing = commands.add_parser("latency")
    timing.add_argument("db", type=Path)
    timing.add_argument("--query", action="append", dest="queries")
    timing.add_argument("--repeat", type=int, default=20)
    storing = commands.add_parser("store")
    storing.add_argument("corpus", type=Path)
    storing.add_argument("--n", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.command == "latency":
        latency(args.db, args.queries or list(DEFAULT_QUERIES), args.repeat)
    else:
        store_cost(args.corpus, args.n)


if __name__ == "__main__":
    main()
