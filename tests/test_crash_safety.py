"""Crash safety: a run killed at any point leaves a consistent database, and the next run recovers
to exactly the state of one uninterrupted run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.db import open_db
from newsflow.tasks.store import run_log, writer
from tests.hostile import (
    BBC_ARTICLES,
    PROGRESS_TABLES,
    ROOT,
    Run,
    Snapshot,
    make_edited_corpus,
    prefect_env,
    prefect_server,
    progress,
    query,
    record_figures,
    shared_prefect_home,
    snapshot,
    wait_for_status,
)

FILES = 300
KILL_FRACTIONS = (0.30, 0.60, 0.85)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 distinct article files made from the BBC corpus."""
    if not BBC_ARTICLES.is_dir():
        pytest.skip("../shared/corpus/bbc-news-summary is not present")
    return make_edited_corpus(tmp_path_factory.mktemp("crash") / "seeds", FILES)[0].parent


@pytest.fixture(scope="module")
def prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One Prefect server for this module's runs: a killed run's temporary server would die
    with it anyway, and each run saves the seconds of starting one."""
    base = tmp_path_factory.mktemp("prefect")
    with prefect_server(base / "home", base / "server.log") as env:
        yield env


@pytest.fixture(scope="module")
def clean(
    corpus: Path, prefect: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """One uninterrupted run: the state every interrupted one must end in, and its timeline."""
    base = tmp_path_factory.mktemp("clean")
    run = Run(corpus, base / "clean.db", base, "clean", env=prefect)
    began = wait_for_status(run, "running")
    timeline = []  # (seconds since the `runs` row appeared, committed rows per table)
    while not query(run.db, "SELECT 1 FROM runs WHERE status = 'completed'"):
        assert run.process.poll() in (None, 0), run.stderr()
        timeline.append((time.monotonic() - began, progress(run.db)))
        time.sleep(0.02)
    work_seconds = time.monotonic() - began
    assert run.wait() == 0, run.stderr()
    state = snapshot(run.db)
    assert state.integrity == "ok"
    assert state.document_rows == state.distinct_keys == FILES
    assert state.summary_rows == state.distinct_summaries > 0
    return {"state": state, "work_seconds": work_seconds, "timeline": timeline}


def kill_plan(clean: dict[str, object], fraction: float) -> tuple[dict[str, int], float]:
    """Where `fraction` of the clean run's work fell: the last progress marker before it (rows
    committed) and the seconds the clean run went on from that marker to reach it."""
    timeline: list[tuple[float, dict[str, int]]] = clean["timeline"]  # type: ignore[assignment]
    target = fraction * float(clean["work_seconds"])
    marker = dict.fromkeys(PROGRESS_TABLES, 0)
    for seconds, counts in timeline:
        if seconds > target:
            break
        marker = counts
    first_seen = next((t for t, counts in timeline if counts == marker), 0.0)
    return marker, max(0.0, target - first_seen)


def reached(counts: dict[str, int], marker: dict[str, int]) -> bool:
    return all(counts[table] >= marker[table] for table in marker)


def assert_same_state(got: Snapshot, want: Snapshot) -> None:
    assert got.integrity == "ok"
    assert got.document_rows == got.distinct_keys == want.document_rows  # no duplicates
    assert got.summary_rows == got.distinct_summaries == want.summary_rows
    assert got.documents == want.documents  # same keys, content hashes, canonicals, statuses
    assert got.summaries == want.summaries  # same text per document, method and length
    assert got.rejects == want.rejects
    assert got.stories == want.stories  # the same documents grouped the same way
    assert got.story_rows == want.story_rows
    assert got.fts_rows == want.fts_rows == want.document_rows
    assert got.versions == want.versions


@pytest.mark.slow
@pytest.mark.parametrize("fraction", KILL_FRACTIONS)
def test_sigkill_at_any_point_recovers_to_the_clean_state(
    corpus: Path, prefect: dict[str, str], clean: dict[str, object], tmp_path: Path,
    fraction: float,
) -> None:  # fmt: skip
    db = tmp_path / "killed.db"
    want: Snapshot = clean["state"]  # type: ignore[assignment]
    marker, delay = kill_plan(clean, fraction)
    killed = Run(corpus, db, tmp_path, "killed", env=prefect)
    began = wait_for_status(killed, "running")
    # Kill on progress, not on the clock alone: wait for the rows the clean run had committed
    # by then, then as long again as the clean run took from there.
    while not reached(progress(db), marker):
        assert killed.process.poll() is None, f"the run ended early\n{killed.stderr()}"
        time.sleep(0.02)
    time.sleep(delay)
    killed.kill_group(signal.SIGKILL)
    killed_after = time.monotonic() - began
    assert killed.process.returncode == -signal.SIGKILL, "the run ended before the kill"
    at_kill = progress(db)

    # Consistent right after the kill: nothing half-written, only whole committed batches.
    after_kill = snapshot(db)
    assert after_kill.integrity == "ok"
    assert _keys_and_hashes(after_kill) <= _keys_and_hashes(want)
    assert after_kill.summaries <= want.summaries
    assert after_kill.document_rows == after_kill.distinct_keys
    assert query(db, "SELECT status FROM runs") == [("running",)]

    rerun = Run(corpus, db, tmp_path, "rerun", env=prefect)
    assert rerun.wait() == 0, rerun.stderr()
    assert_same_state(snapshot(db), want)
    statuses = dict(query(db, "SELECT status, count(*) FROM runs GROUP BY status"))
    assert statuses == {"abandoned": 1, "completed": 1}
    record_figures(
        f"sigkill_at_{round(fraction * 100)}pct",
        marker=marker, delay_seconds=round(delay, 2), killed_after_seconds=round(killed_after, 1),
        at_kill=at_kill, clean_documents=want.document_rows, clean_summaries=want.summary_rows,
        clean_work_seconds=round(float(clean["work_seconds"]), 1),
        rerun_seconds=round(time.monotonic() - rerun.started, 1), items_lost=0,
    )  # fmt: skip


def _keys_and_hashes(state: Snapshot) -> set[tuple[object, object]]:
    return {(row[0], row[1]) for row in state.documents}


@pytest.mark.slow
def test_sigterm_records_the_run_as_failed_and_leaves_no_process_behind(
    corpus: Path,
    prefect: dict[str, str],
    clean: dict[str, object],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Without PREFECT_API_URL: the run starts its own temporary Prefect server, which must stop
    # with it.
    env = prefect_env(shared_prefect_home(tmp_path_factory.getbasetemp()))
    db = tmp_path / "terminated.db"
    run = Run(corpus, db, tmp_path, "terminated", env=env)
    began = wait_for_status(run, "running")
    time.sleep(max(0.0, began + 0.5 * float(clean["work_seconds"]) - time.monotonic()))
    run.process.send_signal(signal.SIGTERM)  # only the main process, as `kill` or systemd would
    assert run.wait(timeout=60) == 128 + signal.SIGTERM, run.stderr()
    assert "terminated; the run is recorded as failed" in run.stderr()
    deadline = time.monotonic() + 15
    while run.group_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if run.group_alive():  # leave nothing running, then fail
        run.kill_group()
        pytest.fail("a process started by the run outlived it (orphaned Prefect server?)")
    ((status, error),) = query(db, "SELECT status, error FROM runs")
    assert status == "failed" and "TerminationSignal" in error
    assert snapshot(db).integrity == "ok"

    rerun = Run(corpus, db, tmp_path, "rerun", env=prefect)
    assert rerun.wait() == 0, rerun.stderr()
    assert_same_state(snapshot(db), clean["state"])  # type: ignore[arg-type]


KILL_INSIDE_A_TRANSACTION = """
import sys, time
from pathlib import Path
from newsflow.db import open_db
from newsflow.tasks.ingest import scan
from newsflow.tasks.ingest import loader
from newsflow.tasks.store import writer

