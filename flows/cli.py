"""The `newsflow` command line."""

from __future__ import annotations

import contextlib
import gc
import json
import signal
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from flows.settings import apply_defaults, foreground_run

apply_defaults()

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table  # noqa: E402
from typer._click.core import Command, Context  # noqa: E402  (typer ships its own click)
from typer.core import TyperGroup  # noqa: E402

from db import DEFAULT_DB_PATH, DatabaseProblem, check_db, open_db, open_existing_db  # noqa: E402
from flows import local_server, progress, server_cli, topics_cli  # noqa: E402
from flows.feeds_cli import app as feeds_app  # noqa: E402
from tasks import queries  # noqa: E402
from tasks import summarize as summarizer  # noqa: E402


class Commands(TyperGroup):
    """The command group: a `DatabaseProblem` from any command becomes the one-line exit 2, and
    so does a lock another writer took after the command's check and kept past the timeout."""

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        ctx.meta["newsflow.args"] = list(args)  # the subcommand's own, to name its --db below
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Context) -> object:
        try:
            return super().invoke(ctx)
        except DatabaseProblem as problem:
            raise fail(str(problem)) from None
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            path = db_argument(ctx.meta.get("newsflow.args", []))
            raise fail(
                f"{path}: locked by another connection past the busy timeout ({error})"
            ) from None


def db_argument(args: list[str]) -> str:
    """The --db a command line names, or the default."""
    for index, arg in enumerate(args):
        if arg == "--db" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--db="):
            return arg.removeprefix("--db=")
    return str(DEFAULT_DB_PATH)


app = typer.Typer(
    cls=Commands,
    help="Ingest, deduplicate and summarise news into SQLite.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click errors: one readable line, no boxes
)
app.add_typer(feeds_app, name="feeds")
app.add_typer(server_cli.app)
console = Console()
errors = Console(stderr=True)

# Exit codes: 0 ok, 1 the work failed, 2 bad arguments (typer's own), 75 try again later.
EXIT_FAILED = 1
EXIT_USAGE = 2

# readable=False: click's own check would print a usage block; check_db says it in one line.
DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file.", readable=False)]
SeedsOption = Annotated[Path, typer.Option("--seeds", help="Folder of article files.")]
MethodOption = Annotated[
    str, typer.Option("--method", "-m", help=f"Summariser: {', '.join(summarizer.METHODS)}.")
]
TopicOption = Annotated[
    str | None,
    typer.Option("--topic", help="Only stories a topic matched (see `newsflow topics`)."),
]
SentencesOption = Annotated[
    str,
    typer.Option(
        "--sentences", "-n", help="Summary length: a sentence count (3) or a ratio (0.2)."
    ),
]


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


class Terminated(SystemExit):
    """SIGTERM arrived: leave like an interrupted program (exit 143), cleaning up on the way."""


