"""The benchmark (`make bench`): the pipeline end to end against a bare sumy LexRank loop.

In one run, over the same files:

(a) anchor: a single-process loop of sumy's `LexRankSummarizer` (read, clean, the project's
    sentence splitter, summarise; no storage, no orchestration);
(b) cold: `newsflow run` (the real CLI, as a subprocess) on an empty database;
(c) warm: the same command again over unchanged input;
(d) incremental: 1% new documents added, the command again;
(e) peak memory: resident set size of each run's whole process tree, sampled;
(f) topics and search: every run matches 20 topics (`--topics`) built from the corpus's words,
    the cold run's topic tasks are timed against the whole run, and two-word searches are timed
    over the database the runs filled.

It prints the ratios (throughput b vs a, c/b, per-document cost of d vs b), checks that every
summary stored by (b) chose the sentences the anchor chose, and writes benchmarks/out/results.json
and records them under the run's label in benchmarks/latest.json (committed).

    python -m benchmarks.run                      # 5,000 generated documents (make bench)
    python -m benchmarks.run --n 300              # a quick look while developing
    python -m benchmarks.run --corpus DIR         # a corpus the harness did not generate

By default the runs talk to one long-lived `prefect server start` on a loopback port
(PREFECT_API_URL), which is how scheduled runs are meant to be served. What a user without
PREFECT_API_URL gets is measured too, as two more warm runs: (c') with the local server that
`newsflow run` starts once and reuses (started untimed first, stopped after), and (c'') with
Prefect's temporary server per run (NEWSFLOW_LOCAL_SERVER=0).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks import corpus as corpus_generator
from benchmarks import figures
from benchmarks import topics as bench_topics
from newsflow.flows import local_server

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
LATEST = ROOT / "benchmarks" / "latest.json"

TARGETS = {
    "cold_throughput_multiple": (">=", 2.0),
    "warm_over_cold": ("<=", 0.15),
    "warm_local_server_over_cold": ("<=", 0.15),
    "incremental_per_doc_over_cold": ("<=", 2.0),  # issue 19, target 3
    "peak_rss_mb": ("<=", 1536.0),
    "topics_share_of_cold_run": ("<=", 0.05),
    "search_two_words_ms": ("<=", 100.0),
}


@dataclass
class Measured:
    """One timed command: wall and CPU seconds, peak memory of its process tree."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    peak_process_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_process_rss_mb": round(self.peak_process_rss_mb, 1),
        } | self.extra


# --- corpus ---------------------------------------------------------------------------------------


