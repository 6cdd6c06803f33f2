"""The daily flow: files (and feeds) → clean text → dedup → summaries → SQLite."""

from __future__ import annotations

import importlib
import threading
import time
import traceback
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any, Literal, TypeVar

from newsflow.flows.settings import apply_defaults

apply_defaults()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402

from newsflow.db import open_db  # noqa: E402
from newsflow.flows import progress, topics  # noqa: E402
from newsflow.flows.artifacts import publish_artifacts  # noqa: E402
from newsflow.flows.runinfo import current_run  # noqa: E402
from newsflow.flows.scaleout import Workers  # noqa: E402
from newsflow.tasks.common.nltk_light import import_nltk  # noqa: E402
from newsflow.tasks.ingest import scan  # noqa: E402
from newsflow.tasks.pipeline import batches, features  # noqa: E402
from newsflow.tasks.pipeline.spool import SummarySpool  # noqa: E402
from newsflow.tasks.store import run_log, runslots, search_index, transaction, writer  # noqa: E402
from newsflow.tasks.stories import story_summary  # noqa: E402
from newsflow.tasks.summarise import summarize  # noqa: E402

FILE_BATCH = 1000  # files read and written per task run / transaction
FILE_BATCH_BYTES = 64 * 1024 * 1024  # and at most this many bytes of files, to bound memory
SUMMARY_BATCH = 500  # documents summarised per task run / transaction
SUMMARY_WINDOW = 24  # summary batches in flight (~20 MB of text): workers run ahead of the writer

Number = TypeVar("Number", int, float)

# The summariser names as a Literal, so the Prefect UI renders `method` as a dropdown.
Method = Literal[summarize.METHODS]  # type: ignore[valid-type]


@task(name="scan-seeds")
def scan_seeds(db_path: str, seeds_dir: str, run_id: str) -> dict[str, Any]:
    """Find article files; skip the ones whose size and mtime are unchanged since the last run."""
    db = open_db(db_path)
    entries, rejects = scan.scan_folder(Path(seeds_dir))
    known = writer.known_files(db)
    changed = [e for e in entries if known.get(e.key) != (e.size, e.mtime_ns)]
    unchanged = [e.key for e in entries if known.get(e.key) == (e.size, e.mtime_ns)]
    writer.touch_files(db, unchanged, run_id=run_id)
    writer.save_rejects(db, rejects, run_id=run_id)
    batches = scan.plan_batches(changed, max_files=FILE_BATCH, max_bytes=FILE_BATCH_BYTES)
    return {
        "changed": [str(e.path) for e in changed],
        "batches": [[str(e.path) for e in batch] for batch in batches],
        "files_seen": len(entries) + len(rejects),
        "files_unchanged": len(unchanged),
        "rejects": len(rejects),
    }


@task(name="ingest-files", cache_policy=NO_CACHE)
def ingest_files(db_path: str, parsed: batches.ParsedFiles, run_id: str) -> dict[str, Any]:
    """Upsert a batch of parsed files (read and cleaned by a worker) in one transaction; the
    counts, and the worker's summaries of the documents stored (new or changed text)."""
    db = open_db(db_path)
    items, rejects = parsed.items, parsed.rejects
    # One transaction for the batch: a kill leaves all of it or none of it.
    with transaction.write_transaction(db):
        entries = {key: found.search for key, found in parsed.features.items()}
        counts = writer.save_items(db, items, run_id=run_id, search_entries=entries)
        features.save(db, counts.saved, parsed.features)
        writer.save_rejects(db, rejects, run_id=run_id)
        writer.clear_rejects(db, [item.path for item in items if item.path])
    summaries = None
    if parsed.summaries is not None:
        position = {item.key: i for i, item in enumerate(items)}
        summaries = parsed.summaries.renumbered({position[key]: doc for doc, key in counts.saved})
    return {
        "counts": {
            "documents_new": counts.new,
            "documents_updated": counts.updated,
            "documents_unchanged": counts.unchanged,
            "exact_duplicates": counts.duplicates,
            "rejects": len(rejects),
        },
        "summaries": summaries,
    }


@task(name="summarise-batch", cache_policy=NO_CACHE)
def summarise_batch(
    documents: list[dict[str, object]], method: str, length: str
) -> batches.Summaries:
    """Summarise a batch of documents (compute only): the task a Dask cluster runs."""
    return batches.summarise(documents, method, length)


