"""Where batches run changes nothing stored: in-process, a local process pool, a Dask cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import corpus as corpus_generator
from newsflow.db import open_db
from newsflow.flows import daily as daily_module
from newsflow.flows import scaleout
from newsflow.flows.scaleout import ScaleSettings, Workers


def test_settings_default_to_one_worker_per_cpu(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NEWSFLOW_WORKERS", raising=False)
    monkeypatch.delenv("NEWSFLOW_DASK_ADDRESS", raising=False)
    assert ScaleSettings.from_env() == ScaleSettings(workers=os.cpu_count() or 1)


def test_settings_read_workers_and_dask_address(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSFLOW_WORKERS", "3")
    monkeypatch.setenv("NEWSFLOW_DASK_ADDRESS", "tcp://10.0.0.5:8786")
    assert ScaleSettings.from_env() == ScaleSettings(3, "tcp://10.0.0.5:8786")
    monkeypatch.setenv("NEWSFLOW_WORKERS", "0")
    assert ScaleSettings.from_env().workers == 1


def test_settings_refuse_a_worker_count_that_is_not_a_number(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSFLOW_WORKERS", "many")
    with pytest.raises(ValueError, match="NEWSFLOW_WORKERS must be a whole number, got 'many'"):
        ScaleSettings.from_env()


def test_small_work_stays_in_process():
    with Workers(ScaleSettings(workers=2)) as workers:
        assert list(workers.map(pow, [(2, i) for i in range(5)], items=5)) == [1, 2, 4, 8, 16]
        assert workers._pool is None
    # Its CPU is counted, as having run in this process.
    assert set(workers.cpu) == {"pow"} and workers.cpu_here == workers.cpu["pow"]


def test_pool_returns_results_in_submission_order():
    with Workers(ScaleSettings(workers=2)) as workers:
        calls = [(3, i) for i in range(40)]  # more than the window of batches in flight
        results = list(workers.map(pow, calls, items=scaleout.PARALLEL_MIN_ITEMS))
        assert workers._pool is not None
    assert results == [3**i for i in range(40)]
    assert workers._pool is None
    # Counted from what the workers measured, none of it in this process.
    assert set(workers.cpu) == {"pow"} and workers.cpu_here == 0


@pytest.mark.parametrize(("user_value", "expected"), [(None, "['1'] None"), ("3", "['3'] 3")])
def test_workers_get_one_blas_thread_each_unless_the_user_says(
    user_value: str | None, expected: str
) -> None:
    """The pool is the parallelism: a BLAS thread per core in every worker only spins. In a fresh
    interpreter, so that this pool starts the fork server whose environment the workers get."""
    script = (
        "import os\n"
        "from newsflow.flows.scaleout import PARALLEL_MIN_ITEMS, ScaleSettings, Workers\n"
        "if __name__ == '__main__':\n"
        "    with Workers(ScaleSettings(workers=2)) as workers:\n"
        "        calls = [('OPENBLAS_NUM_THREADS',)] * 4\n"
        "        seen = set(workers.map(os.getenv, calls, items=PARALLEL_MIN_ITEMS))\n"
        "    print(sorted(seen), os.getenv('OPENBLAS_NUM_THREADS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in scaleout.WORKER_ENVIRONMENT}
    if user_value is not None:
        env["OPENBLAS_NUM_THREADS"] = user_value
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parent.parent, check=True,
    )  # fmt: skip
    # The workers got the value; the flow's own process kept its environment as it was.
    assert done.stdout.strip() == expected


def test_an_early_fork_server_is_the_one_the_pool_forks_from():
    """`newsflow run` starts the fork server before it imports Prefect; the pool must then fork
    its workers from that server (their parent), with the one-BLAS-thread environment, and not
    start another. In a fresh interpreter, whose fork server is not running yet."""
    script = (
        "import os\n"
        "from multiprocessing import forkserver\n"
        "from newsflow.flows.scaleout import PARALLEL_MIN_ITEMS, ScaleSettings, Workers\n"
        "from newsflow.flows.scaleout import start_early\n"
        "if __name__ == '__main__':\n"
        "    two = ScaleSettings(workers=2)\n"
        "    assert not start_early(0, two)  # no new work: no server\n"
        "    assert not start_early(10**6, ScaleSettings(workers=1))\n"
        "    assert forkserver._forkserver._forkserver_pid is None\n"
        "    assert start_early(PARALLEL_MIN_ITEMS, two)\n"
        "    server = forkserver._forkserver._forkserver_pid\n"
        "    with Workers(two) as workers:\n"
        "        calls = [()] * 4\n"
        "        parents = set(workers.map(os.getppid, calls, items=PARALLEL_MIN_ITEMS))\n"
        "        blas = set(workers.map(os.getenv, [('OPENBLAS_NUM_THREADS',)], items=1))\n"
        "    print(parents == {server}, forkserver._forkserver._forkserver_pid == server,"
        " sorted(blas), os.getenv('OPENBLAS_NUM_THREADS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in scaleout.WORKER_ENVIRONMENT}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parent.parent, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "True True ['1'] None"


def test_an_early_start_makes_any_work_worth_a_pool_for_that_run_only():
    """Started before Prefect loads, the pool's start costs no waiting: one new file pays for it.
    Once the run (the block) is over, small work runs in the process again."""
    two = ScaleSettings(workers=2)
    with scaleout.early_start(0, two) as started:
        assert not started  # nothing new: no server, and no pool for small work
        with Workers(two) as workers:
            assert not workers.start(1)
    with scaleout.early_start(1, two) as started:
        assert started
        with Workers(two) as workers:
            assert workers.start(1)
            assert {pid for pid, _ in workers.map(_worker_state, [()], items=1)} != {os.getpid()}
    with Workers(two) as workers:
        assert not workers.start(scaleout.PARALLEL_MIN_ITEMS - 1)
    with scaleout.early_start(10**6, ScaleSettings(workers=1)) as started:
        assert not started  # one worker: the flow's own process is the pool


def test_a_started_pool_serves_small_work_too():
    """Story summaries after a big ingest are few, but the workers are already there."""
    with Workers(ScaleSettings(workers=2)) as workers:
        assert workers.start(scaleout.PARALLEL_MIN_ITEMS)
        pids = set(workers.map(_worker_state, [()] * 4, items=1))
        assert os.getpid() not in {pid for pid, _ in pids}
        # The fork server loaded the language model before forking: no worker loads it again.
        assert all(loaded for _, loaded in pids)


def _worker_state() -> tuple[int, bool]:
    from newsflow.tasks.ingest import language

    preloaded = "newsflow.flows.worker_start" in sys.modules  # only the fork server imports it
    return os.getpid(), preloaded and language._identifier.cache_info().currsize > 0


# --- the flow under each runner -------------------------------------------------------------------


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forty generated articles (BBC sentences when the shared corpus is there, else the seeds),
    eight of them lightly edited copies of others."""
    folder = tmp_path_factory.mktemp("articles")
    corpus_generator.generate(folder, 40, near_duplicates=0.2, seed=11, seeds_only=True)
    return folder / "docs"


