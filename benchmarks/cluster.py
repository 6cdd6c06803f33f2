"""Where the batches run: in the flow's process, a local process pool, or a Dask cluster.

    python -m benchmarks.cluster [--n 2000] [--out benchmarks/out/cluster]

One corpus from the benchmark's generator, three cold `newsflow run`s on empty databases against
one long-lived Prefect server, as `make bench`:

1. in-process (`NEWSFLOW_WORKERS=1`): every batch in the flow's own process;
2. the local pool (`NEWSFLOW_WORKERS=2`), the default on this machine;
3. a Dask `LocalCluster` of 2 single-threaded worker processes on loopback
   (`NEWSFLOW_DASK_ADDRESS`): the summarisation batches run there as Prefect task runs.

It checks that the three databases hold the same documents, duplicates, stories and summaries,
and splits each run's CPU between the flow's process (the one SQLite writer, and orchestration)
and the workers. The writer's seconds are the floor under any run's wall time: workers on more
machines only help while the summarisation they take away is more than the writer's own work.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
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

OUT = Path("benchmarks/out/cluster")


def stored(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What a run leaves that must not depend on where its batches ran."""
    with sqlite3.connect(db_path) as conn:
        found = {
            "documents": conn.execute(
                "SELECT d.key, d.content_hash, d.language, c.key, d.summary_status"
                " FROM documents d LEFT JOIN documents c ON c.id = d.duplicate_of ORDER BY d.key"
            ).fetchall(),
            "summaries": conn.execute(
                "SELECT d.key, s.method, s.length, s.text, s.sentence_indexes FROM summaries s"
                " JOIN documents d ON d.id = s.document_id ORDER BY d.key, s.method"
            ).fetchall(),
            # Stories as groups of document keys, with their summaries: ids may differ, groups not.
            "stories": sorted(
                conn.execute(
                    "SELECT group_concat(d.key, '|'), s.summary FROM stories s"
                    " JOIN documents d ON d.story_id = s.id GROUP BY s.id"
                ).fetchall()
            ),
        }
    conn.close()
    return found


def _cpu_seconds() -> float:
    """CPU seconds of the process it runs in (a Dask worker's, through `Client.run`)."""
    import psutil

    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def cpu_split(run: dict[str, Any]) -> dict[str, float]:
    """CPU seconds of the flow's own process and of the batches, wherever they ran."""
    cpu = run.get("cpu_by_stage") or {}
    workers = cpu.get("workers") or {}
    return {
        "flow_process": round(float(cpu.get("flow") or 0.0), 2),
        "batches": round(sum(float(v) for v in workers.values()), 2),
    }


def measure(n: int, out: Path, *, seed: int = 7) -> dict[str, Any]:
    """The three runs over one corpus; their figures and whether they stored the same."""
    import distributed

    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    say(f"corpus of {n} → {work}")
    corpus_generator.generate(work, n, extra=0, seed=seed)
    logs = out / "logs"
    env = bench_env(out / "prefect-home")
    runs: dict[str, dict[str, Any]] = {}
    databases: dict[str, Path] = {}
    with prefect_server(env, logs) as api_url:
        api_env = env | {"PREFECT_API_URL": api_url}

        def cold(name: str, extra_env: dict[str, str]) -> None:
            db_path = work / f"{name}.db"
            say(f"({name}) newsflow run …")
            args = ["run", "--seeds", str(work / "docs"), "--db", str(db_path)]
            measured = run_cli(name, args, api_env | extra_env, logs)
            run = last_run(db_path, api_url)
            runs[name] = {
                "seconds": round(measured.seconds, 2),
                "peak_rss_mb": round(measured.peak_rss_mb, 1),
                "cpu": cpu_split(run),
                "phases": {k: v["seconds"] for k, v in run.get("phases", {}).items()},
            }
            databases[name] = db_path
            say(f"  {measured.seconds:.1f} s, CPU {runs[name]['cpu']}")

        cold("in-process", {"NEWSFLOW_WORKERS": "1"})
        cold("local-pool", {"NEWSFLOW_WORKERS": "2"})
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                host="127.0.0.1",
            ) as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            # The run records the CPU of the batches it ran itself; the Dask workers' is read here.
            before = client.run(_cpu_seconds)
            cold(
                "dask-localcluster",
                {"NEWSFLOW_WORKERS": "2", "NEWSFLOW_DASK_ADDRESS": cluster.scheduler_address},
            )
            after = client.run(_cpu_seconds)
            on_cluster = sum(after[worker] - before.get(worker, 0.0) for worker in after)
            cpu = runs["dask-localcluster"]["cpu"]
            cpu["dask_workers"] = round(on_cluster, 2)
            cpu["batches"] = round(cpu["batches"] + on_cluster, 2)
    reference = stored(databases["in-process"])
    for name, db_path in databases.items():
        runs[name]["identical_to_in_process"] = stored(db_path) == reference
    pool = runs["local-pool"]
    writer = pool["cpu"]["flow_process"]
    return {
        "label": f"cluster-{n}",
        "kind": "cluster",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.cluster " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "code": code_version(),
        "corpus": {"kind": "generated", "n": n, "seed": seed},
        "runs": runs,
        "stored": {k: len(v) for k, v in reference.items()},
        # How far workers elsewhere could cut the pool's run: to the writer's own seconds at best.
        "writer_share_of_pool_wall": round(writer / pool["seconds"], 3),
        "batch_cpu_over_writer_cpu": round(pool["cpu"]["batches"] / max(writer, 1e-9), 2),
    }


def report(results: dict[str, Any]) -> str:
    """The figures as a short text table."""
    lines = [
        f"newsflow cluster benchmark — {results['corpus']['n']} generated documents",
        f"code: {results['code']}; machine: {results['machine']['cpus']} CPUs, load "
        f"{results['machine']['load_average']}",
        "",
        f"{'run':<20}{'wall s':>8}{'flow CPU s':>12}{'batch CPU s':>13}{'peak MB':>9}  same",
    ]
    for name, run in results["runs"].items():
        lines.append(
            f"{name:<20}{run['seconds']:>8.1f}{run['cpu']['flow_process']:>12.1f}"
            f"{run['cpu']['batches']:>13.1f}{run['peak_rss_mb']:>9.0f}"
            f"  {'yes' if run['identical_to_in_process'] else 'NO'}"
        )
    lines += [
        "",
        f"the flow's process (the one SQLite writer) is {results['writer_share_of_pool_wall']:.0%}"
        " of the local pool's wall time;",
        f"the batches take {results['batch_cpu_over_writer_cpu']:.2f} × the writer's CPU: workers"
        " beyond that many cores' worth leave the writer the bound",
    ]
    same = all(run["identical_to_in_process"] for run in results["runs"].values())
    lines.append(f"  [{'ok ' if same else 'MISS'}] identical stored results in all three runs")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="generated documents")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = measure(args.n, args.out)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    figures.save_latest(LATEST, results)
    figures.update_page()
    sys.stdout.write(report(results))
    return 0 if all(r["identical_to_in_process"] for r in results["runs"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
