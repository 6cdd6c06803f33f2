"""`newsflow topics`: the topics followed, with what they matched; and the CLI's topic checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlite_utils import Database

from newsflow.db import DEFAULT_DB_PATH, open_existing_db
from newsflow.flows.cli_app import console, fail
from newsflow.tasks.report.topics import TopicError

TopicsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--topics-file",
        help="Topics (TOML) to use instead of <seeds>/topics.toml.",
        show_default=False,
    ),
]


def check_topics_file(path: Path | None, *, seeds: Path) -> None:
    """Refuse a topics file (given, or the seeds folder's) that is missing or does not parse,
    before running (exit 2)."""
    from newsflow.tasks.report.topics import load_topics

    if path is not None and not path.is_file():
        raise fail(f"--topics-file: {path} is not a file")
    try:
        load_topics(path or seeds / "topics.toml")
    except TopicError as error:
        raise fail(f"topics: {error}") from None


def check_topics_ready(db: Path, seeds: Path, topics_file: Path | None) -> None:
    """Check the topics' queries and load their notification blocks before the run starts, so a
    missing block is one line (exit 2), not a failed flow run's traceback."""
    from newsflow.flows.topics import prepare_topics

    try:
        prepare_topics(str(db), str(seeds), str(topics_file) if topics_file else None)
    except TopicError as error:
        raise fail(str(error)) from None


def topic_document_ids(database: Database, name: str) -> list[int]:
    """The documents a stored topic matched, or a one-line error naming the known topics."""
    from newsflow.tasks.report.topics import known_topic, topic_documents

    if not known_topic(database, name):
        names = [row[0] for row in database.execute("SELECT name FROM topics ORDER BY name")]
        known = ", ".join(repr(n) for n in names) or "none yet: a run matches the topics file"
        raise fail(f"--topic: no topic {name!r} (known: {known})")
    return topic_documents(database, name)


def topics(
    db: Annotated[Path, typer.Option("--db", help="SQLite database file.")] = DEFAULT_DB_PATH,
    topics_file: TopicsFileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """The topics followed: matches today, in all, their stories and the last match."""
    from newsflow.tasks.report.topics import load_topics, topic_stats

    path = topics_file or Path("seeds/topics.toml")
    if topics_file is not None and not topics_file.is_file():
        raise fail(f"--topics-file: {topics_file} is not a file")
    try:
        listed = load_topics(path)
    except TopicError as error:
        raise fail(f"--topics-file: {error}") from None
    rows = topic_stats(open_existing_db(db), listed)  # read-only: never creates a database
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print(f"No topics: add [[topics]] to {escape(str(path))}.")
        return
    table = Table("topic", "today", "matches", "stories", "last match", "notify", "query")
    for row in rows:
        state = "" if row["enabled"] else (" (disabled)" if row["in_file"] else " (not in file)")
        notify = row["notify"] or ""
        if row["last_notification"]:
            notify += f" · {row['last_notification']['status']}"
        table.add_row(escape(row["name"] + state), str(row["today"]), str(row["matches"]),
                      str(row["stories"]), row["last_match"] or "", escape(notify),
                      escape(row["query"]))  # fmt: skip
    console.print(table)