db = open_db(sys.argv[1])
entries, _ = scan.scan_folder(Path(sys.argv[2]))

def items():
    for number, entry in enumerate(entries):
        yield from loader.load_file(entry)[0]
        if number == 40:  # 41 rows written inside the open transaction, none committed
            Path(sys.argv[3]).write_text("in transaction")
            time.sleep(600)

writer.save_items(db, items(), run_id="killed")
"""


def test_sigkill_inside_a_write_transaction_leaves_no_trace(corpus: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "newsflow.db"
    marker = tmp_path / "marker"
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_INSIDE_A_TRANSACTION, str(db_path), str(corpus), str(marker)],
        cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, "writer never got there"
        time.sleep(0.05)
    process.kill()
    process.wait()
    # The killed transaction left rows in the WAL file, uncommitted: nobody may see them.
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert query(db_path, "SELECT count(*) FROM documents") == [(0,)]
    assert query(db_path, "SELECT count(*) FROM documents_fts") == [(0,)]

    # And the database takes the whole batch afterwards, as if nothing had happened.
    from newsflow.tasks.ingest import loader, scan

    db = open_db(db_path)
    try:
        entries, _ = scan.scan_folder(corpus)
        items = [item for entry in entries[:60] for item in loader.load_file(entry)[0]]
        counts = writer.save_items(db, items, run_id="after")
        assert counts.new == 60
        assert db.execute("SELECT count(*) FROM documents").fetchone()[0] == 60
    finally:
        db.conn.close()


def test_only_runs_whose_process_is_gone_are_abandoned(db_path: Path) -> None:
    db = open_db(db_path)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # its pid is now free: a run that was killed
    boot_of_this_process = run_log._process_start(os.getpid()) or time.time()
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(boot_of_this_process - 3600))
    host = socket.gethostname()
    rows = {
        "dead": (finished.pid, host, writer.now()),
        "alive": (os.getpid(), host, writer.now()),
        "pid-reused": (os.getpid(), host, long_ago),  # our pid, but we started after that run
        "other-host": (finished.pid, "elsewhere", writer.now()),
        "no-pid": (None, host, writer.now()),
    }
    try:
        for run_id, (pid, run_host, started) in rows.items():
            db.table("runs").insert({"id": run_id, "started_at": started, "status": "running",
                                     "pid": pid, "host": run_host})  # fmt: skip
        db.table("runs").insert({"id": "done", "started_at": writer.now(), "status": "completed",
                                 "pid": finished.pid, "host": host})  # fmt: skip
        assert sorted(run_log.abandon_stale_runs(db)) == ["dead", "pid-reused"]
        status = dict(db.execute("SELECT id, status FROM runs").fetchall())
        assert status == {
            "dead": "abandoned",
            "alive": "running",
            "pid-reused": "abandoned",
            "other-host": "running",
            "no-pid": "running",
            "done": "completed",
        }
        error = db.execute("SELECT error FROM runs WHERE id = 'dead'").fetchone()[0]
        assert f"process {finished.pid}" in error and "ended without finishing" in error
        assert run_log.abandon_stale_runs(db) == []  # idempotent
    finally:
        db.conn.close()
