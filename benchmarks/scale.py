"""How a cold run grows with its size: time and memory per document at several N, in one go.

    python -m benchmarks.scale [--n 5000,20000] [--increment] [--out benchmarks/out/scale]

For each N, a corpus from the same generator (`benchmarks/corpus.py`, same seed) and one cold
`newsflow run` on an empty database, against one long-lived Prefect server (as `make bench`).
Prints wall seconds, milliseconds per document and its ratio to the smallest N (target ≤ 1.3),
the peak RSS of the run's process tree (target ≤ 1.5 GB), and the seconds of the near-duplicate
and story passes (the Prefect task runs `near-duplicates` and `stories`).

With `--increment`, the largest N's corpus holds 1 % more documents, held back: after its cold
run the same command runs again over unchanged input (warm), then with the 1 % added, and the
daily increment's cost per new document beyond the warm run is printed as a multiple of the cold
run's cost per document (`make bench`'s `incremental_per_doc_over_cold`; target ≤ 2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import corpus as corpus_generator
from benchmarks import figures
from benchmarks.run import (
    LATEST,
    bench_env,
    code_version,
    last_run,
    machine,
    prefect_server,
    run_cli,
    say,
)

OUT = Path("benchmarks/out/scale")
TARGET_RATIO = 1.3
TARGET_RSS_MB = 1536.0
TARGET_INCREMENT = 2.0  # 1 % new: cost per new document over the cold cost per document


def add_extra(work: Path) -> int:
    """Move the held-back documents (work/extra) into the run's input (work/docs); how many."""
    added = 0
    for path in sorted((work / "extra").rglob("*")):
        if path.is_file():
            target = work / "docs" / path.relative_to(work / "extra")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            added += 1
    return added


def measure(
    sizes: list[int],
    out: Path,
    *,
    seed: int = 7,
    increment: bool = False,
    on_row: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """One cold run per size (and, with `increment`, a warm and a 1 % run at the largest)."""
    logs = out / "logs"
    env = bench_env(out / "prefect-home")
    rows = []
    with prefect_server(env, logs) as api_url:
        for n in sizes:
            work = out / f"n{n}"
            if work.exists():
                shutil.rmtree(work)
            say(f"N = {n}: corpus …")
            daily = increment and n == max(sizes)
            extra = math.ceil(n / 100) if daily else 0
            corpus_generator.generate(work, n, extra=extra, seed=seed)
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
            if daily:
                rows[-1]["increment"] = _increment(work, args, env | {"PREFECT_API_URL": api_url},
                                                   logs, api_url, measured.seconds / n)  # fmt: skip
            shutil.rmtree(work / "docs", ignore_errors=True)
            if on_row is not None:  # recorded as each N finishes: a long run stopped keeps them
                on_row(rows)
    return rows


def relative(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with each one's time per document over the smallest N's."""
    base = rows[0]["ms_per_document"]
    return [row | {"per_document_over_smallest": round(row["ms_per_document"] / base, 3)}
            for row in rows]  # fmt: skip


def _increment(
    work: Path, args: list[str], env: dict[str, str], logs: Path, api_url: str, cold_per_doc: float
) -> dict[str, Any]:
    """A run over unchanged input, then one with the held-back 1 % added: the increment's cost."""
    n = work.name
    say(f"{n}: warm newsflow run …")
    warm = run_cli(f"warm-{n}", args, env, logs)
    added = add_extra(work)
    say(f"{n}: newsflow run with {added} new documents …")
    daily = run_cli(f"increment-{n}", args, env, logs)
    run = last_run(work / "scale.db", api_url)
    per_doc = max(0.0, daily.seconds - warm.seconds) / max(1, added)
    return {
        "added": added,
        "warm_seconds": round(warm.seconds, 2),
        "seconds": round(daily.seconds, 2),
        "peak_rss_mb": round(daily.peak_rss_mb, 1),
        "per_doc_over_cold": round(per_doc / cold_per_doc, 2),
        "phases": run.get("phases", {}),
        "counts": run.get("counts", {}),
    }


def record(rows: list[dict[str, Any]], started: dict[str, Any], code: str, arguments: str) -> None:
    """Each N's figures in benchmarks/latest.json (label `scale-<N>`), and the page regenerated.
    `code` is the version the run began with, before it wrote latest.json itself."""
    for row in rows:
        daily = row.get("increment") or {}
        figures.save_latest(
            LATEST,
            row | {
                "label": f"scale-{row['n']}",
                "kind": "scale",
                "code": code,
                "machine": started,
                "command": f"python -m benchmarks.scale {arguments}".strip(),
                "incremental_per_doc_over_cold": daily.get("per_doc_over_cold"),
            },
        )  # fmt: skip
    figures.update_page()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--n", default="5000,20000", help="comma-separated corpus sizes")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--increment",
        action="store_true",
        help="after the largest N's cold run, a warm run and one with 1 %% new documents",
    )
    args = parser.parse_args(argv)
    sizes = sorted(int(n) for n in args.n.split(",") if n.strip())
    args.out.mkdir(parents=True, exist_ok=True)
    load = max(os.getloadavg())
    started, code = machine(), code_version()

    def save(rows: list[dict[str, Any]]) -> None:
        rows = relative(rows)
        (args.out / "scale.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        record(rows, started, code, " ".join(sys.argv[1:]))

    rows = relative(measure(sizes, args.out, increment=args.increment, on_row=save))
    sys.stdout.write(f"{'N':>7}{'wall s':>9}{'ms/doc':>9}{'ratio':>7}{'peak MB':>9}"
                     f"{'dedup s':>9}{'stories s':>10}\n")  # fmt: skip
    for row in rows:
        sys.stdout.write(
            f"{row['n']:>7}{row['seconds']:>9.1f}{row['ms_per_document']:>9.2f}"
            f"{row['per_document_over_smallest']:>7.2f}{row['peak_rss_mb']:>9.0f}"
            f"{row['near_duplicates_seconds'] or 0:>9.1f}{row['stories_seconds'] or 0:>10.1f}\n"
        )
    largest = rows[-1]
    checks = [
        ("time per document vs the smallest N", largest["per_document_over_smallest"],
         TARGET_RATIO),
        ("peak RSS of the largest run, MB", largest["peak_rss_mb"], TARGET_RSS_MB),
    ]  # fmt: skip
    daily = largest.get("increment")
    if daily:
        phases = ", ".join(
            f"{name} {entry['seconds']:.1f}s" for name, entry in list(daily["phases"].items())[:6]
        )
        sys.stdout.write(
            f"  N = {largest['n']}: warm {daily['warm_seconds']:.1f} s, +{daily['added']} new"
            f" {daily['seconds']:.1f} s (tasks: {phases})\n"
        )
        checks.append(
            ("1 % new, per document beyond warm / cold per document", daily["per_doc_over_cold"],
             TARGET_INCREMENT)
        )  # fmt: skip
    sys.stdout.write(f"  load average when it started: {load:.2f} (2 cores shared)\n")
    for name, value, target in checks:
        mark = "ok " if value <= target else "MISS"
        sys.stdout.write(f"  [{mark}] {name}: {value:g} (target ≤ {target:g})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
