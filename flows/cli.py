"""The `newsflow` command line: the command group, and each command from the module of its kind."""

from __future__ import annotations

import gc

from newsflow.flows.settings import apply_defaults

apply_defaults()  # before anything imports Prefect

from newsflow.flows import read_cli, run_cli, server_cli, topics_cli, tune_cli  # noqa: E402
from newsflow.flows.cli_app import app  # noqa: E402
from newsflow.flows.feeds_cli import app as feeds_app  # noqa: E402

app.command()(run_cli.run)
app.command()(read_cli.digest)
app.command()(tune_cli.dedup)
app.command()(read_cli.search)
app.command()(tune_cli.summarize)
app.command("eval")(tune_cli.evaluate)
app.command()(read_cli.runs)
app.command()(run_cli.serve)
app.command()(read_cli.report)
app.command()(topics_cli.topics)
app.add_typer(feeds_app, name="feeds")
app.add_typer(server_cli.app)


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
