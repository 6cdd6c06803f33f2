"""The `newsflow` command group: its options, exit codes and one-line errors, shared by every
command module."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path
from typing import Annotated

from newsflow.flows.settings import apply_defaults

apply_defaults()

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from typer._click.core import Command, Context  # noqa: E402  (typer ships its own click)
from typer.core import TyperGroup  # noqa: E402

from newsflow.db import DEFAULT_DB_PATH, DatabaseProblem  # noqa: E402
from newsflow.tasks.summarise import summarize as summarizer  # noqa: E402


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
