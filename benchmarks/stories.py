"""Story grouping on real multi-outlet news: the UCI News Aggregator headlines.

    python -m benchmarks.stories [--dataset ../shared/corpus/uci-news-aggregator]
                                 [--limit N] [--out benchmarks/out/stories.json] [--keep DIR]

6,366 real headlines from 1,948 publishers, filed by Google News under 87 stories. Each headline
becomes a title-only JSON Lines record (title, url, publisher, time: no body, the shape of a feed
whose pages cannot be fetched) and goes the real way: ingest → store → near-duplicates → stories,
on a fresh SQLite file. Scored against the labels:

* B-cubed precision, recall and F1 over documents (a duplicate counts in its canonical's story);
* pairwise precision and recall, and the same over pairs of different publishers only;
* documents kept, their languages, the number of stories and the largest.

Google News stories are broader than events (days of follow-ups on one subject), so precision is
the guard against wrong merges and recall the measure of linking.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.uci import record
from newsflow.tasks.stories import clusters

DATASET = Path("../shared/corpus/uci-news-aggregator")
OUT = Path("benchmarks/out/stories.json")


def read_rows(dataset: Path) -> list[dict[str, str]]:
    """The rows of the data set's CSV (ID, TITLE, URL, PUBLISHER, CATEGORY, STORY, TIMESTAMP)."""
    files = sorted(dataset.glob("*.csv")) if dataset.is_dir() else [dataset]
    rows: list[dict[str, str]] = []
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def write_jsonl(rows: Sequence[dict[str, str]], path: Path) -> int:
    """Write the rows as title-only JSON Lines records (`benchmarks.uci.record`); how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(record(row), ensure_ascii=False) + "\n")  # type: ignore[arg-type]
    return len(rows)


def bcubed(predicted: dict[str, Any], gold: dict[str, Any]) -> dict[str, float]:
    """B-cubed precision, recall and F1 of a clustering (item → cluster) against labels."""
    by_predicted: dict[Any, set[str]] = defaultdict(set)
    by_gold: dict[Any, set[str]] = defaultdict(set)
    for item, cluster in predicted.items():
        by_predicted[cluster].add(item)
        by_gold[gold[item]].add(item)
    precision = recall = 0.0
    for item, cluster in predicted.items():
        mine, truth = by_predicted[cluster], by_gold[gold[item]]
        common = len(mine & truth)
        precision += common / len(mine)
        recall += common / len(truth)
    n = max(1, len(predicted))
    p, r = precision / n, recall / n
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(_f1(p, r), 4)}


def pairwise(
    predicted: dict[str, Any], gold: dict[str, Any], outlet: dict[str, str] | None = None
) -> dict[str, float | int]:
    """Pairwise precision and recall (only pairs of different outlets when `outlet` is given)."""

    def pairs(groups: Iterable[set[str]]) -> set[tuple[str, str]]:
        found = set()
        for members in groups:
            ordered = sorted(members)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    if outlet is None or outlet[a] != outlet[b]:
                        found.add((a, b))
        return found

    mine = pairs(_groups(predicted).values())
    truth = pairs(_groups({k: gold[k] for k in predicted}).values())
    hits = len(mine & truth)
    p = hits / len(mine) if mine else 1.0
    r = hits / len(truth) if truth else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "true_pairs": len(truth),
            "predicted_pairs": len(mine)}  # fmt: skip


def _groups(assignment: dict[str, Any]) -> dict[Any, set[str]]:
    groups: dict[Any, set[str]] = defaultdict(set)
    for item, cluster in assignment.items():
        groups[cluster].add(item)
    return groups


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def run(
    dataset: Path, workdir: Path, *, limit: int | None = None, sweep: Sequence[float] = ()
) -> dict[str, Any]:
    """Ingest the headlines as title-only records, decide duplicates and stories, and score."""
    from newsflow.db import open_db
    from newsflow.tasks.common.sentences import split_paragraphs
    from newsflow.tasks.dedup import neardup
    from newsflow.tasks.ingest import loader, scan
    from newsflow.tasks.pipeline import features
    from newsflow.tasks.store import writer
    from newsflow.tasks.stories import linking

    rows = read_rows(dataset)[:limit]
    folder = workdir / "headlines"
    write_jsonl(rows, folder / "uci.jsonl")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    entries, _ = scan.scan_folder(folder)
    items, rejects = [], []
    for entry in entries:
        loaded, refused = loader.load_file(entry)
        items.extend(loaded)
        rejects.extend(refused)
    computed = {
        item.key: features.compute(item, split_paragraphs(item.body, item.language or "en"))
        for item in items
    }
    timings["ingest"] = round(time.perf_counter() - started, 2)
    db = open_db(workdir / "stories.db")
    mark = time.perf_counter()
    counts = writer.save_items(db, items, run_id="uci")
    features.save(db, counts.saved, computed)
    writer.save_rejects(db, rejects, run_id="uci")
    timings["store"] = round(time.perf_counter() - mark, 2)
    mark = time.perf_counter()
    dedup = neardup.deduplicate(db, run_id="uci")
    timings["near_duplicates"] = round(time.perf_counter() - mark, 2)
    mark = time.perf_counter()
    linking.assign_stories(db, run_id="uci", dirty=dedup.touched_stories)
    timings["stories"] = round(time.perf_counter() - mark, 2)
    found = db.execute("SELECT language, summary_status FROM documents").fetchall()
    predicted, gold = _labels(db, rows)
    outlet = {path: rows[_record(path)]["PUBLISHER"] for path in predicted}
    sizes = Counter(predicted.values())
    curve = [_at_threshold(db, threshold, rows) for threshold in sweep]
    db.conn.close()
    return {
        "headlines": len(rows),
        "documents": len(found),
        "kept": round(len(found) / max(1, len(rows)), 4),
        "rejects": dict(Counter(r.reason for r in rejects)),
        "languages": dict(Counter(r[0] for r in found).most_common(8)),
        "english": round(sum(r[0] == "en" for r in found) / max(1, len(found)), 4),
        "statuses": dict(Counter(r[1] for r in found)),
        "labelled_stories": len(set(gold.values())),
        "stories": len(sizes),
        "largest_story": max(sizes.values(), default=0),
        "singletons": sum(1 for n in sizes.values() if n == 1),
        "bcubed": bcubed(predicted, gold),
        "pairwise": pairwise(predicted, gold),
        "pairwise_cross_outlet": pairwise(predicted, gold, outlet),
        "timings_seconds": timings,
        "join_threshold": clusters.JOIN_SAME,
        "curve": curve,
    }


def _labels(db: Any, rows: list[dict[str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each document's story (a duplicate's is its canonical's) and its label, by record path."""
    predicted: dict[str, Any] = {}
    gold: dict[str, Any] = {}
    for path, story_id in db.execute(
        "SELECT d.path, coalesce(c.story_id, d.story_id) FROM documents d"
        " LEFT JOIN documents c ON c.id = d.duplicate_of"
    ).fetchall():
        predicted[path], gold[path] = story_id, rows[_record(path)]["STORY"]
    return predicted, gold


