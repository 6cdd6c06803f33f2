"""Measure near-duplicate detection and story grouping on labelled cases built from real text.

    python -m benchmarks.dedup [--per-topic N] [--out benchmarks/out/dedup.json]
                               [--thresholds 0.3,0.4,0.5,0.6,0.7] [--keep DIR]

Builds the cases (`benchmarks/dedup/cases.py`), runs them through the real path — files → ingest
→ store (exact content hash) → `dedup.neardup` → `stories.linking` → `stories.story_summary`, on a
fresh SQLite file — and scores what the database says against the labels:

* duplicates: pairwise precision/recall of duplicate groups over originals and their edited
  copies, recall per edit, distinct originals wrongly merged (target: recall ≥ 0.95, zero merged);
* stories: pairwise precision/recall of stories over every report (copies, rewrites and
  translations belong to their original's story), cross-family merges listed by name;
* boilerplate notices flagged; the threshold sweep re-decides from stored signatures only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks.dedup.cases import DUPLICATE_EDITS, STORY_EDITS, Case, build_cases, write_cases
from newsflow.db import open_db
from newsflow.tasks.dedup import neardup
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.store import writer
from newsflow.tasks.stories import linking, story_summary

OUT = Path("benchmarks/out/dedup.json")


def _pairs(groups: dict[Any, list[str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for members in groups.values():
        found.update(itertools.combinations(sorted(members), 2))
    return found


def _prf(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": len(truth),
        "predicted_pairs": len(predicted),
    }


def _state(db: Any) -> dict[str, dict[str, Any]]:
    rows = db.execute(
        "SELECT path, id, duplicate_of, story_id, summary_status, title FROM documents"
    ).fetchall()
    return {
        path: {"id": i, "root": dup or i, "story": story, "status": status, "title": title}
        for path, i, dup, story, status, title in rows
    }


def score_duplicates(cases: list[Case], state: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Pairwise scores of the duplicate groups, recall per edit, and wrong merges."""
    present = [c for c in cases if c.relpath in state]
    scored = [c for c in present if c.kind in ("original", "duplicate")]
    truth = _pairs(_group(scored, lambda c: c.family))
    predicted = _pairs(_group(scored, lambda c: state[c.relpath]["root"]))
    result: dict[str, Any] = _prf(predicted, truth)
    originals = {c.family: state[c.relpath] for c in present if c.kind == "original"}
    per_edit = {}
    for edit in DUPLICATE_EDITS:
        copies = [c for c in present if c.variant == edit]
        hits = sum(state[c.relpath]["root"] == originals[c.family]["root"] for c in copies)
        per_edit[edit] = {"copies": len(copies), "recall": round(hits / len(copies), 4)}
    result["recall_per_edit"] = per_edit
    # Any two families sharing a duplicate group is a wrong merge, whatever their kind.
    by_root = _group(present, lambda c: state[c.relpath]["root"])
    wrong = _cross_family(by_root, {c.relpath: c for c in present})
    result["wrong_merges"] = len(wrong)
    result["wrong_merge_examples"] = wrong[:10]
    result["originals_canonical"] = round(
        sum(o["root"] == o["id"] for o in originals.values()) / len(originals), 4
    )
    result["story_variants_marked_duplicate"] = sum(
        state[c.relpath]["root"] == originals[c.family]["root"]
        for c in present
        if c.kind == "story"
    )
    return result


