"""Commands that read the database: `digest`, `search`, `report` and `runs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from newsflow.db import DEFAULT_DB_PATH, open_existing_db
from newsflow.flows import local_server, topics_cli
from newsflow.flows.cli_app import (
    EXIT_FAILED,
    DbOption,
    TopicOption,
    check_method,
    console,
    errors,
    fail,
)
from newsflow.tasks.store import queries

DIGEST_COPIES = 20  # copies listed under a report in the digest; the rest are counted


def show_digest(database, *, since: str | None, limit: int | None = None, only=None) -> None:  # type: ignore[no-untyped-def]
    """One entry per story (its summary, each line's outlet, its reports), then lone documents."""
    from newsflow.tasks.report.digest_entries import digest_entries

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
    from newsflow.flows import search_view
    from newsflow.tasks.search import engine as finder
    from newsflow.tasks.store import search_index

    database = open_existing_db(db)
    search_index.backfill(database)  # documents stored before the search index existed
    try:
        results = finder.search(database, query, limit=limit, languages=language)
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
    from newsflow.tasks.report import digests as reports
    from newsflow.tasks.report import model
    from newsflow.tasks.report.report_html import to_html
    from newsflow.tasks.report.report_templates import BadTemplate
    from newsflow.tasks.report.report_text import to_json, to_markdown

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
    except model.BadWindow as error:
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