def prepare_corpus(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Fill work/docs (the run's input) and work/extra (the 1% added later); describe them."""
    if work.exists():
        shutil.rmtree(work)
    if args.corpus:
        return copy_corpus(Path(args.corpus), work)
    extra = max(1, math.ceil(args.n / 100))
    manifest = corpus_generator.generate(
        work, args.n, extra=extra, near_duplicates=args.near_duplicates, seed=args.seed
    )
    documents = manifest["documents"]
    assert isinstance(documents, list)
    languages: dict[str, int] = {}
    for entry in documents:
        languages[entry["language"]] = languages.get(entry["language"], 0) + 1
    sentences = [entry["sentences"] for entry in documents]
    return {
        "kind": "generated",
        "n": len(documents),
        "extra": extra,
        "near_duplicates": args.near_duplicates,
        "languages": languages,
        "sentences_mean": round(sum(sentences) / len(sentences), 1),
        "seed": args.seed,
    }


def copy_corpus(source: Path, work: Path) -> dict[str, Any]:
    """Copy an existing folder of articles; every hundredth file is held back for run (d)."""
    from newsflow.tasks.ingest.scan import SUFFIXES

    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if len(files) < 2:
        raise SystemExit(f"--corpus {source}: fewer than two article files")
    held = set(files[99::100]) or {files[-1]}
    for path in files:
        target = work / ("extra" if path in held else "docs") / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return {"kind": "folder", "source": str(source), "n": len(files) - len(held),
            "extra": len(held)}  # fmt: skip


def article_files(folder: Path) -> list[Path]:
    from newsflow.tasks.ingest.scan import scan_folder

    entries, _rejects = scan_folder(folder)
    return [entry.path for entry in entries]


# --- (a) the anchor -------------------------------------------------------------------------------


def run_anchor(docs: Path) -> tuple[Measured, dict[str, list[int]]]:
    """Bare sumy LexRank over every file; returns the timing and the chosen sentence positions."""
    import numpy as np
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.utils import get_stop_words

    from newsflow.tasks.common.sentences import split_paragraphs
    from newsflow.tasks.common.textio import decode_bytes
    from newsflow.tasks.ingest.clean import clean_article
    from newsflow.tasks.ingest.language import detect_language
    from newsflow.tasks.summarise.summarize import build_document, is_supported, language_name

    paths = article_files(docs)
    # Not in the anchor's time: the language of each file, which the loop needs to pick the
    # splitter and stemmer (a bare loop could take it from the generator's manifest). Timed
    # apart, so the report can show the anchor with it too.
    languages = {}
    detect_language("Loading the language model is not part of either figure.")
    language_seconds = 0.0
    for path in paths:
        body = clean_article(decode_bytes(path.read_bytes())).body
        began = time.perf_counter()
        languages[path] = detect_language(body)
        language_seconds += time.perf_counter() - began
    summarizers: dict[str, LexRankSummarizer] = {}
    for code in {c for c in languages.values() if c and is_supported(c)}:
        summarizer = LexRankSummarizer(Stemmer(language_name(code)))
        summarizer.stop_words = get_stop_words(language_name(code))
        summarizers[code] = summarizer

    chosen: dict[str, list[int]] = {}
    lexrank_seconds = 0.0
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with np.errstate(divide="ignore", invalid="ignore"):
        for path in paths:
            found = languages[path]
            if found is None or found not in summarizers:
                continue
            code = found
            body = clean_article(decode_bytes(path.read_bytes())).body
            paragraphs = split_paragraphs(body, code)
            document = build_document(paragraphs, code)
            if not document.sentences:
                continue
            count = min(3, len(document.sentences))
            began = time.perf_counter()
            picked = summarizers[code](document, count)
            lexrank_seconds += time.perf_counter() - began
            positions = {id(s): i for i, s in enumerate(document.sentences)}
            chosen[path.relative_to(docs).as_posix()] = sorted(positions[id(s)] for s in picked)
    seconds = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    rss = cpu_after.ru_maxrss / 1024
    measured = Measured(seconds, cpu, rss, rss, {
        "documents": len(chosen), "lexrank_seconds": round(lexrank_seconds, 3),
        "docs_per_second": round(len(chosen) / seconds, 1),
        "language_detection_seconds": round(language_seconds, 3),
    })  # fmt: skip
    return measured, chosen


# --- (b–d) the CLI as a subprocess ---------------------------------------------------------------


class TreeSampler(threading.Thread):
    """Samples the resident memory of a process and all its descendants."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_total = 0
        self.peak_single = 0
        self.cpu: dict[int, float] = {}  # last CPU seconds seen per process of the tree
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stopped.is_set():
            total = 0
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    times = process.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                self.cpu[process.pid] = times.user + times.system
                total += rss
                self.peak_single = max(self.peak_single, rss)
            self.peak_total = max(self.peak_total, total)
            self.stopped.wait(self.interval)


def newsflow_command() -> list[str]:
    script = Path(sys.executable).parent / "newsflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsflow.flows.cli"]


def run_cli(name: str, args: list[str], env: dict[str, str], logs: Path) -> Measured:
    """Run `newsflow …` to completion; fail loudly if it fails."""
    logs.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with (logs / f"{name}.out").open("wb") as out, (logs / f"{name}.err").open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen([*newsflow_command(), *args], env=env, stdout=out, stderr=err)
        sampler = TreeSampler(process.pid)
        sampler.start()
        code = process.wait()
        seconds = time.perf_counter() - start
        sampler.stopped.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        tail = (logs / f"{name}.err").read_text(errors="replace")[-3000:]
        raise SystemExit(f"newsflow {' '.join(args)} failed with exit code {code}:\n{tail}")
    # Reaped children count in RUSAGE_CHILDREN; workers reaped by a fork server do not, so the
    # sampled per-process CPU is the floor for those.
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(reaped, sum(sampler.cpu.values()))
    # ru_maxrss of children is the largest single descendant: a floor under the sampled peak.
    single = max(sampler.peak_single, after.ru_maxrss * 1024 if after.ru_maxrss else 0)
    return Measured(seconds, cpu, max(sampler.peak_total, single) / 2**20, single / 2**20)


def last_run(db_path: Path, api_url: str | None) -> dict[str, Any]:
    """The run's status and counts (runs table) and, from the Prefect API, where its time went."""
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        row = conn.execute(
            "SELECT status, counts, flow_run_id, cpu FROM runs"
            " ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ).fetchone()
    conn.close()
    if not row:
        return {}
    found: dict[str, Any] = {"status": row[0], "counts": json.loads(row[1] or "{}")}
    if row[3]:
        found["cpu_by_stage"] = json.loads(row[3])
    if api_url and row[2]:
        try:
            found |= phases(api_url, row[2])
        except httpx.HTTPError as error:  # the figures stand without the breakdown
            found["phases_error"] = str(error)
    return found


def phases(api_url: str, flow_run_id: str) -> dict[str, Any]:
    """Seconds and task runs per task name, and the flow run's own duration."""
    with httpx.Client(base_url=api_url, timeout=30) as client:
        flow_run = client.get(f"/flow_runs/{flow_run_id}").raise_for_status().json()
        runs: list[dict[str, Any]] = []
        while True:
            page = client.post(
                "/task_runs/filter",
                json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200,
                      "offset": len(runs)},
            ).raise_for_status().json()  # fmt: skip
            runs += page
            if len(page) < 200:
                break
    by_task: dict[str, dict[str, float]] = {}
    for run in runs:
        name = run["name"].rsplit("-", 1)[0]  # "ingest-files-3fa" → "ingest-files"
        entry = by_task.setdefault(name, {"runs": 0, "seconds": 0.0})
        entry["runs"] += 1
        entry["seconds"] = round(entry["seconds"] + (run.get("total_run_time") or 0.0), 3)
    return {
        "flow_run_seconds": round(flow_run.get("total_run_time") or 0.0, 3),
        "task_runs": len(runs),
        "phases": dict(sorted(by_task.items(), key=lambda kv: -kv[1]["seconds"])),
    }


def compare_selections(db_path: Path, anchor: dict[str, list[int]], method: str) -> dict[str, Any]:
    """Do the stored summaries choose the anchor's sentences? (They must: same LexRank.)"""
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        stored = dict(
            conn.execute(
                "SELECT d.path, s.sentence_indexes FROM summaries s"
                " JOIN documents d ON d.id = s.document_id WHERE s.method = ? AND s.length = '3'",
                [method],
            ).fetchall()
        )
    conn.close()
    compared = [path for path in anchor if path in stored]
    different = [path for path in compared if json.loads(stored[path]) != anchor[path]]
    return {
        "anchor_documents": len(anchor),
        "stored_summaries": len(stored),
        "compared": len(compared),
        "identical": len(compared) - len(different),
        "different": different[:20],
    }


# --- the long-lived Prefect server ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prefect_server(env: dict[str, str], logs: Path, timeout: float = 180) -> Iterator[str]:
    """`prefect server start` on a free loopback port; yields its API URL, stops it after."""
    port = free_port()
    prefect = Path(sys.executable).parent / "prefect"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "prefect-server.log").open("wb") as log:
        server = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env | {"PREFECT_UI_ENABLED": "false"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/api"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"prefect server exited early; see {logs}/prefect-server.log")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"prefect server did not answer within {timeout:.0f} s")
                time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


# --- the whole benchmark --------------------------------------------------------------------------


def bench_env(prefect_home: Path) -> dict[str, str]:
    """The environment of the measured runs: their own Prefect home, quiet and offline, and no
    Prefect API or worker settings of the caller's (each run says which it uses)."""
    env = dict(os.environ) | {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    for name in ("PREFECT_API_URL", "NEWSFLOW_DASK_ADDRESS", "NEWSFLOW_WORKERS"):
        env.pop(name, None)
    return env


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def check(name: str, value: float) -> dict[str, Any]:
    op, target = TARGETS[name]
    ok = value >= target if op == ">=" else value <= target
    return {"value": round(value, 3), "target": f"{op} {target}", "ok": ok}


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run (a)–(e) and return the results."""
    out = Path(args.out)
    label = args.label or (
        f"folder-{Path(args.corpus).resolve().parent.name}-{Path(args.corpus).name}"
        if args.corpus
        else f"generated-{args.n}"
    )
    work = out / "work"
    logs = out / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    docs, extra, db_path = work / "docs", work / "extra", work / "bench.db"
    results: dict[str, Any] = {
        "label": label,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "code": code_version(),
        "method": args.method,
    }
    say(f"corpus → {work}")
    results["corpus"] = prepare_corpus(args, work)
    say(f"  {results['corpus']}")

    say("(a) anchor: bare sumy LexRank loop …")
    anchor, chosen = run_anchor(docs)
    results["anchor"] = anchor.as_dict()
    say(f"  {anchor.seconds:.1f} s for {len(chosen)} documents")

    prefect_home = out / "prefect-home"
    if prefect_home.exists():
        shutil.rmtree(prefect_home)
    env = bench_env(prefect_home)
    run_args = ["run", "--seeds", str(docs), "--db", str(db_path), "--method", args.method]
    if args.topics:
        # Every run matches the topics, as a user's would; the cold run's topic tasks are timed.
        topics_file = bench_topics.write_topics(docs, work / "topics.toml", count=args.topics)
        run_args += ["--topics-file", str(topics_file)]

    with prefect_server(env, logs) as api_url:
        results["prefect"] = f"long-lived `prefect server start` at {api_url} (PREFECT_API_URL)"
        api_env = env | {"PREFECT_API_URL": api_url}
        for name in ("cold", "warm"):
            say(f"({'b' if name == 'cold' else 'c'}) {name}: newsflow run …")
            measured = run_cli(name, run_args, api_env, logs)
            measured.extra |= last_run(db_path, api_url)
            results[name] = measured.as_dict()
            say(f"  {measured.seconds:.1f} s, peak RSS {measured.peak_rss_mb:.0f} MB")
            if name == "cold":
                results["selection_check"] = compare_selections(db_path, chosen, args.method)
                say(f"  selection check: {results['selection_check']['identical']} of "
                    f"{results['selection_check']['compared']} identical to sumy")  # fmt: skip

        added = 0
        for path in sorted(extra.rglob("*")):
            if path.is_file():
                target = docs / path.relative_to(extra)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                added += 1
        say(f"(d) incremental: {added} new documents, newsflow run …")
        incremental = run_cli("incremental", run_args, api_env, logs)
        incremental.extra |= {"added": added} | last_run(db_path, api_url)
        results["incremental"] = incremental.as_dict()
        say(f"  {incremental.seconds:.1f} s")

    if not args.no_temporary_server:
        say("(c') warm, the local server newsflow starts once and reuses (no PREFECT_API_URL) …")
        local_env = env | {local_server.OPT_OUT: "1"}
        # A user's first run starts it; here that start is left out of the timed run, as it is
        # paid once, not per run.
        run_cli("local-server-start", ["server", "start"], local_env, logs)
        try:
            measured = run_cli("warm-local-server", run_args, local_env, logs)
            started = local_server.read_record(prefect_home)
            measured.extra |= last_run(db_path, started.url if started else None)
        finally:
            run_cli("local-server-stop", ["server", "stop"], local_env, logs)
        results["warm_local_server"] = measured.as_dict()
        say(f"  {measured.seconds:.1f} s")
        say("(c'') warm, a temporary Prefect server per run (NEWSFLOW_LOCAL_SERVER=0) …")
        temporary_env = env | {local_server.OPT_OUT: "0"}
        measured = run_cli("warm-temporary-server", run_args, temporary_env, logs)
        measured.extra |= last_run(db_path, None)
        results["warm_temporary_server"] = measured.as_dict()
        say(f"  {measured.seconds:.1f} s")

    cold, warm, inc = results["cold"], results["warm"], results["incremental"]
    if args.topics:
        results["topics"] = {"count": args.topics} | bench_topics.topic_cost(cold)
    results["search"] = bench_topics.search_latency(db_path, docs)
    say(f"  topics: {results.get('topics')}; search: {results['search']}")
    n = results["corpus"]["n"]
    cold_per_doc = cold["seconds"] / n
    marginal = max(0.0, inc["seconds"] - warm["seconds"]) / max(1, added)
    results["ratios"] = {
        "cold_throughput_multiple": anchor.seconds / cold["seconds"],
        "warm_over_cold": warm["seconds"] / cold["seconds"],
        # The 1% run pays a run's fixed cost (what the warm run measures) plus its documents;
        # the per-document figure is the part beyond that fixed cost.
        "incremental_per_doc_over_cold": marginal / cold_per_doc,
        "incremental_raw_per_doc_over_cold": inc["seconds"] / max(1, added) / cold_per_doc,
        "cold_cpu_over_anchor_cpu": cold["cpu_seconds"] / max(1e-9, anchor.cpu_seconds),
        # The same multiple against an anchor that also identifies each file's language.
        "cold_throughput_multiple_vs_anchor_with_language": (
            anchor.seconds + anchor.extra["language_detection_seconds"]
        )
        / cold["seconds"],
    }
    for key in ("warm_local_server", "warm_temporary_server"):
        if key in results:
            results["ratios"][f"{key}_over_cold"] = results[key]["seconds"] / cold["seconds"]
    peak = max(results[k]["peak_rss_mb"] for k in ("cold", "warm", "incremental"))
    results["targets"] = {
        name: check(name, results["ratios"][name])
        for name in ("cold_throughput_multiple", "warm_over_cold", "incremental_per_doc_over_cold")
    } | {"peak_rss_mb": check("peak_rss_mb", peak)}
    if results.get("topics", {}).get("share_of_cold_run") is not None:
        share = results["topics"]["share_of_cold_run"]
        results["targets"]["topics_share_of_cold_run"] = check("topics_share_of_cold_run", share)
    results["targets"]["search_two_words_ms"] = check(
        "search_two_words_ms", results["search"]["median_ms"]
    )
    if "warm_local_server_over_cold" in results["ratios"]:
        name = "warm_local_server_over_cold"
        results["targets"][name] = check(name, results["ratios"][name])
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


def report(results: dict[str, Any]) -> str:
    """The figures as a short text table."""
    a, b, c, d = (results[k] for k in ("anchor", "cold", "warm", "incremental"))
    n = results["corpus"]["n"]
    lines = [
        f"newsflow benchmark — {results['label']}, {n} documents, method {results['method']}",
        f"code: {results['code']}; machine: {results['machine']['cpus']} CPUs, load "
        f"{results['machine']['load_average']} → {results['machine']['load_average_after']}",
        f"prefect: {results['prefect']}",
        "",
        f"{'run':<34}{'wall s':>9}{'CPU s':>9}{'docs/s':>9}{'peak RSS MB':>13}",
        f"{'(a) anchor: bare sumy LexRank':<34}{a['seconds']:>9.2f}{a['cpu_seconds']:>9.2f}"
        f"{a['documents'] / a['seconds']:>9.0f}{a['peak_rss_mb']:>13.0f}",
        f"{'(b) cold: newsflow run, empty db':<34}{b['seconds']:>9.2f}{b['cpu_seconds']:>9.2f}"
        f"{n / b['seconds']:>9.0f}{b['peak_rss_mb']:>13.0f}",
        f"{'(c) warm: unchanged input':<34}{c['seconds']:>9.2f}{c['cpu_seconds']:>9.2f}"
        f"{'':>9}{c['peak_rss_mb']:>13.0f}",
        f"{'(d) incremental: +' + str(d['added']) + ' documents':<34}{d['seconds']:>9.2f}"
        f"{d['cpu_seconds']:>9.2f}{'':>9}{d['peak_rss_mb']:>13.0f}",
    ]
    for key, name in (
        ("warm_local_server", "(c') warm, local server reused"),
        ("warm_temporary_server", "(c'') warm, temporary server"),
    ):
        if key in results:
            t = results[key]
            lines.append(
                f"{name:<34}{t['seconds']:>9.2f}{t['cpu_seconds']:>9.2f}"
                f"{'':>9}{t['peak_rss_mb']:>13.0f}"
            )
    lines.append("")
    for key, title in (("cold", "(b)"), ("warm", "(c)"), ("incremental", "(d)")):
        run = results[key]
        if "phases" in run:
            parts = ", ".join(
                f"{name} {p['seconds']:.1f}s/{p['runs']}" for name, p in run["phases"].items()
            )
            lines.append(f"{title} flow run {run['flow_run_seconds']:.1f} s; tasks: {parts}")
    if "cpu_by_stage" in b:
        lines.append(f"(b) CPU s by stage: {cpu_by_stage(b['cpu_by_stage'])}")
    lines.append("")
    labels = {
        "cold_throughput_multiple": "cold throughput vs anchor (a/b)",
        "warm_over_cold": "warm / cold (c/b)",
        "warm_local_server_over_cold": "warm, local server / cold (c'/b)",
        "incremental_per_doc_over_cold": "1% per-doc cost vs cold per-doc",
        "peak_rss_mb": "peak RSS, MB",
        "topics_share_of_cold_run": "topics' share of the cold run",
        "search_two_words_ms": "two-word search, median ms",
    }
    for name, verdict in results["targets"].items():
        mark = "ok " if verdict["ok"] else "MISS"
        lines.append(
            f"  [{mark}] {labels[name]:<36}{verdict['value']:>10.3f}  ({verdict['target']})"
        )
    ratios = results["ratios"]
    lines.append(
        f"  (1% run incl. its fixed cost: {ratios['incremental_raw_per_doc_over_cold']:.1f}× cold "
        f"per-doc; CPU b/a {ratios['cold_cpu_over_anchor_cpu']:.2f}; a/b with language "
        f"detection in the anchor {ratios['cold_throughput_multiple_vs_anchor_with_language']:.2f})"
    )
    if "topics" in results:
        t = results["topics"]
        lines.append(
            f"  (topics: {t['seconds']:.2f} s of the cold run's {b['seconds']:.1f} s, "
            f"{t['matches']} matches; search: median {results['search']['median_ms']:.1f} ms, "
            f"max {results['search']['max_ms']:.1f} ms, e.g. {results['search']['example']!r})"
        )
    selection = results["selection_check"]
    lines.append(
        f"  selection: {selection['identical']}/{selection['compared']} stored summaries choose "
        f"the anchor's sentences"
    )
    return "\n".join(lines)


def cpu_by_stage(cpu: dict[str, Any]) -> str:
    """`runs.cpu` as one line: the flow's process, then each kind of worker batch (the file
    parse by stage)."""
    parts = [f"flow process {cpu['flow']:.1f}"]
    for name, seconds in cpu["workers"].items():
        stages = cpu["parse"] if name == "parse_files" else {}
        detail = ", ".join(f"{stage} {value:.1f}" for stage, value in stages.items())
        parts.append(f"{name} {seconds:.1f}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts)


def code_version() -> str:
    """The commit benchmarked (and whether the tree had uncommitted changes)."""
    if os.environ.get("NEWSFLOW_BENCH_CODE"):
        return os.environ["NEWSFLOW_BENCH_CODE"]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        # Not counting the figures file the benchmark itself writes: runs in a row are of one tree.
        status = ["git", "status", "--porcelain", "--untracked-files=no"]
        dirty = subprocess.run(
            [*status, "--", ".", ":!benchmarks/latest.json"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} + uncommitted changes" if dirty else commit


def run_in_snapshot(argv: list[str], out: Path) -> int:
    """Export HEAD to out/code and run this benchmark there, on the same virtualenv."""
    out = out.resolve()
    code = out / "code"
    if code.exists():
        shutil.rmtree(code)
    (code / "main").mkdir(parents=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(code / "main")], input=archive, check=True)
    if (ROOT.parent / "shared").is_dir():  # the shared corpus, where the code expects it
        (code / "shared").symlink_to(ROOT.parent / "shared")
    rest = [a for a in argv if a != "--snapshot"]
    say(f"benchmarking commit {commit} from {code / 'main'}")
    env = dict(os.environ) | {
        "PYTHONPATH": str(code / "main"),  # ahead of the editable install of the working tree
        "NEWSFLOW_BENCH_CODE": f"{commit} (snapshot)",
    }
    command = [sys.executable, "-m", "benchmarks.run", *rest, "--out", str(out),
               "--latest", str(Path(LATEST).resolve())]  # fmt: skip
    return subprocess.run(command, cwd=code / "main", env=env).returncode


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # noqa: T201 (progress of a CLI)


def main(argv: list[str] | None = None) -> int:
    """Command line of `make bench`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="generated documents (default 5000)")
    parser.add_argument("--corpus", help="use this folder of articles instead of generating one")
    parser.add_argument(
        "--near-duplicates",
        type=float,
        default=0.0,
        help="share of generated documents that are labelled near-duplicates",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--topics", type=int, default=20, help="topics every run matches (0: none)")
    parser.add_argument("--method", default="lexrank")
    parser.add_argument("--label", help="name of this configuration in the results")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument(
        "--no-temporary-server",
        action="store_true",
        help="skip the extra warm runs without PREFECT_API_URL (local and temporary server)",
    )
    parser.add_argument(
        "--no-save-latest",
        action="store_true",
        help=f"do not record the figures in {LATEST.relative_to(ROOT)}",
    )
    parser.add_argument("--latest", default=str(LATEST), help=argparse.SUPPRESS)
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="benchmark the last commit (git archive HEAD), not a working tree others are editing",
    )
    args = parser.parse_args(argv)  # fmt: skip
    if args.snapshot:
        status = run_in_snapshot(argv if argv is not None else sys.argv[1:], Path(args.out))
        if not args.no_save_latest:
            figures.update_page()  # the snapshot wrote this tree's latest.json
        return status

    results = benchmark(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_save_latest:
        # The latest run per label replaces the earlier one, and the docs' table follows it.
        figures.save_latest(Path(args.latest), results)
        if Path(args.latest).resolve() == LATEST.resolve():
            figures.update_page()
    print(report(results))  # noqa: T201 (the benchmark's output)
    print(f"\nwritten: {out / 'results.json'}")  # noqa: T201
    return 0 if all(v["ok"] for v in results["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