def stored(db_path: Path) -> dict[str, list[tuple]]:
    """What a run leaves behind that must not depend on where batches ran."""
    db = open_db(db_path)
    return {
        "documents": db.execute(
            "SELECT id, key, content_hash, language, duplicate_of, summary_status"
            " FROM documents ORDER BY id"
        ).fetchall(),
        "summaries": db.execute(
            "SELECT document_id, method, length, text, sentence_indexes FROM summaries"
            " ORDER BY document_id, method"
        ).fetchall(),
    }


def run_flow(articles: Path, db_path: Path) -> dict:
    return daily_module.daily(seeds_dir=str(articles), db_path=str(db_path), trigger="test")


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Several batches of each kind, and a pool even for forty documents.
    monkeypatch.setattr(daily_module, "FILE_BATCH", 9)
    monkeypatch.setattr(daily_module, "SUMMARY_BATCH", 7)
    monkeypatch.setattr(scaleout, "PARALLEL_MIN_ITEMS", 1)


@pytest.fixture(scope="module")
def in_process(articles: Path, tmp_path_factory: pytest.TempPathFactory, prefect_harness: None):
    """The reference: the same flow with every batch in the flow's own process."""
    db_path = tmp_path_factory.mktemp("in-process") / "newsflow.db"
    patch = pytest.MonkeyPatch()
    patch.setenv("NEWSFLOW_WORKERS", "1")
    patch.delenv("NEWSFLOW_DASK_ADDRESS", raising=False)
    patch.setattr(daily_module, "FILE_BATCH", 9)
    patch.setattr(daily_module, "SUMMARY_BATCH", 7)
    try:
        result = run_flow(articles, db_path)
    finally:
        patch.undo()
    assert result["counts"]["summaries"] > 20
    found = stored(db_path)
    copies = {row[0] for row in found["documents"] if row[4] is not None}
    assert copies, "the near-duplicates were not found"
    # Summaries are computed while near-duplicates are looked for: a copy's is never written.
    assert not copies & {row[0] for row in found["summaries"]}
    return found


@pytest.mark.slow
@pytest.mark.usefixtures("small_batches")
def test_local_process_pool_stores_what_in_process_stores(
    articles: Path, db_path: Path, in_process: dict, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NEWSFLOW_WORKERS", "2")
    monkeypatch.delenv("NEWSFLOW_DASK_ADDRESS", raising=False)
    run_flow(articles, db_path)
    assert stored(db_path) == in_process


@pytest.mark.slow
@pytest.mark.usefixtures("small_batches")
def test_dask_cluster_stores_what_in_process_stores(
    articles: Path, db_path: Path, in_process: dict, monkeypatch: pytest.MonkeyPatch
):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        monkeypatch.setenv("NEWSFLOW_DASK_ADDRESS", cluster.scheduler_address)
        monkeypatch.setenv("NEWSFLOW_WORKERS", "2")
        with distributed.Client(cluster) as client:
            run_flow(articles, db_path)
            # The summarisation batches ran on the cluster's workers, as Prefect task runs.
            ran = client.run_on_scheduler(
                lambda dask_scheduler: sum(
                    1 for key in dask_scheduler.task_prefixes if "summarise_batch" in key
                )
            )
    assert ran >= 1
    assert stored(db_path) == in_process