def _record(path: str) -> int:
    """The record number of a JSON Lines document (its `path` ends in "#n", in file order)."""
    return int(path.rsplit("#", 1)[1])


def _at_threshold(db: Any, threshold: float, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Stories decided again from the stored features with another join threshold, scored."""
    from newsflow.tasks.stories import linking

    kept = clusters.JOIN_SAME
    clusters.JOIN_SAME = threshold
    try:
        linking.forget_stories(db)
        linking.assign_stories(db, run_id=f"sweep-{threshold}")
    finally:
        clusters.JOIN_SAME = kept
    predicted, gold = _labels(db, rows)
    scores = {f"bcubed_{k}": v for k, v in bcubed(predicted, gold).items()}
    return {"threshold": threshold, "stories": len(set(predicted.values()))} | scores


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stories", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DATASET, help="folder of the UCI CSV")
    parser.add_argument("--limit", type=int, default=None, help="only the first N headlines")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the JSON results")
    parser.add_argument("--keep", type=Path, default=None, help="keep the records and database")
    parser.add_argument(
        "--sweep", default="0.30,0.34,0.38,0.42,0.46",
        help="join thresholds to decide the stories again at, from the stored features ('' none)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="newsflow-stories-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        sweep = [float(t) for t in args.sweep.split(",") if t.strip()]
        results = run(args.dataset, workdir, limit=args.limit, sweep=sweep)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    b, p, x = results["bcubed"], results["pairwise"], results["pairwise_cross_outlet"]
    sys.stdout.write(
        f"headlines {results['headlines']} → documents {results['documents']}"
        f" ({results['kept']:.1%}), English {results['english']:.1%},"
        f" rejects {results['rejects']}\n"
        f"stories {results['stories']} for {results['labelled_stories']} labelled"
        f" (largest {results['largest_story']}, singletons {results['singletons']})\n"
        f"B-cubed precision {b['precision']:.3f} recall {b['recall']:.3f} F1 {b['f1']:.3f}\n"
        f"pairwise precision {p['precision']:.3f} recall {p['recall']:.3f};"
        f" cross-outlet precision {x['precision']:.3f} recall {x['recall']:.3f}\n"
        + "".join(
            f"join at {c['threshold']:.2f}: B-cubed precision {c['bcubed_precision']:.3f}"
            f" recall {c['bcubed_recall']:.3f} F1 {c['bcubed_f1']:.3f}, {c['stories']} stories\n"
            for c in results["curve"]
        )
        + f"timings {results['timings_seconds']}\nwritten to {args.out}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
