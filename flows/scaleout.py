"""Where the flow's CPU-heavy batches run: in-process, a local process pool, or a Dask cluster.

Settings (environment variables):

- `NEWSFLOW_WORKERS`: processes for file parsing and summarisation (default: the machine's CPU
  count; 1 runs everything in the flow's own process).
- `NEWSFLOW_DASK_ADDRESS`: a Dask scheduler (`tcp://host:8786`). Summarisation batches then run
  there as Prefect task runs through prefect-dask's `DaskTaskRunner`; every Dask worker needs this
  project installed. Files are still parsed locally (the workers cannot see the seeds folder).

The local pool forks its workers from a fork server that has imported the batch modules once;
`newsflow run` starts that server before it imports Prefect (`early_start`) when the folder holds
any file new to the database.
As with any multiprocessing code, a script that runs the flow itself must guard its entry point
(`if __name__ == "__main__":`); the `newsflow` command and Prefect's runners do.

Results come back in submission order whatever finishes first, so document ids and everything
stored are the same as in an in-process run. At most `window` batches are in flight: memory grows
with the batch size, not the corpus. The database is written only by the flow's process.

Why not Prefect's `ProcessPoolTaskRunner` for the local case: it spawns workers that import Prefect
and run each batch through the task engine; measured on the 2-core benchmark machine that is
~3 s to start and ~60 ms of CPU per task run, where this pool costs ~1 s once and ~1 ms a batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")

# Below this many items a pool's start (~1 s: a fork server importing sumy and the language model)
# costs more than the second core gives back. Started early (`early_start`), before the command
# imports Prefect, the start costs no waiting, and any work pays for it: one new file's run went
# from 3.45 to 2.75 s, the five seeds' first run from 2.7 to 2.05 s.
PARALLEL_MIN_ITEMS = 400
# Modules the fork server imports once, so each worker starts as a copy with them loaded (the
# summarisers too: `summarise.summarize` loads them only when first asked).
PRELOAD = [
    "newsflow.flows.worker_start", "newsflow.tasks.pipeline.batches",
    "newsflow.tasks.summarise.summarize", "newsflow.tasks.summarise.lexrank",
    "newsflow.tasks.summarise.fusion", "newsflow.tasks.ingest.loader",
    "newsflow.tasks.pipeline.features", "datasketch",
]  # fmt: skip


# One BLAS thread per worker: the pool is the parallelism. Left alone, OpenBLAS starts a thread
# per core in every worker, and they spin against each other: two processes summarising the same
# 830 stories side by side took 12.6 s of CPU each, and 5.5 s with one BLAS thread. A value the
# user set is kept.
WORKER_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextmanager
def _environment(defaults: dict[str, str]) -> Iterator[None]:
    """These environment variables, where not set already, for the duration of the block."""
    added = {name: value for name, value in defaults.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _fork_server() -> Any:
    """The multiprocessing context whose fork server imports PRELOAD once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


@dataclass(frozen=True)
class ScaleSettings:
    """How many local worker processes, and which Dask cluster (if any) summarises."""

    workers: int = 1
    dask_address: str | None = None

    @classmethod
    def from_env(cls) -> ScaleSettings:
        """NEWSFLOW_WORKERS and NEWSFLOW_DASK_ADDRESS, with the CPU count as the default."""
        raw = os.environ.get("NEWSFLOW_WORKERS", "").strip()
        try:
            workers = int(raw) if raw else (os.cpu_count() or 1)
        except ValueError:
            raise ValueError(f"NEWSFLOW_WORKERS must be a whole number, got {raw!r}") from None
        address = os.environ.get("NEWSFLOW_DASK_ADDRESS", "").strip() or None
        return cls(workers=max(1, workers), dask_address=address)

    def wants_pool(self, items: int, *, early: bool = False) -> bool:
        """Whether work of this many items pays for starting the local pool (`early`: its fork
        server was started before the command imported Prefect, so any work does)."""
        return self.workers >= 2 and items >= (1 if early else PARALLEL_MIN_ITEMS)


# True while a block under `early_start` runs with a fork server it started.
_early = False


@contextmanager
def early_start(expected_items: int, settings: ScaleSettings | None = None) -> Iterator[bool]:
    """`start_early` for a run (the block): while it lasts, pools fork from that server for any
    amount of work, since what made small work not worth a pool, the start, is paid already."""
    global _early
    _early = start_early(expected_items, settings)
    try:
        yield _early
    finally:
        _early = False


