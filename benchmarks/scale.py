"""How a cold run grows with its size: time and memory per document at several N, in one go.

    python -m benchmarks.scale [--n 5000,20000] [--out benchmarks/out/scale]

For each N, a corpus from the same generator (`benchmarks/corpus.py`, same seed) and one cold
`newsflow run` on an empty database, against one long-lived Prefect server (as `make bench`).
Prints wall seconds, milliseconds per document and its ratio to the smallest N (target ≤ 1.3),
the peak RSS of the run's process tree (target ≤ 1.5 GB), and the seconds of the near-duplicate
and story passes (the Prefect task runs `near-duplicates` and `stories`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks import corpus as corpus_generator
from benchmarks.run import bench_env, last_run, prefect_server, run_cli, say

OUT = Path("benchmarks/out/scale")
TARGET_RATIO = 1.3
TARGET_RSS_MB = 1536.0


def measure(sizes: list[int], out: Path, *, seed: int = 7) -> list[dict[str, Any]]:
    """One cold run per size; its figures."""
    logs = out / "logs"
    env = bench_env(out / "prefect-home")
    rows = []
    with prefect_server(env, logs) as api_url:
        for n in sizes:
            work = out / f"n{n}"
            if work.exists():
                shutil.rmtree(work)
            say(f"N = {n}: corpus …")
            corpus_generator.generate(work, n, extra=0, seed=seed)
            say(f"N = {n}: cold newsflow run …")
            db_path = work / "scale.db"
            args = ["run", "--seeds", str(work / "docs"), "--db", str(db_path)]
            measured = run_cli(f"cold-{n}", args, env | {"PREFECT_API_URL": api_url}, logs)
            run = last_run(db_path, api_url)
            phases = run.get("phases", {})
            rows.append(
                {
                    "n": n,
                    "seconds": round(measured.seconds, 2),
                    "ms_per_document": round(1000 * measured.seconds / n, 3),
                    "peak_rss_mb": round(measured.peak_rss_mb, 1),
                    "near_duplicates_seconds": phases.get("near-duplicates", {}).get("seconds"),
                    "stories_seconds": phases.get("stories", {}).get("seconds"),
                    "counts": run.get("counts", {}),
                }
            )
            shutil.rmtree(work / "docs", ignore_errors=True)
    base = rows[0]["ms_per_document"]
    for row in rows:
        row["per_document_over_smallest"] = round(row["ms_per_document"] / base, 3)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--n", default="5000,20000", help="comma-separated corpus sizes")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    sizes = sorted(int(n) for n in args.n.split(",") if n.strip())
    args.out.mkdir(parents=True, exist_ok=True)
    rows = measure(sizes, args.out)
    (args.out / "scale.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"{'N':>7}{'wall s':>9}{'ms/doc':>9}{'ratio':>7}{'peak MB':>9}"
                     f"{'dedup s':>9}{'stories s':>10}\n")  # fmt: skip
    for row in rows:
        sys.stdout.write(
            f"{row['n']:>7}{row['seconds']:>9.1f}{row['ms_per_document']:>9.2f}"
            f"{row['per_document_over_smallest']:>7.2f}{row['peak_rss_mb']:>9.0f}"
            f"{row['near_duplicates_seconds'] or 0:>9.1f}{row['stories_seconds'] or 0:>10.1f}\n"
        )
    largest = rows[-1]
    for name, value, target in (
        ("time per document vs the smallest N", largest["per_document_over_smallest"],
         TARGET_RATIO),
        ("peak RSS of the largest run, MB", largest["peak_rss_mb"], TARGET_RSS_MB),
    ):  # fmt: skip
        mark = "ok " if value <= target else "MISS"
        sys.stdout.write(f"  [{mark}] {name}: {value:g} (target ≤ {target:g})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