def score_stories(cases: list[Case], state: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Pairwise scores of story grouping over every non-boilerplate report."""
    present = [c for c in cases if c.relpath in state and c.kind != "boilerplate"]
    truth = _pairs(_group(present, lambda c: c.family))
    predicted = _pairs(
        _group([c for c in present if state[c.relpath]["story"] is not None],
               lambda c: state[c.relpath]["story"])
    )  # fmt: skip
    result: dict[str, Any] = _prf(predicted, truth)
    originals = {c.family: state[c.relpath] for c in present if c.kind == "original"}
    per_variant = {}
    for variant in (*DUPLICATE_EDITS, *STORY_EDITS):
        items = [c for c in present if c.variant == variant]
        if items:
            hits = sum(
                state[c.relpath]["story"] is not None
                and state[c.relpath]["story"] == originals[c.family]["story"]
                for c in items
            )
            per_variant[variant] = {"reports": len(items), "recall": round(hits / len(items), 4)}
    result["recall_per_variant"] = per_variant
    by_story = _group(
        [c for c in present if state[c.relpath]["story"] is not None],
        lambda c: state[c.relpath]["story"],
    )
    wrong = _cross_family(by_story, {c.relpath: c for c in present})
    result["stories"] = len(by_story)
    result["families"] = len(originals)
    result["stories_with_several_families"] = len(
        {w["group"] for w in wrong}
    )  # a story holding more than one original's family
    result["cross_family_pairs"] = len(wrong)
    result["cross_family_examples"] = wrong[:20]
    result["without_story"] = sum(state[c.relpath]["story"] is None for c in present)
    seeds = [state[c.relpath] for c in present if c.kind == "original" and "seed-" in c.family]
    result["seed_originals"] = len(seeds)
    result["seed_stories"] = len({s["story"] for s in seeds})
    return result


def _group(cases: list[Case], key: Any) -> dict[Any, list[str]]:
    groups: dict[Any, list[str]] = defaultdict(list)
    for case in cases:
        groups[key(case)].append(case.relpath)
    return groups


def _cross_family(groups: dict[Any, list[str]], cases: dict[str, Case]) -> list[dict[str, Any]]:
    wrong = []
    for group, members in groups.items():
        families = sorted({cases[m].family for m in members})
        for a, b in itertools.combinations(families, 2):
            wrong.append({"group": group, "families": [a, b]})
    return wrong


def score_boilerplate(cases: list[Case], state: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Boilerplate notices: flagged, never a duplicate, never in a story."""
    notices = [state[c.relpath] for c in cases if c.kind == "boilerplate" and c.relpath in state]
    flagged_others = [
        c.relpath for c in cases
        if c.kind != "boilerplate" and state.get(c.relpath, {}).get("status") == "boilerplate"
    ]  # fmt: skip
    return {
        "notices": len(notices),
        "flagged": sum(n["status"] == "boilerplate" for n in notices),
        "marked_duplicate": sum(n["root"] != n["id"] for n in notices),
        "in_a_story": sum(n["story"] is not None for n in notices),
        "articles_wrongly_flagged": len(flagged_others),
    }


def run(*, per_topic: int | None, thresholds: list[float], workdir: Path) -> dict[str, Any]:
    """Build, ingest, decide and score; returns the results."""
    started = time.perf_counter()
    cases = build_cases(per_topic=per_topic)
    seeds = workdir / "cases"
    write_cases(cases, seeds)
    db = open_db(workdir / "bench.db")
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        timings[name] = round(time.perf_counter() - since, 3)
        return time.perf_counter()

    mark = lap("build_cases", started)
    entries, _ = scan.scan_folder(seeds)
    # Originals arrive first (one run), every copy, rewrite and translation later (the next run):
    # the second run is decided incrementally against what the first stored.
    phases = [
        [e for e in entries if e.relpath.endswith("/original.txt")],
        [e for e in entries if not e.relpath.endswith("/original.txt")],
    ]
    checked = candidates = 0
    for number, phase in enumerate(phases, start=1):
        items = []
        for entry in phase:
            found, _ = loader.load_file(entry)
            items.extend(found)
        writer.save_items(db, items, run_id=f"bench-{number}")
        mark = lap(f"run{number}_ingest", mark)
        dedup = neardup.deduplicate(db, run_id=f"bench-{number}")
        checked, candidates = checked + dedup.checked, candidates + dedup.candidates
        mark = lap(f"run{number}_dedup", mark)
        grouped = linking.assign_stories(db, run_id=f"bench-{number}", dirty=dedup.touched_stories)
        mark = lap(f"run{number}_stories", mark)
        summaries = story_summary.update_summaries(db, grouped.touched)
        mark = lap(f"run{number}_story_summaries", mark)

    state = _state(db)
    documents = len(state)
    candidates_per_doc = candidates / max(1, checked)
    results: dict[str, Any] = {
        "cases": dict(Counter(c.kind for c in cases)),
        "documents": documents,
        "languages": dict(
            Counter(r[0] for r in db.execute("SELECT language FROM documents").fetchall())
        ),
        "threshold": dedup.threshold,
        "banding": db.execute("SELECT value FROM dedup_settings WHERE name = 'banding'").fetchone()[
            0
        ],
        "duplicates": score_duplicates(cases, state),
        "stories": score_stories(cases, state),
        "boilerplate": score_boilerplate(cases, state),
        "story_summaries": summaries,
        "lsh_candidates_per_document": round(candidates_per_doc, 2),
        "timings_seconds": timings,
    }
    sweep = []
    for threshold in thresholds:
        since = time.perf_counter()
        neardup.deduplicate(db, run_id=f"sweep-{threshold}", threshold=threshold, recompute=True)
        seconds = round(time.perf_counter() - since, 3)
        scored = score_duplicates(cases, _state(db))
        sweep.append(
            {"threshold": threshold, "seconds": seconds}
            | {k: scored[k] for k in ("precision", "recall", "f1", "wrong_merges")}
            | {"recall_per_edit": {k: v["recall"] for k, v in scored["recall_per_edit"].items()}}
        )
    results["threshold_sweep"] = sweep
    db.conn.close()
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dedup", description=__doc__)
    parser.add_argument("--per-topic", type=int, default=None, help="BBC articles per topic")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the JSON results")
    parser.add_argument(
        "--thresholds", default="0.3,0.4,0.5,0.6,0.7,0.8",
        help="comma-separated thresholds to re-decide at from the stored signatures ('' for none)",
    )  # fmt: skip
    parser.add_argument("--keep", type=Path, default=None, help="keep the cases and database here")
    parser.add_argument(
        "--scale", default="",
        help="comma-separated window sizes (e.g. 1000,4000) to time a run of 100 new documents at",
    )  # fmt: skip
    args = parser.parse_args(argv)
    thresholds = [float(t) for t in args.thresholds.split(",") if t.strip()]
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="newsflow-dedup-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results = run(per_topic=args.per_topic, thresholds=thresholds, workdir=workdir)
        sizes = [int(n) for n in args.scale.split(",") if n.strip()]
        if sizes:
            from benchmarks.dedup.scale import measure

            results["scale"] = measure(sizes, workdir)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    dup, sto = results["duplicates"], results["stories"]
    sys.stdout.write(
        f"documents {results['documents']} · threshold {results['threshold']}"
        f" · banding {results['banding']}\n"
        f"duplicates: precision {dup['precision']:.3f} recall {dup['recall']:.3f}"
        f" · wrong merges {dup['wrong_merges']}\n"
        f"  recall per edit: "
        + ", ".join(f"{k} {v['recall']:.3f}" for k, v in dup["recall_per_edit"].items())
        + f"\nstories: precision {sto['precision']:.3f} recall {sto['recall']:.3f}"
        f" · {sto['stories']} stories for {sto['families']} originals"
        f" · stories with several originals {sto['stories_with_several_families']}"
        f" · seeds {sto['seed_originals']} → {sto['seed_stories']} stories\n"
        f"  recall per variant: "
        + ", ".join(f"{k} {v['recall']:.3f}" for k, v in sto["recall_per_variant"].items())
        + f"\nboilerplate: {results['boilerplate']}\n"
        + "".join(
            f"threshold {s['threshold']}: precision {s['precision']:.3f} recall {s['recall']:.3f}"
            f" wrong merges {s['wrong_merges']} ({s['seconds']} s)\n"
            for s in results["threshold_sweep"]
        )
        + "".join(
            f"window {r['stored']}: initial {r['initial_ms_per_document']} ms/doc;"
            f" new run {r['new_ms_per_document']} ms/doc,"
            f" {r['candidates_per_new_document']} candidates/doc;"
            f" labelled near-duplicates found {r['labelled_near_duplicates_found']}\n"
            for r in results.get("scale", [])
        )
        + f"timings: {results['timings_seconds']}\nwritten to {args.out}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
