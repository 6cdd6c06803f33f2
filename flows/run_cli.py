"""Commands that run the daily flow: `newsflow run` once, `newsflow serve` on its schedule."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from newsflow.db import DEFAULT_DB_PATH, check_db, open_db
from newsflow.flows import local_server, progress, topics_cli
from newsflow.flows.cli_app import (
    EXIT_FAILED,
    DbOption,
    MethodOption,
    SeedsOption,
    SentencesOption,
    Terminated,
    check_length,
    check_method,
    console,
    errors,
    exit_on_sigterm,
    fail,
)
from newsflow.flows.read_cli import show_digest
from newsflow.flows.settings import foreground_run
from newsflow.tasks.summarise import summarize as summarizer


@contextlib.contextmanager
def run_progress() -> Iterator[None]:
    """A progress bar per stage (files read, documents summarised) while a run works."""
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        # Off when stderr is not a terminal (a log, CI): its refresh thread would only compete
        # with the run for the interpreter.
        console=errors, transient=True, disable=not errors.is_terminal,
    )  # fmt: skip
    stages: dict[str, TaskID] = {"run": bar.add_task("running the daily flow", total=None)}

    def update(stage: str, done: int, total: int) -> None:
        if total <= 0:
            return
        if stage not in stages:
            stages[stage] = bar.add_task(stage.replace("_", " "), total=total)
        bar.update(stages[stage], completed=done, total=total)

    with bar, progress.listening(update):
        yield


def run(
    db: DbOption = DEFAULT_DB_PATH,
    seeds: SeedsOption = Path("seeds"),
    method: MethodOption = summarizer.DEFAULT_METHOD,
    sentences: SentencesOption = str(summarizer.DEFAULT_SENTENCES),
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed", metavar="<url>", help="A feed URL (RSS, Atom, RDF, JSON Feed); repeatable."
        ),
    ] = None,
    feeds_file: Annotated[
        Path | None,
        typer.Option(
            "--feeds-file",
            help="Feed list to use instead of <seeds>/feeds.toml (TOML, or one URL per line).",
        ),
    ] = None,
    topics_file: topics_cli.TopicsFileOption = None,
) -> None:
    """Run the daily flow once: ingest files and feeds, deduplicate, summarise, store."""
    check_method(method)
    check_length(sentences)
    if not seeds.is_dir():
        raise fail(f"--seeds: {seeds} is not a folder")
    check_feeds(feed or [], feeds_file)
    check_db(db, must_exist=False, write=True)
    topics_cli.check_topics_file(topics_file, seeds=seeds)
    exit_on_sigterm()
    with (
        workers_started_early(seeds, db),
        run_progress(),
        foreground_run(),
        local_server.for_run() as target,
    ):
        from newsflow.flows.daily import daily  # after the early start: it imports Prefect

        if target.warning:
            warning = f"[yellow]warning:[/yellow] {escape(target.warning)}"
            errors.print(warning, highlight=False, soft_wrap=True)  # one line, as in a log
        topics_cli.check_topics_ready(db, seeds, topics_file)
        try:
            result = daily(
                seeds_dir=str(seeds),
                feeds=feed or None,
                feeds_file=str(feeds_file) if feeds_file else None,
                method=method,
                sentences=summarizer.parse_length(sentences),
                db_path=str(db),
                topics_file=str(topics_file) if topics_file else None,
            )
        except Terminated:
            errors.print("[red]error:[/red] terminated; the run is recorded as failed")
            raise
        except Exception as error:  # the run is recorded as failed in `runs`
            raise fail(f"run failed: {error}", EXIT_FAILED) from None
    counts = result["counts"]
    console.print(
        "Run finished: "
        + ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in sorted(counts.items())),
        soft_wrap=True,  # one line, whatever the terminal width: easy to grep in logs
    )
    show_digest(open_db(db), since=None, limit=10)
    console.print(f"\nDatabase: [bold]{escape(str(db))}[/bold]")


@contextlib.contextmanager
def workers_started_early(seeds: Path, db: Path) -> Iterator[None]:
    """For the run (the block): when the folder holds files the database has not seen, start the
    worker pool's fork server before Prefect is imported (about 1 s on one core): the workers'
    own start-up then runs meanwhile, on the other core."""
    from newsflow.flows import scaleout
    from newsflow.tasks.ingest.scan import count_article_files
    from newsflow.tasks.store.writer import count_file_documents

    try:
        known = count_file_documents(open_db(db))
    except (sqlite3.Error, OSError):
        # Only a head start is lost: the run itself reports what is wrong with the file.
        yield
        return
    # Names only, not files, and no further than 400 past the known ones (a few milliseconds):
    # one new file is enough for the early start, the count says how much is new.
    files = count_article_files(seeds, stop_at=known + scaleout.PARALLEL_MIN_ITEMS)
    with scaleout.early_start(files - known):
        yield


def check_feeds(urls: list[str], feeds_file: Path | None) -> None:
    """Refuse feed URLs that are not http(s) and feed lists that do not parse, before running."""
    for url in urls:
        if not url.lower().startswith(("http://", "https://")) or len(url) < 11:
            raise fail(f"--feed: {url!r} is not an http(s) URL")
    if feeds_file is not None:
        if not feeds_file.is_file():
            raise fail(f"--feeds-file: {feeds_file} is not a file")
        from newsflow.tasks.feeds.feed_list import FeedListError, load_feed_list

        try:
            load_feed_list(feeds_file)
        except FeedListError as error:
            raise fail(f"--feeds-file: {error}") from None


def serve(
    db: DbOption = DEFAULT_DB_PATH,
    seeds: SeedsOption = Path("seeds"),
    method: MethodOption = summarizer.DEFAULT_METHOD,
    sentences: SentencesOption = str(summarizer.DEFAULT_SENTENCES),
    feed: Annotated[
        list[str] | None, typer.Option("--feed", help="Feed URL for every run (repeatable).")
    ] = None,
    at: Annotated[str, typer.Option("--at", help="Daily run time, HH:MM in --timezone.")] = "06:00",
    cron: Annotated[
        str | None, typer.Option("--cron", help="A cron expression instead of --at.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="IANA timezone of the schedule [default: this machine's]."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Deployment name.")] = "daily",
    limit: Annotated[int, typer.Option("--limit", min=1, help="Runs executed at once.")] = 1,
) -> None:
    """Register the daily deployment with the Prefect API and execute its runs until stopped."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    from newsflow.flows.deployments import (
        BadSchedule,
        build_deployments,
        default_parameters,
        serve_deployments,
    )

    check_method(method)
    check_length(sentences)
    check_db(db, must_exist=False)  # the runs create it; serving a broken file would fail them all
    api = PREFECT_API_URL.value()
    if not api:
        raise fail(
            "PREFECT_API_URL is not set: start `prefect server start` and"
            " export PREFECT_API_URL=http://127.0.0.1:4200/api (or run `make ui`)"
        )
    try:
        httpx.get(api.rstrip("/") + "/health", timeout=5).raise_for_status()
    except httpx.HTTPError as error:
        raise fail(f"the Prefect API at {api} does not answer: {error}", EXIT_FAILED) from None
    parameters = default_parameters(
        seeds_dir=seeds, db_path=db, method=method, sentences=sentences, feeds=feed
    )
    try:
        deployments = build_deployments(
            name=name, at=at, cron=cron, timezone=timezone, parameters=parameters
        )
    except BadSchedule as error:
        raise fail(str(error)) from None
    for deployment in deployments:
        schedule = deployment.schedules[0].schedule  # type: ignore[index]
        cron, zone = getattr(schedule, "cron", "?"), getattr(schedule, "timezone", "?")
        console.print(
            f"Deployment [bold]newsflow-daily/{deployment.name}[/bold]: cron"
            f" '{cron}' in {zone}; database {parameters['db_path']};"
            f" seeds {parameters['seeds_dir']}",
            highlight=False,
        )
    serve_deployments(deployments, limit=limit)
