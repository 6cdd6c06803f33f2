"""`newsflow server start|stop|status`: the local Prefect server that `newsflow run` reuses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from newsflow.db import DEFAULT_DB_PATH
from newsflow.flows import local_server

app = typer.Typer(
    name="server",
    help="The local Prefect server that `newsflow run` starts once and reuses.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

# Accepted for uniformity with every other command; the server stores nothing of newsflow's.
DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file (unused here).")]


@app.command()
def start(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Start the local Prefect server now (a run would start it anyway), or show the running one."""
    configured = local_server.configured_api_url()
    if configured:
        console.print(f"PREFECT_API_URL is set ({escape(configured)}): runs use it; none started")
        return
    try:
        record = local_server.ensure()
    except local_server.ServerUnavailable as error:
        errors.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"Local Prefect server: {record.url} (pid {record.pid}, since {record.started_at});"
        f" UI {record.url.removesuffix('/api')}; log {escape(record.log)}",
        highlight=False,
        soft_wrap=True,
    )
    if not local_server.enabled():
        console.print(f"Runs do not use it while {local_server.OPT_OUT}=0.")


@app.command()
def stop(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Stop the local Prefect server that `newsflow run` started (its UI goes with it)."""
    record = local_server.stop()
    if record is None:
        console.print("No local Prefect server running.")
        return
    console.print(f"Stopped the local Prefect server {record.url} (pid {record.pid}).")


@app.command()
def status(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Say where `newsflow run` sends its flow runs, and whether the local server runs."""
    console.print(local_server.status().line, highlight=False, soft_wrap=True)