def exit_on_sigterm() -> None:
    """Make SIGTERM (kill, systemd or docker stop) a normal exit: the flow records the run as
    failed, and at exit Prefect stops its temporary server instead of leaving it orphaned."""

    def terminate(signum: int, _frame: object) -> None:
        raise Terminated(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


def check_length(value: str) -> str:
    try:
        summarizer.parse_length(value)
    except ValueError as error:
        raise fail(f"--sentences: {error}") from None
    return value


def check_method(value: str) -> str:
    if value not in summarizer.METHODS:
        raise fail(
            f"--method: unknown method {value!r}; choose one of {', '.join(summarizer.METHODS)}"
        )
    return value


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


@app.command()
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
        from flows.daily import daily  # after the early start: it imports Prefect

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
    from flows import scaleout
    from tasks.ingest import count_article_files
    from tasks.store import count_file_documents

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
        from tasks.feeds import FeedListError, load_feed_list

        try:
            load_feed_list(feeds_file)
        except FeedListError as error:
            raise fail(f"--feeds-file: {error}") from None


DIGEST_COPIES = 20  # copies listed under a report in the digest; the rest are counted


def show_digest(database, *, since: str | None, limit: int | None = None, only=None) -> None:  # type: ignore[no-untyped-def]
    """One entry per story (its summary, each line's outlet, its reports), then lone documents."""
    from tasks.stories import digest_entries

    entries = digest_entries(database, since=since, limit=limit, only=only)
    if not entries:
        console.print("Nothing new.")
        return
    for entry in entries[:limit]:
        sources = entry["sources"]
        outlets = entry.get("outlets") or list(
            dict.fromkeys(
                o
                for s in sources
                for o in [s["named_outlet"], *(c["outlet"] for c in s["copies"])]
                if o
            )
        )
        when = (entry["published_at"] or "")[:10]
        meta = [f"story · {len(sources)} report{'s' * (len(sources) != 1)}"
                if entry["kind"] == "story" else "document",
                ", ".join(entry["languages"]), when]  # fmt: skip
        # Titles, summaries and paths come from files and feeds: never let them act as markup.
        title, about = escape(entry["title"]), escape(" · ".join(m for m in meta if m))
        console.print(f"\n[bold]{title}[/bold]  [dim]{about}[/dim]", highlight=False)
        if outlets:
            console.print(f"  [dim]Outlets: {escape(', '.join(outlets))}[/dim]", highlight=False)
        several = len(sources) > 1
        for line, document_id, outlet in entry["summary"]:
            credit = f"  [dim]— {escape(outlet or 'unknown')}, #{document_id}[/dim]"
            credit = credit if several else ""
            console.print(f"  • {escape(line)}{credit}", highlight=False)
        if not entry["summary"] and entry["status"]:
            console.print(f"  [dim]({entry['status'].replace('_', ' ')})[/dim]")
        for source in sources:
            label = f"#{source['document_id']} {source['outlet']} · " if several else ""
            console.print(
                f"  [dim]{escape(label)}{escape(source['location'] or '')}[/dim]", highlight=False
            )
            for copy in source["copies"][:DIGEST_COPIES]:
                where = f"{copy['outlet']} · " if copy["outlet"] else ""
                console.print(
                    f"    [dim]copy #{copy['document_id']} · {escape(where)}"
                    f"{escape(copy['location'] or '')}[/dim]",
                    highlight=False,
                )
            if len(source["copies"]) > DIGEST_COPIES:
                more = len(source["copies"]) - DIGEST_COPIES
                console.print(f"    [dim]… and {more} more copies[/dim]")


@app.command()
def digest(
    db: DbOption = DEFAULT_DB_PATH,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only items added or changed since this date (YYYY-MM-DD)."),
    ] = None,
    topic: TopicOption = None,
) -> None:
    """Print the digest: one entry per story (summary, outlets, reports), then lone documents."""
    database = open_existing_db(db)
    only = topics_cli.topic_document_ids(database, topic) if topic is not None else None
    show_digest(database, since=since, only=only)


@app.command()
def dedup(
    db: DbOption = DEFAULT_DB_PATH,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.05,
            max=1.0,
            help="Near-duplicate at or above this MinHash Jaccard estimate (kept for"
            " later runs) [default: the stored one, else 0.5].",
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            min=1,
            help="Days around a document's date to compare it with"
            " (kept for later runs) [default: the stored one, else 30].",
        ),
    ] = None,
    restory: Annotated[
        bool,
        typer.Option(
            "--stories",
            help="Decide every story again from the stored features too (new story ids).",
        ),
    ] = False,
) -> None:
    """Decide near-duplicates again from stored signatures (no file read, no feed fetched)."""
    from tasks import neardup, store, stories, story_summary

    database = open_existing_db(db, write=True)
    run_id = store.start_run(
        database,
        parameters={"command": "dedup", "threshold": threshold, "window_days": window,
                    "stories": restory},
    )  # fmt: skip
    try:
        result = neardup.deduplicate(
            database, run_id=run_id, threshold=threshold, window_days=window, recompute=True
        )
        if restory:
            stories.forget_stories(database)
        grouped = stories.assign_stories(database, run_id=run_id, dirty=result.touched_stories)
        summaries = story_summary.update_summaries(database, grouped.touched)
    except Exception as error:
        store.finish_run(database, run_id, status="failed", error=str(error))
        raise fail(f"dedup failed: {error}", EXIT_FAILED) from None
    counts = result.counts() | grouped.counts() | {"story_summaries": summaries}
    store.finish_run(database, run_id, status="completed", counts=counts)
    bands, rows = neardup.lsh_params(result.threshold)
    totals = dict(database.execute(
        "SELECT coalesce(summary_status, ''), count(*) FROM documents"
        " WHERE duplicate_of IS NOT NULL OR summary_status = 'boilerplate' GROUP BY 1"
    ).fetchall())  # fmt: skip
    console.print(
        f"Threshold {result.threshold:g} (MinHash {neardup.NUM_PERM} permutations, LSH {bands}"
        f" bands × {rows} rows), window {neardup.load_settings(database).window_days} days:"
        f" {result.checked} documents decided from stored signatures"
        f" ({result.signatures} recomputed from text)."
    )
    console.print(
        f"Duplicates now {totals.get('duplicate', 0)} ({result.duplicates} new,"
        f" {result.released} released); boilerplate-only {totals.get('boilerplate', 0)};"
        f" stories: {grouped.created} new, {grouped.joined} joined, {summaries} summarised."
    )
    console.print(f"Decisions: dedup_decisions rows with run_id {run_id}", highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, "phrases", prefix*, AND/OR/NOT.')],
    db: DbOption = DEFAULT_DB_PATH,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Stories to show.")] = 20,
    language: Annotated[
        list[str] | None, typer.Option("--language", "-l", help="Only documents in this language.")
    ] = None,
    documents: Annotated[bool, typer.Option("--documents", help="List every document.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per story.")] = False,
) -> None:
    """Search in every language (stems, names across languages), one line per story."""
    from flows import search_view
    from tasks import search as finder

    try:
        results = finder.search(open_existing_db(db), query, limit=limit, languages=language)
    except finder.BadQuery as error:
        raise fail(str(error)) from None
    if not results:
        if as_json:
            raise typer.Exit(EXIT_FAILED)
        console.print(f"No match for {escape(repr(query))}.")
        raise typer.Exit(EXIT_FAILED)
    if as_json:
        for line in search_view.json_lines(results):
            typer.echo(line)
        return
    for line in search_view.story_lines(results, documents=documents):
        console.print(line, highlight=False)