@task(name="store-summaries", cache_policy=NO_CACHE)
def store_summaries(db_path: str, summaries: batches.Summaries, run_id: str) -> dict[str, int]:
    """Store a batch of summaries and the documents' summary status in one transaction."""
    db = open_db(db_path)
    writer.save_summaries(db, summaries.rows, statuses=summaries.statuses, run_id=run_id)
    unsupported = sum(1 for s in summaries.statuses.values() if s == "unsupported_language")
    return {"summaries": len(summaries.rows), "unsupported_language": unsupported}


def _summaries(
    workers: Workers, db_path: str, ids: list[int], method: str, length: str
) -> Iterator[batches.Summaries]:
    """Summaries of the documents, batch by batch, computed wherever the workers run them; the
    first batches are under way when this returns."""
    if not ids:
        return iter(())
    db = open_db(db_path)
    chunks = [ids[start : start + SUMMARY_BATCH] for start in range(0, len(ids), SUMMARY_BATCH)]
    if workers.settings.dask_address:
        return workers.map_dask(
            summarise_batch,
            (
                {
                    "documents": writer.documents_for_summary(db, chunk),
                    "method": method,
                    "length": length,
                }
                for chunk in chunks
            ),
            window=SUMMARY_WINDOW,
        )
    return workers.map(
        batches.summarise,
        ((writer.documents_for_summary(db, chunk), method, length) for chunk in chunks),
        items=len(ids),
        window=SUMMARY_WINDOW,
    )


def _publish(db_path: str, run_id: str) -> None:
    try:
        publish_artifacts(db_path, run_id)
    except Exception as error:  # the run's data is stored; a missing artifact must not fail it
        get_run_logger().warning("could not publish the run's artifacts: %s", error)


@task(name="near-duplicates", cache_policy=NO_CACHE)
def near_duplicates(db_path: str, run_id: str) -> dict[str, Any]:
    """Decide new and changed documents against the stored window: copies, boilerplate, outlets."""
    from newsflow.tasks.dedup import neardup

    result = neardup.deduplicate(open_db(db_path), run_id=run_id)
    return {"counts": result.counts(), "touched_stories": sorted(result.touched_stories)}


@task(name="stories", cache_policy=NO_CACHE)
def group_stories(
    db_path: str, run_id: str, touched_stories: list[int], last: bool = False
) -> dict[str, Any]:
    """Give new reports a story (same event, any outlet or language); after the run's `last`
    pass, let go of the stories the passes kept in memory."""
    from newsflow.tasks.stories import linking

    result = linking.assign_stories(open_db(db_path), run_id=run_id, dirty=touched_stories)
    if last:
        linking.release_kept()
    return {"counts": result.counts(), "touched_stories": sorted(result.touched)}


@task(name="plan-story-summaries", cache_policy=NO_CACHE)
def plan_story_summaries(db_path: str, story_ids: list[int]) -> list[story_summary.Job]:
    """The stories whose reports changed: those with several reports need a summary."""
    return story_summary.plan(open_db(db_path), story_ids)


@task(name="story-summaries", cache_policy=NO_CACHE)
def store_story_summaries(
    db_path: str, jobs: list[story_summary.Job], results: Iterator[Any]
) -> dict[str, int]:
    """Store the story summaries the workers computed."""
    return {"story_summaries": story_summary.write(open_db(db_path), jobs, results)}


def _decide(
    db_path: str, run_id: str, counts: dict[str, int], touched: set[int], *, last: bool = False
) -> None:
    """Near-duplicates, then stories, for everything stored and not decided yet."""
    decided = near_duplicates(db_path, run_id)
    _add(counts, decided["counts"])
    grouped = group_stories(db_path, run_id, decided["touched_stories"], last)
    _add(counts, grouped["counts"])
    touched.update(grouped["touched_stories"])


def _import_in_background(*modules: str) -> None:
    def load() -> None:
        import_nltk()
        for module in modules:
            importlib.import_module(module)

    threading.Thread(target=load, name="newsflow-imports", daemon=True).start()


def _cpu(started: float, workers: Workers, parse: dict[str, float]) -> dict[str, object]:
    """What `runs.cpu` records: the CPU seconds of this process since `started` (writing,
    deciding, Prefect), the batches' by function wherever they ran (this process or its workers),
    and the file parse's by stage. Batches run here are counted once, under `workers`."""
    return {
        "flow": round(time.process_time() - started - workers.cpu_here, 3),
        "workers": {name: round(seconds, 3) for name, seconds in sorted(workers.cpu.items())},
        "parse": {name: round(seconds, 3) for name, seconds in sorted(parse.items())},
    }


