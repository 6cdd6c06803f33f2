"""Concurrency: several runs on one database at once end in the state of one run."""

from __future__ import annotations

import itertools
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from newsflow.db import open_db
from tests.hostile import (
    BBC_ARTICLES,
    ROOT,
    Run,
    make_edited_corpus,
    prefect_env,
    query,
    record_figures,
    shared_prefect_home,
    snapshot,
)

FILES = 300
RUNS = 3


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BBC_ARTICLES.is_dir():
        pytest.skip("../shared/corpus/bbc-news-summary is not present")
    return make_edited_corpus(tmp_path_factory.mktemp("concurrency") / "seeds", FILES)[0].parent


@pytest.mark.slow
def test_three_runs_at_once_end_in_the_state_of_one(
    corpus: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # As a user with three terminals would: no PREFECT_API_URL, so each run starts its own
    # temporary Prefect server, all sharing one Prefect home (whose database exists by then).
    env = prefect_env(shared_prefect_home(tmp_path_factory.getbasetemp()))
    reference = Run(corpus, tmp_path / "one.db", tmp_path, "one", env=env)
    assert reference.wait() == 0, reference.stderr()
    one_run_seconds = time.monotonic() - reference.started
    want = snapshot(reference.db)

    db = tmp_path / "shared.db"  # a fresh file: the three also race to create the schema
    started = time.monotonic()
    runs = [Run(corpus, db, tmp_path, f"run{n}", env=env) for n in range(RUNS)]
    codes = [run.wait() for run in runs]
    seconds = time.monotonic() - started
    errors = "\n".join(run.stderr() for run in runs)
    assert codes == [0] * RUNS, errors
    ours = "\n".join(
        _without_prefect_server_logs(run.err.read_text(errors="replace")) for run in runs
    )
    assert "database is locked" not in ours and "Traceback" not in ours, ours[-3000:]

    got = snapshot(db)
    assert got.integrity == "ok"
    assert got.document_rows == got.distinct_keys == want.document_rows == FILES
    assert got.summary_rows == got.distinct_summaries == want.summary_rows
    assert got.documents == want.documents
    assert got.summaries == want.summaries
    assert got.stories == want.stories and got.story_rows == want.story_rows
    assert got.rejects == want.rejects
    assert got.fts_rows == want.fts_rows
    assert query(db, "SELECT status, count(*) FROM runs GROUP BY status") == [("completed", RUNS)]
    decisions = query(db, "SELECT count(*) FROM dedup_decisions")
    assert decisions == query(reference.db, "SELECT count(*) FROM dedup_decisions")
    record_figures("three_concurrent_runs", runs=RUNS, files=FILES, seconds=round(seconds, 1),
                   one_run_seconds=round(one_run_seconds, 1), documents=got.document_rows,
                   summaries=got.summary_rows, duplicates=0, locked_errors=0)  # fmt: skip


# A log record's first line as Prefect's console handler writes it: "12:00:01.234 | ERROR | name -".
_RECORD = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| \w+\s* \| (\S+) - ", re.MULTILINE)


def _without_prefect_server_logs(stderr: str) -> str:
    """A run's stderr without the records (and their tracebacks) that its temporary Prefect
    server logs about its own database. Three such servers share one Prefect home, so their SQLite
    file is contended too; Prefect retries those writes ("Error flushing 3 events (3 to retry, 0
    dropped)"), and none of it is newsflow's database or the run's outcome."""
    starts = [match.start() for match in _RECORD.finditer(stderr)] + [len(stderr)]
    kept = [stderr[: starts[0]]]
    for start, end in itertools.pairwise(starts):
        record = stderr[start:end]
        name = _RECORD.match(record)
        if not (name and name.group(1).startswith("prefect.server")):
            kept.append(record)
    return "".join(kept)


WRITER = """
import sys, time
from pathlib import Path
from newsflow.db import open_db
from newsflow.tasks.ingest import scan
from newsflow.tasks.ingest import loader
from newsflow.tasks.store import run_log
from newsflow.tasks.store import transaction
from newsflow.tasks.store import writer

db_path, seeds, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
db = open_db(db_path)  # every writer migrates the fresh file at the same moment
run_id = run_log.start_run(db, parameters={}, trigger="test")
entries, rejects = scan.scan_folder(seeds)
items = [item for entry in entries for item in loader.load_file(entry)[0]]
for start in range(0, len(items), 25):  # small batches: many chances to interleave
    with transaction.write_transaction(db):
        writer.save_items(db, items[start:start + 25], run_id=run_id)
        writer.save_rejects(db, rejects, run_id=run_id)
run_log.finish_run(db, run_id, status="completed")
"""


def test_opening_waits_for_a_writer_instead_of_failing_to_switch_to_wal(tmp_path: Path) -> None:
    """On a file not in WAL mode yet, another connection's write lock makes the switch fail at
    once, busy timeout or not (how one of four processes opening a new file at the same moment
    failed, 5 times in 100 rounds of six): open_db waits for the lock instead."""
    path = tmp_path / "new.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE first_writer (x)")
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock, as a process migrating it would
    plain = sqlite3.connect(path, isolation_level=None, timeout=5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        plain.execute("PRAGMA journal_mode = WAL")  # refused at once, timeout notwithstanding
    plain.close()
    release = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    db = open_db(path)
    waited = time.monotonic() - started
    release.join()
    assert waited >= 0.25
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert "first_writer" in db.table_names() and "documents" in db.table_names()


def test_writers_racing_on_a_fresh_file_never_duplicate_or_lock(
    corpus: Path, tmp_path: Path
) -> None:
    db = tmp_path / "race.db"
    go = tmp_path / "go"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in sorted(corpus.iterdir())[:100]:
        (seeds / path.name).write_bytes(path.read_bytes())
    first = min(seeds.iterdir())
    (seeds / "copy.txt").write_bytes(first.read_bytes())  # an exact duplicate to decide on
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(seeds), str(go)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(4)
    ]
    time.sleep(1.0)  # let all four import and wait at the line
    go.touch()
    outputs = [writer.communicate(timeout=300)[1].decode() for writer in writers]
    assert [writer.returncode for writer in writers] == [0] * 4, "\n".join(outputs)
    assert not any("locked" in output for output in outputs)

    state = snapshot(db)
    assert state.integrity == "ok"
    assert state.document_rows == state.distinct_keys == 101
    assert query(db, "SELECT count(*) FROM documents WHERE duplicate_of IS NOT NULL") == [(1,)]
    assert query(db, "SELECT count(*) FROM dedup_decisions") == [(1,)]  # decided once, not 4x
    assert query(db, "SELECT count(*) FROM _sqlite_migrations") == query(
        db, "SELECT count(DISTINCT name) FROM _sqlite_migrations"
    )  # each migration applied once
    assert state.fts_rows == 101
