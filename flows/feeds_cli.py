"""`newsflow feeds …`: the feed list and its health, and OPML in and out.

The list is the TOML file `newsflow run` reads (`--feeds-file`, default seeds/feeds.toml); these
commands edit that file and nothing else, and read the database only to show what the fetcher
recorded. Project modules are imported inside the commands: `newsflow --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from newsflow.db import DEFAULT_DB_PATH

if TYPE_CHECKING:
    from newsflow.tasks.feeds.feed_health import FeedHealth
    from newsflow.tasks.feeds.feed_list import FeedSpec

DEFAULT_FEEDS_FILE = Path("seeds/feeds.toml")
EXIT_USAGE = 2

app = typer.Typer(
    help="The feed list (seeds/feeds.toml): health, add, remove, OPML import and export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
errors = Console(stderr=True)

DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file.")]
FeedsFileOption = Annotated[
    Path,
    typer.Option(
        "--feeds-file", help="The feed list to read and edit (TOML, or one URL per line)."
    ),
]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_USAGE)


def _load(feeds_file: Path) -> list[FeedSpec]:
    from newsflow.tasks.feeds.feed_list import FeedListError, load_feed_list

    if feeds_file.exists() and not feeds_file.is_file():
        raise _fail(f"--feeds-file: {feeds_file} is not a file")
    try:
        return load_feed_list(feeds_file)
    except FeedListError as error:
        raise _fail(f"--feeds-file: {error}") from None


@app.command("list")
def list_feeds(
    feeds_file: FeedsFileOption = DEFAULT_FEEDS_FILE,
    db: DbOption = DEFAULT_DB_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """Each listed feed with its health: enabled, last fetch and status, items, errors, backoff."""
    import json

    from newsflow.db.connection import open_existing_db
    from newsflow.tasks.feeds.feed_health import feed_health, unlisted_feeds

    specs = _load(feeds_file)
    # Listing never creates a database; one that is there must be usable (else one line, exit 2).
    database = open_existing_db(db) if db.exists() else None
    try:
        rows = feed_health(database, specs)
        unlisted = unlisted_feeds(database, specs) if database is not None else 0
    finally:
        if database is not None:
            database.close()
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2, ensure_ascii=False))
        return
    enabled = sum(1 for spec in specs if spec.enabled)
    summary = f"{len(specs)} feeds in {feeds_file} ({enabled} enabled)."
    if not feeds_file.exists():
        summary = f"No feed list at {feeds_file}: add one with `newsflow feeds add URL`."
    console.print(escape(summary), highlight=False, soft_wrap=True)
    if database is None:
        console.print(
            f"No fetches yet: no database at {escape(str(db))}.", highlight=False, soft_wrap=True
        )
    elif not any(row.fetches for row in rows):
        console.print("No fetches yet for these feeds.", soft_wrap=True)
    for row in rows:
        spec = row.spec
        name = spec.name or row.title
        head = f"[bold]{escape(name)}[/bold]  {escape(spec.url)}" if name else escape(spec.url)
        console.print(head, highlight=False, soft_wrap=True)
        console.print(f"    {escape(_health_line(row))}", highlight=False, soft_wrap=True)
    if unlisted:
        note = f"{unlisted} more feeds in {db} are not in this list (fetched with --feed)."
        console.print(escape(note), highlight=False, soft_wrap=True)


def _health_line(row: FeedHealth) -> str:
    """enabled · tags · language · the last fetch, its status and items · errors · backoff."""
    spec = row.spec
    parts = ["enabled" if spec.enabled else "disabled"]
    if spec.tags:
        parts.append(f"tags {', '.join(spec.tags)}")
    if spec.language:
        parts.append(f"language {spec.language}")
    if not row.fetches:
        return " · ".join([*parts, "never fetched"])
    status = f"HTTP {row.last_status}" if row.last_status else "no answer"
    parts.append(f"last fetch {row.last_fetched_at} {status}")
    if row.last_items is not None and not row.last_error:  # a failed fetch read no items
        parts.append(f"{row.last_items} items")
    parts.append(f"{row.error_count} errors in a row")
    if row.backed_off_until:
        parts.append(f"backed off until {row.backed_off_until}")
    if row.last_error:
        parts.append(f"last error: {row.last_error}")
    return " · ".join(parts)


@app.command()
def add(
    url: Annotated[str, typer.Argument(help="The feed's http(s) URL.")],
    name: Annotated[str | None, typer.Option("--name", help="The outlet's name.")] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="ISO 639-1 hint, e.g. en or de.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag for the feed; repeatable.")
    ] = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="List it but do not fetch it yet.")
    ] = False,
    feeds_file: FeedsFileOption = DEFAULT_FEEDS_FILE,
    db: DbOption = DEFAULT_DB_PATH,  # accepted for uniformity; the list is the file, not the DB
) -> None:
    """Add a feed to the list file (its comments and layout are kept)."""
    from newsflow.tasks.feeds.feed_list import FeedListError, add_feeds, feed_spec, new_feeds

    specs = _load(feeds_file)
    tags = [t.strip() for t in tag or [] if t.strip()]
    table: dict[str, object] = {"url": url, "tags": tags, "enabled": not disabled}
    if name is not None:
        table["name"] = name
    if language is not None:
        table["language"] = language
    try:
        spec = feed_spec(table, where="feeds add")
        added, skipped = new_feeds(specs, [(0, spec)])
        if skipped:
            raise _fail(f"{url} {skipped[0].reason} ({feeds_file})")
        add_feeds(feeds_file, added)
    except FeedListError as error:
        raise _fail(str(error)) from None
    console.print(
        f"Added {escape(spec.url)} to {escape(str(feeds_file))}.", highlight=False, soft_wrap=True
    )


@app.command()
def remove(
    which: Annotated[str, typer.Argument(metavar="URL|NAME", help="The feed's URL or name.")],
    feeds_file: FeedsFileOption = DEFAULT_FEEDS_FILE,
    db: DbOption = DEFAULT_DB_PATH,  # accepted for uniformity; fetch history stays in the DB
) -> None:
    """Remove a feed from the list file, with the comment right above it; the rest is kept."""
    from newsflow.tasks.feeds.feed_list import FeedListError, remove_feed

    _load(feeds_file)
    try:
        spec = remove_feed(feeds_file, which)
    except FeedListError as error:
        raise _fail(f"{error} in {feeds_file}") from None
    label = f"{spec.name} ({spec.url})" if spec.name else spec.url
    console.print(
        f"Removed {escape(label)} from {escape(str(feeds_file))}.", highlight=False, soft_wrap=True
    )


@app.command("import")
def import_opml(
    opml_file: Annotated[Path, typer.Argument(metavar="FILE.opml", help="An OPML export.")],
    feeds_file: FeedsFileOption = DEFAULT_FEEDS_FILE,
    db: DbOption = DEFAULT_DB_PATH,  # accepted for uniformity; the list is the file, not the DB
) -> None:
    """Add the feeds of an OPML export (folders become tags); report what was skipped and why."""
    from newsflow.tasks.feeds.feed_list import FeedListError, add_feeds, new_feeds
    from newsflow.tasks.feeds.opml import OpmlError, read_opml

    specs = _load(feeds_file)
    try:
        data = opml_file.read_bytes()
    except OSError as error:
        raise _fail(f"cannot read {opml_file}: {error.strerror}") from None
    try:
        document = read_opml(data)
    except OpmlError as error:
        raise _fail(f"{opml_file}: {error}; nothing imported") from None
    added, skipped = new_feeds(specs, [(feed.line, feed.spec) for feed in document.feeds])
    try:
        add_feeds(feeds_file, added)
    except FeedListError as error:
        raise _fail(f"{error}; nothing imported") from None
    notes = [(p.line, "error" if p.error else "skipped", p.reason) for p in document.problems]
    notes += [(s.line, "skipped", f"{s.url} {s.reason}") for s in skipped]
    for line, kind, reason in sorted(notes):
        where = f"{opml_file}:{line}"
        console.print(f"{escape(where)}: {kind}: {escape(reason)}", highlight=False, soft_wrap=True)
    failed = sum(1 for p in document.problems if p.error)
    console.print(
        f"Imported {escape(str(opml_file))} into {escape(str(feeds_file))}: {len(added)} added,"
        f" {len(notes) - failed} skipped, {failed} errors",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not standard output.")
    ] = None,
    feeds_file: FeedsFileOption = DEFAULT_FEEDS_FILE,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Write the feed list as OPML 2.0 (tags in `category` and as folders) for any feed reader."""
    from newsflow.db.connection import open_existing_db
    from newsflow.tasks.feeds.opml import write_opml

    specs = _load(feeds_file)
    titles: dict[str, str] = {}
    if db.exists():  # feeds the list leaves unnamed are called by the title they last had
        database = open_existing_db(db)
        try:
            rows = database.execute("SELECT url, title FROM feeds WHERE title IS NOT NULL")
            titles = {url: title for url, title in rows.fetchall()}
        finally:
            database.close()
    text = write_opml(specs, title=f"newsflow feeds ({feeds_file.name})", titles=titles)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise _fail(f"--output: cannot write {output}: {error.strerror}") from None
    errors.print(f"Wrote {output} ({len(specs)} feeds)", highlight=False, soft_wrap=True)