def start_early(expected_items: int, settings: ScaleSettings | None = None) -> bool:
    """Start the pool's fork server now, if a run of this many new items will want the pool; True
    if it did. The server imports and loads what the workers need (~1 s of CPU) in its own
    process, so a command that calls this before importing Prefect gets it done on the second
    core meanwhile, rather than after, when the flow starts its first batch. The `Workers` of the
    same process then fork from it. A wrong guess costs nothing but the head start: too low, the
    pool starts as usual; too high, the server sits idle and goes when the process does."""
    if not (settings or ScaleSettings.from_env()).wants_pool(expected_items, early=True):
        return False
    from multiprocessing import forkserver

    _fork_server()  # sets what the server imports before it starts
    with _environment(WORKER_ENVIRONMENT):
        forkserver.ensure_running()
    return True


class Workers:
    """A context that runs batch functions where the settings say, results in order."""

    def __init__(self, settings: ScaleSettings | None = None) -> None:
        self.settings = settings or ScaleSettings.from_env()
        # CPU seconds the batches took where they ran (here or a local worker), by function name:
        # what a run records of its workers' share (a Dask cluster's is not counted).
        self.cpu: dict[str, float] = {}
        self.cpu_here = 0.0  # the part of it that ran in this process (no pool)
        self._pool: ProcessPoolExecutor | None = None
        self._dask: Any = None  # prefect_dask.DaskTaskRunner, entered on first use

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (batches not started yet are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._dask is not None:
            self._dask.__exit__(None, None, None)
            self._dask = None

    @property
    def pooled(self) -> bool:
        """True once the local worker pool runs."""
        return self._pool is not None

    def start(self, expected_items: int) -> bool:
        """Start the local pool if the work is big enough to pay for it; True if there is one
        (a pool already started serves small work too)."""
        if self._pool is not None:
            return True
        if not self.settings.wants_pool(expected_items, early=_early):
            return False
        self._pool = ProcessPoolExecutor(self.settings.workers, mp_context=_fork_server())
        from newsflow.tasks.pipeline.batches import warm_up

        # The fork server (started by the first submit, unless `start_early` did) and the
        # workers forked from it inherit this environment.
        with _environment(WORKER_ENVIRONMENT):
            for _ in range(self.settings.workers):  # start the workers now, not at first use
                self._pool.submit(warm_up)
        return True

    def map(
        self,
        function: Callable[..., R],
        calls: Iterable[tuple[Any, ...]],
        *,
        items: int,
        window: int | None = None,
    ) -> Iterator[R]:
        """`function(*args)` for each args tuple, results in order.

        With a pool (when `items`, the total work, is big enough) the first `window` batches
        (default: two per worker) are submitted before this returns, so they run while the caller
        does something else; without one, each call runs in this process as it is iterated.
        """
        name = getattr(function, "__name__", repr(function))
        if not self.start(items):
            return self._counted(name, (_timed(function, *args) for args in calls), here=True)
        assert self._pool is not None
        timed = ((function, *args) for args in calls)
        window = window or 2 * self.settings.workers
        return self._counted(name, _ordered(self._pool.submit, _timed, timed, window))

    def _counted(
        self, name: str, timed: Iterator[tuple[R, float]], *, here: bool = False
    ) -> Iterator[R]:
        for result, seconds in timed:
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds
            if here:
                self.cpu_here += seconds
            yield result

    def map_dask(
        self, task: Any, calls: Iterable[dict[str, Any]], *, window: int | None = None
    ) -> Iterator[Any]:
        """Prefect task runs of `task` on the Dask cluster, one per parameters dict, in order."""
        if self._dask is None:
            from prefect_dask import DaskTaskRunner

            log.info("running %s on the Dask cluster at %s", task.name, self.settings.dask_address)
            self._dask = DaskTaskRunner(address=self.settings.dask_address).__enter__()
        runner = self._dask

        def submit(_task: object, parameters: dict[str, Any]) -> Any:
            return runner.submit(task, parameters)

        wrapped = ((parameters,) for parameters in calls)
        return _ordered(submit, task, wrapped, window or 2 * self.settings.workers)


def _timed(function: Callable[..., R], *args: Any) -> tuple[R, float]:
    """`function(*args)` and the CPU seconds it took in this process."""
    start = time.process_time()
    result = function(*args)
    return result, time.process_time() - start


def _ordered(
    submit: Callable[..., Any], function: Any, calls: Iterable[tuple[Any, ...]], window: int
) -> Iterator[Any]:
    """Submit the first `window` calls now; the iterator yields results in order, refilling."""
    pending: deque[Any] = deque()  # concurrent or Prefect futures
    remaining = iter(calls)
    for args in islice(remaining, window):
        pending.append(submit(function, *args))
    return _drain(submit, function, pending, remaining)


def _drain(
    submit: Callable[..., Any], function: Any, pending: deque[Any], remaining: Iterator[Any]
) -> Iterator[Any]:
    while pending:
        result = pending.popleft().result()
        # Refill before handing the result over, so the workers keep going while it is written.
        for args in islice(remaining, 1):
            pending.append(submit(function, *args))
        yield result