@app.command()
def summarize(
    path: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    language: Annotated[
        str, typer.Option("--language", "-l", help="ISO 639-1 code, or auto.")
    ] = "auto",
    method: MethodOption = summarizer.DEFAULT_METHOD,
    sentences: SentencesOption = str(summarizer.DEFAULT_SENTENCES),
    db: DbOption = DEFAULT_DB_PATH,  # accepted for uniformity; summarising one text stores nothing
) -> None:
    """Summarise one text; prints the chosen sentences, one per line, in document order."""
    from tasks.clean import clean_article
    from tasks.language import detect_language
    from tasks.textio import decode_bytes

    check_db(db, must_exist=False)
    check_method(method)
    length = summarizer.parse_length(check_length(sentences))
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise fail(f"cannot read {path}: {error.strerror}") from None
    article = clean_article(decode_bytes(data))
    code = detect_language(article.body) if language == "auto" else language
    if not code or not summarizer.is_supported(code):
        raise fail(f"cannot summarise language {code or 'unknown'!r}")
    summary = summarizer.summarize_text(article.body, language=code, method=method, length=length)
    for sentence in summary.sentences:
        typer.echo(sentence)


@app.command("eval")
def evaluate(
    dataset: Annotated[
        Path, typer.Option("--dataset", help="Folder with article/<topic>/ and summary/<topic>/.")
    ],
    sentences: Annotated[
        int, typer.Option("--sentences", "-n", min=1, help="Summary length in sentences.")
    ] = 3,
    split: Annotated[
        str, typer.Option("--split", help="all, or the tune or test half (alternate files).")
    ] = "all",
    methods: Annotated[
        list[str] | None,
        typer.Option("--method", "-m", help="Only these methods (repeatable); 'lead' too."),
    ] = None,
    language: Annotated[
        str, typer.Option("--language", "-l", help="ISO 639-1 code of the dataset.")
    ] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
    db: DbOption = DEFAULT_DB_PATH,  # accepted for uniformity; evaluation stores nothing
) -> None:
    """Score every summariser and the lead baseline against reference summaries (ROUGE F1)."""
    from tasks import evaluate as evaluation

    check_db(db, must_exist=False)
    known = (*summarizer.METHODS, evaluation.LEAD)
    for method in methods or []:
        if method not in known:
            raise fail(f"--method: unknown method {method!r}; choose from {', '.join(known)}")
    if split not in evaluation.SPLITS:
        raise fail(f"--split: choose one of {', '.join(evaluation.SPLITS)}")
    if not summarizer.is_supported(language):
        raise fail(f"--language: cannot summarise language {language!r}")
    try:
        pairs = evaluation.load_pairs(dataset, split=split, language=language)
    except evaluation.DatasetError as error:
        raise fail(f"--dataset: {error}") from None
    with console.status(f"Summarising {len(pairs)} articles with every method…"):
        rows = evaluation.evaluate(
            pairs, methods=methods or None, sentences=sentences, language=language
        )
    rows.sort(key=lambda row: row.rouge1, reverse=True)
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    title = f"{dataset} · split {split} · {sentences} sentences · F1"
    table = Table("method", "ROUGE-1", "ROUGE-2", "ROUGE-Lsum", "sent. P", "sent. R", "docs",
                  title=escape(title))  # fmt: skip
    for row in rows:
        name = f"{row.method} (default)" if row.default else row.method
        scores = (row.rouge1, row.rouge2, row.rougeLsum)
        table.add_row(name, *(f"{value:.4f}" for value in scores), f"{row.sentence_precision:.3f}",
                      f"{row.sentence_recall:.3f}", str(row.docs))  # fmt: skip
    console.print(table)