def _add(total: dict[str, Number], part: dict[str, Number]) -> None:
    for name, value in part.items():
        total[name] = total.get(name, 0) + value


@flow(name="newsflow-daily", log_prints=True)
def daily(
    seeds_dir: str = "seeds",
    feeds: list[str] | None = None,
    feeds_file: str | None = None,
    method: Method = summarize.DEFAULT_METHOD,
    # A number, so the UI shows a number field; the CLI's "3" or "0.2" is coerced by validation.
    sentences: float = summarize.DEFAULT_SENTENCES,
    db_path: str = "db/newsflow.db",
    trigger: str = "cli",
    topics_file: str | None = None,
) -> dict[str, Any]:
    """Ingest the seeds folder, deduplicate, summarise, and record the run.

    Args:
        seeds_dir: Folder of article files (.txt, .md, .html, .json) to ingest.
        feeds: Feed URLs to fetch besides the seed files.
        feeds_file: Feed list (TOML) to use instead of <seeds_dir>/feeds.toml.
        method: Summariser used for every new or changed document.
        sentences: Summary length: a sentence count (3) or a ratio of the document (0.2).
        db_path: SQLite database file (created if missing).
        trigger: Label recorded for runs outside a deployment (deployment runs record
            'schedule' or 'ui').
        topics_file: Topics (TOML) to match instead of <seeds_dir>/topics.toml.
    """
    logger = get_run_logger()
    started_cpu = time.process_time()
    length = summarize.length_key(summarize.parse_length(sentences))
    if method not in summarize.METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(summarize.METHODS)}")
    db = open_db(db_path)
    parameters = {
        "seeds_dir": seeds_dir,
        "feeds": feeds or [],
        "feeds_file": feeds_file,
        "method": method,
        "sentences": length,
        "db_path": db_path,
        "topics_file": topics_file,
    }
    info = current_run(trigger)
    # Runs killed before they could record how they ended are marked, not left 'running'.
    for stale in run_log.abandon_stale_runs(db):
        logger.warning("run %s was left unfinished by a process that is gone: abandoned", stale)
    run_id = run_log.start_run(
        db, parameters=parameters, flow_run_id=info.flow_run_id, trigger=info.trigger
    )
    search_index.backfill(db)  # documents stored before the search index existed
    # Run-date guard: a schedule slot that another run completed (or is running) is a no-op.
    owner = runslots.claim_slot(db, run_id, info.slot) if info.slot else None
    if owner:
        run_log.finish_run(
            db, run_id, status="skipped", error=f"slot {info.slot} already taken by run {owner}"
        )
        _publish(db_path, run_id)
        return {"run_id": run_id, "counts": {}, "db_path": db_path, "status": "skipped"}
    counts: dict[str, int] = {}
    workers = Workers()  # where CPU-heavy batches run (worker processes, Dask): flows/scaleout.py
    touched: set[int] = set()  # stories whose reports changed
    early = SummarySpool()  # summaries the parse workers made, stored once decided
    parse_cpu: dict[str, float] = {}  # the file parse's CPU seconds by stage
    prepared = topics.Topics()
    try:
        # A bad topic or a missing notification block fails the run before it ingests anything.
        prepared = topics.prepare_topics(db_path, seeds_dir, topics_file)
        if Path(seeds_dir).is_dir():
            scanned = scan_seeds(db_path, seeds_dir, run_id)
            counts |= {k: v for k, v in scanned.items() if k not in ("changed", "batches")}
            # Workers read, clean and summarise files while this process writes the batches
            # before them (a Dask cluster summarises later, as its own task runs).
            summarise_as = None if workers.settings.dask_address else (method, length)
            parsed = workers.map(
                batches.parse_files,
                ((seeds_dir, batch, summarise_as) for batch in scanned["batches"]),
                items=len(scanned["changed"]),
            )
            if workers.pooled:
                # This process waits for the workers' first batch: meanwhile it loads what
                # deciding needs (NLTK's stemmers, SciPy's sparse matrices).
                _import_in_background(
                    "newsflow.tasks.dedup.neardup",
                    "newsflow.tasks.stories.linking",
                    "nltk.stem.snowball",
                    "scipy.sparse",
                )
            total_files, files_done = len(scanned["changed"]), 0
            progress.report("files", 0, total_files)
            for paths, batch in zip(scanned["batches"], parsed, strict=True):
                # quote(): Prefect would otherwise walk every item of the batch (~1 ms a document).
                _add(parse_cpu, batch.cpu)
                ingested = ingest_files(db_path, quote(batch), run_id)  # type: ignore[call-overload]
                _add(counts, ingested["counts"])
                if ingested["summaries"] is not None:
                    early.append(ingested["summaries"])
                files_done += len(paths)
                progress.report("files", files_done, total_files)
                if files_done < total_files:
                    # Decide this batch while the workers parse the next ones, rather than all of
                    # it alone once they are done (the passes are incremental: same decisions as
                    # if the batches had arrived in separate runs).
                    _decide(db_path, run_id, counts, touched)
        else:
            logger.warning("seeds folder %s does not exist; no files ingested", seeds_dir)

        # Feeds: the listed ones (enabled) plus ad-hoc URLs; a failing feed never fails the run.
        feed_list = feeds_file or str(Path(seeds_dir) / "feeds.toml")
        if feeds_file and not Path(feeds_file).is_file():
            raise FileNotFoundError(f"feed list {feeds_file} does not exist")
        if feeds or Path(feed_list).is_file():
            from newsflow.flows.feeds import (
                ingest_feeds,  # httpx, feedparser, trafilatura: when needed
            )

            _add(counts, ingest_feeds(db_path, feed_list, list(feeds or []), run_id))

        # Workers summarise what is pending (and was not summarised as it was parsed) while this
        # process finds near-duplicates and stories over everything stored so far; summaries of
        # documents found to be copies meanwhile are dropped unwritten, and documents released
        # from being copies are summarised after.
        pending = writer.ids_to_summarise(
            db, method=method, length=length, settings_version=summarize.SETTINGS_VERSION
        )
        ready = early.ids
        missing = [i for i in pending if i not in ready]
        summarised = _summaries(workers, db_path, missing, method, length)
        _decide(db_path, run_id, counts, touched, last=True)
        # The workers summarise the stories that changed while this process stores the
        # documents' summaries.
        jobs = plan_story_summaries(db_path, sorted(touched))
        story_calls = story_summary.calls(jobs)
        story_lines = workers.map(
            story_summary.summarise_stories,
            story_calls,
            items=story_summary.STORY_BATCH * len(story_calls),
            window=max(1, len(story_calls)),
        )
        eligible = set(
            writer.ids_to_summarise(
                db, method=method, length=length, settings_version=summarize.SETTINGS_VERSION
            )
        )
        # Released from being copies, and not summarised as parsed (a summary of the same text
        # would have been kept).
        released = sorted(eligible.difference(pending).difference(ready))
        will_store = (set(pending) | ready) & eligible
        total_summaries, summaries_done = len(will_store) + len(released), 0
        progress.report("summaries", 0, total_summaries)
        # The parse workers' summaries are stored a file batch at a time.
        for summaries in chain(
            early,
            summarised,
            _summaries(workers, db_path, released, method, length),
        ):
            kept = summaries.only(eligible)
            if not kept.statuses:
                continue  # every document of the batch became a copy: nothing to store
            _add(counts, store_summaries(db_path, quote(kept), run_id))  # type: ignore[call-overload]
            summaries_done += len(kept.statuses)
            progress.report("summaries", summaries_done, total_summaries)
        stored = store_story_summaries(db_path, quote(jobs), quote(story_lines))  # type: ignore[call-overload]
        _add(counts, stored)
        if prepared.enabled:
            _add(counts, topics.match_topics(db_path, prepared.topics, run_id)["counts"])
    except BaseException as error:
        run_log.finish_run(
            db,
            run_id,
            status="failed",
            counts=counts,
            error="".join(traceback.format_exception_only(error)).strip(),
            cpu=_cpu(started_cpu, workers, parse_cpu),
        )
        raise
    finally:
        workers.close()
        early.close()
    run_log.finish_run(
        db, run_id, status="completed", counts=counts, cpu=_cpu(started_cpu, workers, parse_cpu)
    )
    _publish(db_path, run_id)
    topics.after_run(db_path, prepared, run_id)
    return {"run_id": run_id, "counts": counts, "db_path": db_path}