@app.command()
def runs(
    db: DbOption = DEFAULT_DB_PATH,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """The run history, newest first."""
    rows = queries.runs(open_existing_db(db), limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console.print(local_server.status().line, highlight=False, soft_wrap=True)
    table = Table("started", "status", "trigger", "counts", "CPU s", "flow run")
    for row in rows:
        counts = json.loads(row["counts"] or "{}")
        brief = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
        table.add_row(
            row["started_at"],
            row["status"],
            row["trigger"] or "",
            brief,
            _cpu_total(row["cpu"]),
            (row["flow_run_id"] or "")[:8],
        )
    console.print(table)


def _cpu_total(recorded: str | None) -> str:
    """A run's CPU seconds, its own process and its workers' (blank for runs before they were
    recorded)."""
    if not recorded:
        return ""
    cpu = json.loads(recorded)
    return f"{cpu['flow'] + sum(cpu['workers'].values()):.1f}"


@app.command()
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

    from flows.deployments import (
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


@app.command()
def report(
    db: DbOption = DEFAULT_DB_PATH,
    on: Annotated[
        str | None,
        typer.Option("--date", help="One UTC day, YYYY-MM-DD [default: latest day with changes]."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="All added or changed since this date or time.")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="md, html or json.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not standard output.")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="Show summaries made by this method first.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N entries.")] = None,
    record: Annotated[
        bool,
        typer.Option("--record/--no-record", help="Remember this digest; the next marks newer."),
    ] = True,
    template: Annotated[
        Path | None,
        typer.Option(
            "--template", help="Your own Jinja2 template for md or html (docs/reports.md)."
        ),
    ] = None,
    topic: TopicOption = None,
) -> None:
    """The daily digest: stories and documents with summaries, their outlets, and counts."""
    from tasks import report as reports
    from tasks.report_html import to_html
    from tasks.report_templates import BadTemplate
    from tasks.report_text import to_json, to_markdown

    if output_format not in reports.FORMATS:
        raise fail(f"--format: choose one of {', '.join(reports.FORMATS)}")
    if template is not None and output_format == "json":
        raise fail("--template: JSON has no template; use --format md or html")
    if template is not None and not template.is_file():
        raise fail(f"--template: {template} is not a file")
    if method is not None:
        check_method(method)
    database = open_existing_db(db, write=record)
    only = topics_cli.topic_document_ids(database, topic) if topic is not None else None
    title = f"Topic {topic}" if topic is not None else "News digest"
    try:
        digest_ = reports.daily_digest(
            database, on=on, since=since, method=method, limit=limit, only=only, title=title
        )
    except reports.BadWindow as error:
        raise fail(str(error)) from None
    try:
        if output_format == "json":
            text = to_json(digest_)
        else:
            render = to_html if output_format == "html" else to_markdown
            text = render(digest_, template=template)
    except BadTemplate as error:
        raise fail(f"--template {error}") from None
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        errors.print(
            f"Wrote {output} ({len(digest_.entries)} entries, {digest_.new_entries} new)",
            highlight=False,
        )
    if record and topic is None:  # a topic's report leaves the daily digest's "new" marks alone
        reports.record_digest(database, digest_, output_format=output_format)


app.command()(topics_cli.topics)


def main() -> None:
    """Entry point of the `newsflow` script."""
    try:
        app()
    finally:
        # All that is still alive goes with the process: keep it out of the garbage collections
        # at interpreter exit, which take ~1 s once a run has loaded Prefect and sumy.
        gc.freeze()


if __name__ == "__main__":
    main()
